"""Delivery of notices: in-app records and email. Knows nothing of what the notice is about."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from mint.models import User
from mint.tasks import enqueue_on_commit

from .models import Notification, NotificationPreferences

logger = logging.getLogger(__name__)


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
                "subject": subject,
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


def notification_email_send(*, notification_id: int, now: dt.datetime | None = None) -> bool:
    """Send the notice's email; True if this call sent it.

    The claim (PENDING -> SENDING) is a conditional UPDATE, so two deliveries of the task
    never both send. A claim older than the queue's retry window belongs to a worker that
    died (tasks time out before that), so the redelivered task may take it over: the email
    is then sent late rather than never, at the price of a second copy in the rare case
    the dead worker had sent it and not yet recorded so. A user who turned email off gets
    none; one who wants a digest, or is in quiet hours, has it held for `held_emails_send`.
    """
    now = now or timezone.now()
    abandoned = now - dt.timedelta(seconds=settings.Q_CLUSTER["retry"])
    claimable = Q(email_status=Notification.EmailStatus.PENDING) | Q(
        email_status=Notification.EmailStatus.SENDING, email_claimed_at__lt=abandoned
    )
    claimed = Notification.objects.filter(claimable, pk=notification_id).update(
        email_status=Notification.EmailStatus.SENDING, email_claimed_at=now
    )
    if not claimed:
        return False
    notification = Notification.objects.select_related("user").get(pk=notification_id)
    preferences = notification_preferences_for(user=notification.user)
    if not notification.user.email or not preferences.email_enabled:
        _email_status_set([notification_id], Notification.EmailStatus.SKIPPED)
        return False
    if preferences.email_mode == preferences.EmailMode.DIGEST or preferences.is_quiet(timezone.localtime(now).time()):
        _email_status_set([notification_id], Notification.EmailStatus.HELD)
        return False
    _email_deliver(
        [notification_id],
        user=notification.user,
        subject=notification.subject,
        context={"notifications": [notification]},
    )
    return True


def held_emails_send(*, now: dt.datetime | None = None) -> int:
    """Send what was held: a digest once a day (from NOTIFICATION_DIGEST_HOUR), the rest once
    the user's quiet hours are over. Runs on a schedule; returns the emails sent.

    A held send that failed goes back to held for the next run; one whose worker died (its
    claim older than the queue's retry window) is taken over.
    """
    now = now or timezone.now()
    local = timezone.localtime(now)
    abandoned = now - dt.timedelta(seconds=settings.Q_CLUSTER["retry"])
    waiting = Q(email_status=Notification.EmailStatus.HELD) | Q(
        email_status=Notification.EmailStatus.SENDING, email_claimed_at__lt=abandoned, emailed_at__isnull=True
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
                [notice.pk for notice in group],
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
    ids: list[int],
    *,
    user: User,
    subject: str,
    context: dict,
    release_to: str = Notification.EmailStatus.PENDING,
) -> None:
    """Send one email for the claimed notices and record it; on failure release the claim
    to `release_to`, the state the retry picks up (the task's retry, or the next held run)."""
    unsubscribe = settings.SITE_URL.rstrip("/") + reverse(
        "notifications:unsubscribe", kwargs={"token": email_unsubscribe_token(user=user)}
    )
    context = {**context, "user": user, "unsubscribe_url": unsubscribe}
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("notifications/email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    message.attach_alternative(render_to_string("notifications/email.html", context), "text/html")
    try:
        message.send()
    except Exception:
        # Nothing went out: release the claim so the retry can send it.
        _email_status_set(ids, release_to)
        raise
    Notification.objects.filter(pk__in=ids).update(
        email_status=Notification.EmailStatus.SENT, emailed_at=timezone.now()
    )


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
