"""Reads of connections and accounts, always scoped to their owner."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from mint.models import User

from .models import Account, Connection, Institution, SyncJob


def account_list_for_user(*, user: User) -> QuerySet[Account]:
    return Account.objects.filter(user=user).select_related("connection", "connection__institution")


def connection_list_for_user(*, user: User) -> QuerySet[Connection]:
    """The user's connections with their accounts and latest job, in three queries however many."""
    return (
        Connection.objects.filter(user=user)
        .select_related("institution")
        .prefetch_related(
            Prefetch("accounts", queryset=Account.objects.order_by("name", "id")),
            Prefetch("sync_jobs", queryset=SyncJob.objects.order_by("-created_at", "-id")[:1], to_attr="latest_jobs"),
        )
        .order_by("created_at", "id")
    )


def sync_job_list_for_user(*, user: User) -> QuerySet[SyncJob]:
    return SyncJob.objects.filter(user=user)


def institution_search(*, query: str = "") -> QuerySet[Institution]:
    institutions = Institution.objects.all()
    if query:
        institutions = institutions.filter(name__icontains=query)
    return institutions
