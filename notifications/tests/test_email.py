import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from notifications.models import Notification
from notifications.selectors import notification_unread_count
from notifications.services import (
    NotificationEmailBusy,
    email_unsubscribe_token,
    held_emails_send,
    notification_create,
    notification_email_send,
    notification_message_id,
    notification_preferences_for,
    notification_preferences_update,
)

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


def test_a_claim_held_by_a_running_sender_is_left_alone_and_the_task_comes_back(notice, mailoutbox):
    Notification.objects.filter(pk=notice.pk).update(email_status="sending", email_claimed_at=timezone.now())
    # Failing keeps the queue entry: the broker redelivers it, to find the email sent or the claim abandoned.
    with pytest.raises(NotificationEmailBusy):
        notification_email_send(notification_id=notice.pk)
    assert mailoutbox == []


def test_the_redelivery_takes_over_the_claim_of_a_worker_that_died(notice, mailoutbox, settings):
    """The broker redelivers `retry` seconds after the worker *took* the task, a moment before it
    claimed the email: the claim must count as abandoned by then, not be waited on for the next sweep."""
    claimed_at = timezone.now() - dt.timedelta(seconds=settings.Q_CLUSTER["retry"] - 1)
    Notification.objects.filter(pk=notice.pk).update(email_status="sending", email_claimed_at=claimed_at)
    assert notification_email_send(notification_id=notice.pk) is True
    assert len(mailoutbox) == 1


def test_every_attempt_of_one_notice_carries_the_same_message_id(notice, mailoutbox):
    """A resend after a crash in the SMTP exchange is recognisably the same message."""
    Notification.objects.filter(pk=notice.pk).update(email_status="sending", email_attempts=1)  # handed over, died
    notice.refresh_from_db()
    Notification.objects.filter(pk=notice.pk).update(email_claimed_at=timezone.now() - dt.timedelta(days=1))
    assert notification_email_send(notification_id=notice.pk) is True
    [message] = mailoutbox
    assert message.message()["Message-ID"] == notification_message_id([notice])
    assert message.message()["Message-ID"].endswith("@localhost>")
    assert Notification.objects.values_list("email_status", "email_attempts").get(pk=notice.pk) == ("sent", 2)


def test_a_pending_email_whose_task_was_lost_is_sent_by_the_sweep(notice, mailoutbox, settings):
    later = timezone.now() + dt.timedelta(seconds=settings.Q_CLUSTER["retry"] + 1)
    assert held_emails_send(now=timezone.now()) == 0  # too young: its task may still be queued
    assert held_emails_send(now=later) == 1
    assert notification_email_send(notification_id=notice.pk) is False  # the task, had it survived
    assert len(mailoutbox) == 1


def test_a_claim_abandoned_by_a_dead_sender_is_taken_over(notice, mailoutbox, settings):
    long_ago = timezone.now() - dt.timedelta(seconds=settings.Q_CLUSTER["retry"] + 1)
    Notification.objects.filter(pk=notice.pk).update(email_status="sending", email_claimed_at=long_ago)
    assert notification_email_send(notification_id=notice.pk) is True
    assert len(mailoutbox) == 1
    assert Notification.objects.get(pk=notice.pk).email_status == "sent"


def test_every_email_has_a_working_unsubscribe_link(user, notice, mailoutbox, client):
    notification_email_send(notification_id=notice.pk)
    [message] = mailoutbox
    url = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert url in message.body
    assert url in message.alternatives[0][0]
    path = url.removeprefix(settings.SITE_URL.rstrip("/"))

    assert client.get(path).status_code == 200  # a page with a button: a link scanner changes nothing
    assert notification_preferences_for(user=user).email_enabled is True
    assert client.post(path).status_code == 200  # no login needed
    assert notification_preferences_for(user=user).email_enabled is False

    later = notification_create(user=user, kind="test", subject="Later", body="", dedupe_key="k2")
    assert later is not None
    assert notification_email_send(notification_id=later.pk) is False
    assert len(mailoutbox) == 1


def test_a_forged_unsubscribe_token_is_a_404(user, client):
    token = email_unsubscribe_token(user=user)
    assert client.post(f"/notifications/unsubscribe/{token[:-2]}xx/").status_code == 404
    assert notification_preferences_for(user=user).email_enabled is True


def test_digest_mode_holds_emails_and_sends_one_digest_from_the_digest_hour(
    user, mailoutbox, settings, django_capture_on_commit_callbacks
):
    notification_preferences_update(user=user, email_mode="digest")
    with django_capture_on_commit_callbacks(execute=True):
        first = notification_create(user=user, kind="test", subject="First", body="One.", dedupe_key="d1")
        second = notification_create(user=user, kind="test", subject="Second", body="Two.", dedupe_key="d2")
    assert first is not None
    assert second is not None
    assert mailoutbox == []
    assert set(Notification.objects.values_list("email_status", flat=True)) == {"held"}

    early = dt.datetime(2026, 11, 21, settings.NOTIFICATION_DIGEST_HOUR - 1, 30, tzinfo=timezone.get_current_timezone())
    assert held_emails_send(now=early) == 0
    on_time = early + dt.timedelta(hours=1)
    assert held_emails_send(now=on_time) == 1
    assert held_emails_send(now=on_time) == 0  # a second run finds nothing held
    [digest] = mailoutbox
    assert digest.subject == "Mint: 2 notices for you"
    assert "One." in digest.body
    assert "Two." in digest.body
    assert {first.pk, second.pk} == set(Notification.objects.filter(email_status="sent").values_list("pk", flat=True))


