"""Queueing work for the django-q2 cluster."""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django_q.tasks import async_task


def enqueue_on_commit(func_path: str, *args: object) -> None:
    """Queue `func_path(*args)` once the current database transaction commits.

    Tasks are named by dotted path so a lower app can start work in a higher one
    without importing it, and take ids (never model instances or secrets: django-q2
    stores arguments). With TASKS_SYNC=1 the task runs inline at commit.
    """
    transaction.on_commit(partial(async_task, func_path, *args))
