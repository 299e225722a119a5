"""Delivery of notices: in-app records and email. Knows nothing of what the notice is about."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import smtplib
from collections.abc import Sequence
from email.utils import parseaddr

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from mint.models import User
from mint.tasks import enqueue_on_commit

from .models import Notification, NotificationPreferences

logger = logging.getLogger(__name__)


SUBJECT_MAX_LENGTH = Notification._meta.get_field("subject").max_length or 200


def subject_line(text: str) -> str:
    """One line of at most SUBJECT_MAX_LENGTH characters: every run of white space, CR and LF
    included, becomes one space. Subjects can carry bank text (a bank's name, its error), and
    an email header with a line break is refused (BadHeaderError): the notice must still go out.
    """
    return " ".join(text.split())[:SUBJECT_MAX_LENGTH]


def notification_create(
    *, user, kind: str, subject: str, body: str, dedupe_key: str, context: dict | None = None, email: bool = True
) -> Notification | None:
    """Record a notice once per (user, dedupe_key); None if it already exists.

    Runs inside the caller's transaction, so the notice exists exactly when the event
    that caused it committed; the email is queued after that commit.
    """
    with transaction.atomic():
        notification, created = Notification.objects.get_or_create(
            user=user,
            dedupe_key=dedupe_key,
            defaults={
                "kind": kind,
                "subject": subject_line(subject),
                "body": body,
                "context": context or {},
                "email_status": Notification.EmailStatus.PENDING if email else Notification.EmailStatus.SKIPPED,
            },
        )
    if not created:
        return None
    if email:
        enqueue_on_commit("notifications.tasks.notification_email_send", notification.pk)
    return notification


class NotificationEmailBusy(Exception):
    """Another delivery of this email holds a live claim on it.

    Raised, not returned: django-q2 acknowledges a task that succeeds, which would delete the
    queue entry both deliveries share; a failed one comes back after `retry`, to find the email
    sent or the claim abandoned (its worker died) and take it over.
    """


def email_claims_abandoned_before(now: dt.datetime) -> dt.datetime:
    """Claims made before this belong to a sender that died.

    django-q2 stops a task at `timeout` (its guard kills a stuck worker a few seconds later)
    and redelivers it after `retry` (> timeout). Halfway between, a claim's sender is surely
    gone, and the redelivery, which comes `retry` after the worker took the task, finds the
    claim expired and takes it over instead of waiting for the next sweep.
    """
    timeout, retry = settings.Q_CLUSTER["timeout"], settings.Q_CLUSTER["retry"]
    return now - dt.timedelta(seconds=timeout + (retry - timeout) / 2)


def notification_message_id(notifications: Sequence[Notification]) -> str:
    """The email's Message-ID: the same on every attempt to send these notices.

    A copy sent again after a crash (see `notification_email_send`) is then recognisably the
    same message: receiving mail systems and clients drop or merge copies by Message-ID
    (RFC 5322 3.6.4). Derived, not random, so no attempt needs to have stored it; the creation
    times keep two notices with the same id (a rebuilt database) from sharing one.
    """
    notices = sorted(notifications, key=lambda notice: notice.pk)
    key = ",".join(f"{notice.pk}@{notice.created_at.isoformat()}" for notice in notices)
    digest = hashlib.blake2b(key.encode(), digest_size=10).hexdigest()
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return f"<notification.{notices[0].pk}.{digest}@{domain}>"


def notification_email_send(*, notification_id: int, now: dt.datetime | None = None) -> bool:
    """Send the notice's email; True if this call sent it.

    Exactly once where that can be known, and otherwise at least once as one recognisable
    message. Where a sender can die, and what the next attempt does:

    - Before the claim (PENDING -> SENDING, a conditional UPDATE, so two deliveries never
      both send): the queue redelivers the task, or, if the task itself was lost (the process
      that created the notice died between its commit and the enqueue), `held_emails_send`
      picks the notice up as lost. One email.
    - After the claim, before the message is handed to the mail server: the claim expires
      (`email_claims_abandoned_before`) and the redelivery takes it over. `email_attempts` is
      still 0, so nothing can have gone out. One email.
    - After the hand-over (`email_attempts` counted just before it), before SENT is recorded:
      the mail server may have accepted the message (its "250 OK" never reached the dead
      sender, or did and was not recorded) or not (the connection broke mid-way). Nothing on
      this side can tell which: SMTP has no way to ask a server whether it took a message,
      and no order of "send" and "record" closes the gap. Not sending again would lose the
      email in the second case; so it is sent again, as the same message (the same
      Message-ID, `notification_message_id`), which mail systems show once. `email_attempts`
      2 marks such a notice. The window is only the SMTP exchange itself: the connection is
      opened before the hand-over is counted, and SENT is recorded before saying goodbye.

    The alternative, never resending a handed-over email, would trade this possible
    duplicate (recognisable, only on a crash within milliseconds) for a possibly missed alert.
    True exactly-once would need the mail server to answer "did you take this Message-ID?"
    (a journal mailbox to search, say), which plain SMTP does not offer.

    A live claim held by another delivery raises NotificationEmailBusy, so the queue brings
    this delivery back later instead of forgetting it. A user who turned email off gets none;
    one who wants a digest, or is in quiet hours, has it held for `held_emails_send`.
    """
    now = now or timezone.now()
    claimable = Q(email_status=Notification.EmailStatus.PENDING) | Q(
        email_status=Notification.EmailStatus.SENDING, email_claimed_at__lt=email_claims_abandoned_before(now)
    )
    claimed = Notification.objects.filter(claimable, pk=notification_id).update(
        email_status=Notification.EmailStatus.SENDING, email_claimed_at=now
    )
    if not claimed:
        if Notification.objects.filter(pk=notification_id, email_status=Notification.EmailStatus.SENDING).exists():
            raise NotificationEmailBusy(f"Notification {notification_id}'s email is being sent by another worker.")
        return False  # sent, skipped or held already (or the notice is gone)
    notification = Notification.objects.select_related("user").get(pk=notification_id)
    preferences = notification_preferences_for(user=notification.user)
    if not notification.user.email or not preferences.email_enabled:
        _email_status_set([notification_id], Notification.EmailStatus.SKIPPED)
        return False
    if preferences.email_mode == preferences.EmailMode.DIGEST or preferences.is_quiet(timezone.localtime(now).time()):
        _email_status_set([notification_id], Notification.EmailStatus.HELD)
        return False
    _email_deliver(
        [notification],
        user=notification.user,
        subject=notification.subject,
        context={"notifications": [notification]},
    )
    return True


def held_emails_send(*, now: dt.datetime | None = None) -> int:
    """Send what was held: a digest once a day (from NOTIFICATION_DIGEST_HOUR), the rest once
    the user's quiet hours are over. Runs on a schedule; returns the emails sent.

    A held send that failed goes back to held for the next run; one whose worker died (its
    claim abandoned) is taken over. So is a pending email whose task was lost: the process
    that created the notice died between its commit and the enqueue (or the enqueue failed),
    and nothing else would ever send it. Older than the queue's retry window, so the task, if
    it exists after all, had its turn; were both to try, the claim lets only one send.
    """
    now = now or timezone.now()
    local = timezone.localtime(now)
    lost_before = now - dt.timedelta(seconds=settings.Q_CLUSTER["retry"])
    waiting = (
        Q(email_status=Notification.EmailStatus.HELD)
        | Q(
            email_status=Notification.EmailStatus.SENDING,
            email_claimed_at__lt=email_claims_abandoned_before(now),
            emailed_at__isnull=True,
        )
        | Q(email_status=Notification.EmailStatus.PENDING, created_at__lt=lost_before)
    )
    digest_time = local.replace(hour=settings.NOTIFICATION_DIGEST_HOUR, minute=0, second=0, microsecond=0)
    sent = 0
    user_ids = set(Notification.objects.filter(waiting).values_list("user_id", flat=True))
    saved = {prefs.user_id: prefs for prefs in NotificationPreferences.objects.filter(user_id__in=user_ids)}
    for user in User.objects.filter(pk__in=user_ids).order_by("pk"):
        preferences = saved.get(user.pk) or NotificationPreferences(user=user)
        if preferences.is_quiet(local.time()):
            continue
        digest = preferences.email_mode == preferences.EmailMode.DIGEST
        if digest and (
            local < digest_time or (preferences.last_digest_at and preferences.last_digest_at >= digest_time)
        ):
            continue  # before today's digest hour, or today's digest went out already
        if not preferences.email_enabled or not user.email:
            Notification.objects.filter(waiting, user=user).update(email_status=Notification.EmailStatus.SKIPPED)
            continue
        # The same claim as a single send: only rows still waiting are taken.
        claimed = Notification.objects.filter(waiting, user=user).update(
            email_status=Notification.EmailStatus.SENDING, email_claimed_at=now
        )
        if not claimed:
            continue
        notices = list(
            Notification.objects.filter(
                user=user, email_status=Notification.EmailStatus.SENDING, email_claimed_at=now
            ).order_by("created_at", "pk")
        )
        if digest:
            NotificationPreferences.objects.filter(pk=preferences.pk).update(last_digest_at=now)
        for group in [notices] if digest else [[notice] for notice in notices]:
            subject = group[0].subject if len(group) == 1 else f"Mint: {len(group)} notices for you"
            _email_deliver(
                group,
                user=user,
                subject=subject,
                context={"notifications": group},
                release_to=Notification.EmailStatus.HELD,
            )
            sent += 1
    return sent


def _email_status_set(ids: list[int], status: str) -> None:
    Notification.objects.filter(pk__in=ids).update(email_status=status, email_claimed_at=None)


def _email_deliver(
    notices: list[Notification],
    *,
    user: User,
    subject: str,
    context: dict,
    release_to: str = Notification.EmailStatus.PENDING,
) -> None:
    """Send one email for the claimed notices and record it; on failure release the claim
    to `release_to`, the state the retry picks up (the task's retry, or the next held run).

    The hand-over is counted in `email_attempts` once the mail server is connected and just
    before the message goes to it, and SENT is recorded before the connection is closed: the
    window in which a crash leaves "was it sent?" open is only the SMTP exchange itself.
    """
    ids = [notice.pk for notice in notices]
    unsubscribe = settings.SITE_URL.rstrip("/") + reverse(
        "notifications:unsubscribe", kwargs={"token": email_unsubscribe_token(user=user)}
    )
    context = {**context, "user": user, "unsubscribe_url": unsubscribe}
    message = EmailMultiAlternatives(
        subject=subject_line(subject),
        body=render_to_string("notifications/email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={
            "Message-ID": notification_message_id(notices),
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(render_to_string("notifications/email.html", context), "text/html")
    if any(notice.email_attempts for notice in notices):
        logger.warning(
            "notifications %s: an earlier send died after handing the email over; sending it again "
            "with the same Message-ID, in case it never arrived",
            ids,
        )
    connection = get_connection()
    try:
        connection.open()
        Notification.objects.filter(pk__in=ids).update(email_attempts=F("email_attempts") + 1)
        connection.send_messages([message])
    except Exception:
        # Refused, or cut off before the server said it took the message: release the claim so
        # the retry can send it (again, as the same message, if it had been handed over).
        with contextlib.suppress(smtplib.SMTPException, OSError):
            connection.close()
        _email_status_set(ids, release_to)
        raise
    Notification.objects.filter(pk__in=ids).update(
        email_status=Notification.EmailStatus.SENT, emailed_at=timezone.now()
    )
    # The server has the message and it is recorded: a failed goodbye changes nothing.
    with contextlib.suppress(smtplib.SMTPException, OSError):
        connection.close()


def notification_preferences_for(*, user: User) -> NotificationPreferences:
    """The user's preferences; the defaults (unsaved) when they never changed any."""
    preferences = NotificationPreferences.objects.filter(user=user).first()
    return preferences or NotificationPreferences(user=user)


def notification_preferences_update(*, user: User, **fields: object) -> NotificationPreferences:
    preferences = notification_preferences_for(user=user)
    for name, value in fields.items():
        setattr(preferences, name, value)
    preferences.full_clean()
    preferences.save()
    return preferences


UNSUBSCRIBE_SALT = "notifications.unsubscribe"


def email_unsubscribe_token(*, user: User) -> str:
    """A signed token that turns this user's email off, for the link in every email."""
    return signing.dumps(user.pk, salt=UNSUBSCRIBE_SALT, compress=True)


def email_unsubscribe(*, token: str) -> User:
    """Turn email off for the token's user; raises signing.BadSignature for a forged token."""
    user_id = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    user = User.objects.get(pk=user_id)
    notification_preferences_update(user=user, email_enabled=False)
    return user


def notification_mark_read(*, notification: Notification) -> Notification:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification
