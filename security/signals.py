"""Sign-ins and sign-outs into the audit log, from Django's own signals: every way in (the sign-in
page, the admin, a test client's login) passes through them."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from mint.models import User

from .models import AuditEvent
from .services import audit_record


@receiver(user_logged_in, dispatch_uid="security.audit_logged_in")
def audit_logged_in(sender, request: HttpRequest | None, user: User, **kwargs) -> None:
    audit_record(action=AuditEvent.Action.LOGIN, user=user, request=request)


@receiver(user_logged_out, dispatch_uid="security.audit_logged_out")
def audit_logged_out(sender, request: HttpRequest | None, user: User | None, **kwargs) -> None:
    if user is not None:
        audit_record(action=AuditEvent.Action.LOGOUT, user=user, request=request)


@receiver(user_login_failed, dispatch_uid="security.audit_login_failed")
def audit_login_failed(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    """Django has already masked the password in `credentials`. The name typed is not recorded:
    people type their password into the name field often enough."""
    username = credentials.get("username")
    user = User._default_manager.filter(username=username).first() if isinstance(username, str) else None
    audit_record(action=AuditEvent.Action.LOGIN_FAILED, user=user, request=request, step="password")
