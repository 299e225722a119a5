"""Reads of a user's own security rows: their API tokens and their audit log."""

from __future__ import annotations

from django.db.models import QuerySet

from mint.models import User

from .models import ApiToken, AuditEvent


def api_token_list_for_user(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


def audit_event_list_for_user(*, user: User) -> QuerySet[AuditEvent]:
    """Newest first (the model's ordering), on the (user, -at) index."""
    return AuditEvent.objects.filter(user=user)
