"""Reads of connections and accounts, always scoped to their owner."""

from __future__ import annotations

from django.db.models import QuerySet

from mint.models import User

from .models import Account


def account_list_for_user(*, user: User) -> QuerySet[Account]:
    return Account.objects.filter(user=user).select_related("connection", "connection__institution")
