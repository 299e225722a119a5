"""Queueing work for the django-q2 cluster."""

from __future__ import annotations

import datetime as dt
from functools import partial

from django.db import transaction
from django_q.models import Schedule
from django_q.tasks import async_task, schedule


def enqueue_on_commit(func_path: str, *args: object) -> None:
    """Queue `func_path(*args)` once the current database transaction commits.

    Tasks are named by dotted path so a lower app can start work in a higher one
    without importing it, and take ids (never model instances or secrets: django-q2
    stores arguments). With TASKS_SYNC=1 the task runs inline at commit.
    """
    transaction.on_commit(partial(async_task, func_path, *args))


def schedule_once(func_path: str, *args: object, at: dt.datetime) -> None:
    """Run `func_path(*args)` once at `at` (a retry after a backoff delay).

    A django-q2 schedule row, written in the current transaction: if it rolls back, no
    retry is left behind. The scheduler deletes the row after queueing the task.
    """
    schedule(func_path, *args, schedule_type=Schedule.ONCE, next_run=at)
