import datetime as dt

import pytest
from django.utils import timezone

from notifications.models import Notification
from notifications.services import notification_create, notification_email_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def notice(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # queue the email, do not send it yet
        return notification_create(user=user, kind="test", subject="Hello", body="It's here.", dedupe_key="k1")


def test_the_same_key_creates_one_notice(user, notice):
    assert notification_create(user=user, kind="test", subject="Again", body="", dedupe_key="k1") is None
    assert Notification.objects.count() == 1


def test_an_email_is_sent_once_however_often_the_task_runs(notice, mailoutbox):
    assert notification_email_send(notification_id=notice.pk) is True
    assert notification_email_send(notification_id=notice.pk) is False
    assert len(mailoutbox) == 1
    assert mailoutbox[0].body.startswith("Hi ")
    assert "It's here." in mailoutbox[0].body  # plain text is not HTML-escaped


def test_a_claim_held_by_a_running_sender_is_left_alone(notice, mailoutbox):
    Notification.objects.filter(pk=notice.pk).update(email_status="sending", email_claimed_at=timezone.now())
    assert notification_email_send(notification_id=notice.pk) is False
    assert mailoutbox == []


def test_a_claim_abandoned_by_a_dead_sender_is_taken_over(notice, mailoutbox, settings):
    long_ago = timezone.now() - dt.timedelta(seconds=settings.Q_CLUSTER["retry"] + 1)
    Notification.objects.filter(pk=notice.pk).update(email_status="sending", email_claimed_at=long_ago)
    assert notification_email_send(notification_id=notice.pk) is True
    assert len(mailoutbox) == 1
    assert Notification.objects.get(pk=notice.pk).email_status == "sent"
