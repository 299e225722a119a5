"""Audit events for linking, re-keying and removing a connection, recorded by the page and API
views once the service succeeded (the view has the request: address and browser)."""

from __future__ import annotations

from django.http import HttpRequest

from mint.models import User
from security.services import audit_record


def connection_audit_record(
    *, action: str, user: User, request: HttpRequest, connection_id: int | None, institution: str
) -> None:
    """The connection's id and institution name: never the login, password or setup token."""
    audit_record(action=action, user=user, request=request, connection_id=connection_id, institution=institution)
