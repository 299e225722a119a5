"""Delivery of notices: in-app records and email. Knows nothing of what the notice is about."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from mint.tasks import enqueue_on_commit

from .models import Notification

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


def notification_email_send(*, notification_id: int) -> bool:
    """Send the notice's email; True if this call sent it.

    The claim (PENDING -> SENDING) is a conditional UPDATE, so two deliveries of the task
    never both send. A claim older than the queue's retry window belongs to a worker that
    died (tasks time out before that), so the redelivered task may take it over: the email
    is then sent late rather than never, at the price of a second copy in the rare case
    the dead worker had sent it and not yet recorded so.
    """
    now = timezone.now()
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
    if not notification.user.email:
        Notification.objects.filter(pk=notification_id).update(email_status=Notification.EmailStatus.SKIPPED)
        return False
    context = {"notification": notification, "user": notification.user}
    message = EmailMultiAlternatives(
        subject=notification.subject,
        body=render_to_string("notifications/email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.user.email],
    )
    message.attach_alternative(render_to_string("notifications/email.html", context), "text/html")
    try:
        message.send()
    except Exception:
        # Nothing went out: release the claim so the task's retry can send it.
        Notification.objects.filter(pk=notification_id).update(
            email_status=Notification.EmailStatus.PENDING, email_claimed_at=None
        )
        raise
    Notification.objects.filter(pk=notification_id).update(
        email_status=Notification.EmailStatus.SENT, emailed_at=timezone.now()
    )
    return True


def notification_mark_read(*, notification: Notification) -> Notification:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification
