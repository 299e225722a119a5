from __future__ import annotations

import contextlib
import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils import timezone

from .api import error_body
from .services import user_mark_active

logger = logging.getLogger("mint.fallback")

UNAVAILABLE = "The service is briefly unavailable. Please try again in a moment."


class DatabaseUnavailableMiddleware:
    """A database that cannot be reached is a 503 with a plain message, never a stack trace."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("database unavailable: %s", exception.__class__.__name__)
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse(error_body(UNAVAILABLE, "unavailable"), status=503)
        else:
            # Rendered without the request: its context (the user, unread notices) needs the database.
            response = HttpResponse(render_to_string("503.html", {"message": UNAVAILABLE}), status=503)
        response["Retry-After"] = "30"
        return response


class UserActivityMiddleware:
    """Marks the user active for the day, whether they came by session or by API token.

    Runs after the view, where DRF has set the token's user on the request too.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        # While the database is down the answer came from a cache; marking the user can wait.
        with contextlib.suppress(OperationalError, InterfaceError):
            if user is not None and user.is_authenticated and response.status_code < 500:
                user_mark_active(user_id=user.pk, today=timezone.localdate())
        return response


# Scripts, styles and images only from this site (static files served by whitenoise): markup
# injected through bank text could run nothing even if it slipped past escaping.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeadersMiddleware:
    """A Content-Security-Policy on every response, and no-store on API answers that set no caching.

    The spending widget sets its own Cache-Control (revalidation with an ETag, a stale copy
    when the server fails) so the mobile app can show the last answer offline; every other
    API answer holds money data that no cache between here and the app should keep.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if request.path.startswith("/api/") and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response
