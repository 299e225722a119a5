"""Request types for views that only run for a logged-in user."""

from __future__ import annotations

from typing import cast

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme
from rest_framework.request import Request

from .models import User


class AuthenticatedHttpRequest(HttpRequest):
    """What a `@login_required` view receives (django-stubs' recommended annotation)."""

    user: User


def request_user(request: Request) -> User:
    """The caller of an API view; the IsAuthenticated default permission guarantees one."""
    return cast(User, request.user)


def safe_next(request: HttpRequest, default: str) -> str:
    """The POSTed `next` address if it stays on this site, else `default` (a URL or a URL name)."""
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return default