def test_quiet_hours_hold_an_email_until_they_end(user, mailoutbox):
    notification_preferences_update(user=user, quiet_start=dt.time(22, 0), quiet_end=dt.time(7, 0))
    night = dt.datetime(2026, 11, 21, 23, 15, tzinfo=timezone.get_current_timezone())
    with_quiet = notification_create(
        user=user, kind="test", subject="Late", body="At night.", dedupe_key="q1", email=False
    )
    assert with_quiet is not None
    Notification.objects.filter(pk=with_quiet.pk).update(email_status="pending")
    assert notification_email_send(notification_id=with_quiet.pk, now=night) is False
    assert held_emails_send(now=night + dt.timedelta(hours=2)) == 0  # 01:15, still quiet
    assert held_emails_send(now=night + dt.timedelta(hours=8)) == 1  # 07:15
    assert [message.subject for message in mailoutbox] == ["Late"]


def test_email_turned_off_sends_nothing(user, mailoutbox, django_capture_on_commit_callbacks):
    notification_preferences_update(user=user, email_enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        notification_create(user=user, kind="test", subject="Hello", body="", dedupe_key="off")
    assert mailoutbox == []
    assert Notification.objects.get().email_status == "skipped"


def test_preferences_page_saves_and_checks_quiet_hours(user, client):
    client.force_login(user)
    response = client.post("/notifications/settings/", {"email_mode": "immediate", "quiet_start": "22:00"})
    assert response.status_code == 200
    assert "both ends of the quiet hours" in response.content.decode()
    client.post(
        "/notifications/settings/",
        {"email_enabled": "on", "email_mode": "digest", "quiet_start": "22:00", "quiet_end": "07:00"},
    )
    preferences = notification_preferences_for(user=user)
    assert (preferences.email_mode, preferences.quiet_start, preferences.in_app_enabled) == (
        "digest",
        dt.time(22, 0),
        False,
    )


def test_the_unread_count_can_be_turned_off(user):
    notification_create(user=user, kind="test", subject="Hello", body="", dedupe_key="u1", email=False)
    assert notification_unread_count(user=user) == 1
    notification_preferences_update(user=user, in_app_enabled=False)
    assert notification_unread_count(user=user) == 0


def test_preferences_api(user_client):
    assert user_client.get("/api/v1/notifications/preferences/").json() == {
        "email_enabled": True,
        "in_app_enabled": True,
        "email_mode": "immediate",
        "quiet_start": None,
        "quiet_end": None,
    }
    changed = user_client.patch(
        "/api/v1/notifications/preferences/", {"quiet_start": "22:00", "quiet_end": "07:00"}, format="json"
    )
    assert (changed.json()["quiet_start"], changed.json()["email_mode"]) == ("22:00:00", "immediate")
    bad = user_client.patch("/api/v1/notifications/preferences/", {"quiet_start": "22:00"}, format="json")
    assert bad.status_code == 400
    assert (
        user_client.patch("/api/v1/notifications/preferences/", {"email_mode": "hourly"}, format="json").status_code
        == 400
    )


def test_migrate_schedules_the_held_email_sender():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(func="notifications.tasks.held_emails_send")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 15, -1)


def test_a_failed_send_is_released_for_the_retry_and_ingestion_is_not_blocked(user, notice, settings, mailoutbox):
    import socket

    with socket.socket() as sock:  # a port where no mail server listens: a real refused connection
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port, 2
    with pytest.raises(ConnectionRefusedError):
        notification_email_send(notification_id=notice.pk)  # the task fails; django-q2 retries it
    notice.refresh_from_db()
    assert notice.email_status == "pending"

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notification_email_send(notification_id=notice.pk) is True  # the retry
    assert len(mailoutbox) == 1


def _held(user, key):
    notice = notification_create(user=user, kind="test", subject=key, body=key, dedupe_key=key, email=False)
    assert notice is not None
    Notification.objects.filter(pk=notice.pk).update(email_status="held")
    return notice


def test_the_digest_goes_out_once_a_day(user, mailoutbox, settings):
    notification_preferences_update(user=user, email_mode="digest")
    _held(user, "one")
    digest_hour = dt.datetime(2026, 11, 21, settings.NOTIFICATION_DIGEST_HOUR, tzinfo=timezone.get_current_timezone())
    assert held_emails_send(now=digest_hour) == 1
    _held(user, "two")  # later that day: for tomorrow's digest
    assert held_emails_send(now=digest_hour + dt.timedelta(hours=2)) == 0
    assert held_emails_send(now=digest_hour + dt.timedelta(days=1)) == 1
    assert len(mailoutbox) == 2


def test_a_held_email_that_failed_to_send_is_sent_by_the_next_run(user, settings, mailoutbox):
    import socket

    notice = _held(user, "held-one")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port, 2
    noon = dt.datetime(2026, 11, 21, 12, tzinfo=timezone.get_current_timezone())
    with pytest.raises(ConnectionRefusedError):
        held_emails_send(now=noon)
    assert Notification.objects.get(pk=notice.pk).email_status == "held"

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert held_emails_send(now=noon + dt.timedelta(minutes=15)) == 1
    assert len(mailoutbox) == 1
