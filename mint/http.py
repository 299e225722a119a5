"""Request types for views that only run for a logged-in user."""

from __future__ import annotations

from typing import cast

from django.http import HttpRequest
from rest_framework.request import Request

from .models import User


class AuthenticatedHttpRequest(HttpRequest):
    """What a `@login_required` view receives (django-stubs' recommended annotation)."""

    user: User


def request_user(request: Request) -> User:
    """The caller of an API view; the IsAuthenticated default permission guarantees one."""
    return cast(User, request.user)
