"""Reads of connections and accounts, always scoped to their owner."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import Account, Connection


def account_list_for_user(*, user) -> QuerySet[Account]:
    return Account.objects.filter(user=user).select_related("connection", "connection__institution")


def account_get_for_user(*, user, account_id: int) -> Account:
    return get_object_or_404(account_list_for_user(user=user), pk=account_id)


def connection_list_for_user(*, user) -> QuerySet[Connection]:
    return Connection.objects.filter(user=user).select_related("institution").prefetch_related("accounts")
