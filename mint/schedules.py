"""The project's periodic tasks, kept as django-q2 schedules by `migrate`.

Each entry is created or brought up to date after every migrate, so a deploy changes a
schedule by changing this list; a schedule an operator added by hand is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    func: str  # dotted path, like enqueued tasks
    minutes: int


SCHEDULES = [
    PeriodicTask("accounts: re-queue lost sync jobs", "accounts.tasks.sync_jobs_recover", minutes=10),
    PeriodicTask(
        "accounts: queue the daily refresh",
        "accounts.tasks.daily_refresh_enqueue",
        minutes=settings.SYNC_DAILY_TICK_MINUTES,
    ),
    PeriodicTask("notifications: send held emails", "notifications.tasks.held_emails_send", minutes=15),
    PeriodicTask("security: delete old sign-in failure counts", "security.tasks.sign_in_failures_prune", minutes=60),
    PeriodicTask(
        "transactions: month partitions ahead", "transactions.tasks.transaction_partitions_ensure", minutes=24 * 60
    ),
]


def schedules_ensure(**kwargs) -> None:
    from django_q.models import Schedule

    for task in SCHEDULES:
        Schedule.objects.update_or_create(
            name=task.name,
            defaults={"func": task.func, "schedule_type": Schedule.MINUTES, "minutes": task.minutes, "repeats": -1},
        )
