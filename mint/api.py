"""The API's shared pieces: the v1 router, the exception handler and the 404 for unknown API URLs."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.routers import APIRootView, DefaultRouter
from rest_framework.schemas.inspectors import DefaultSchema
from rest_framework.views import exception_handler as drf_exception_handler


def error_body(detail: str, code: str, **extra: Any) -> dict[str, Any]:
    """Every API error's body: `detail`, one sentence to show the user, and `code`, for programs."""
    return {"detail": detail, "code": code, **extra}


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A URL nothing answers: under /api/ a JSON 404 like every other API error, else the page."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("Not found.", "not_found"), status=404)
    return page_not_found(request, exception)


def exception_handler(exc, context):
    """Every error as `error_body`; services' Django ValidationErrors as DRF's 400, not a 500.

    A validation error keeps its messages by field beside `detail` and `code` (the whole
    request's under `non_field_errors`), so a form can put each one next to its field.
    """
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        exc = exceptions.ValidationError(detail=detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = error_body(_first_message(fields), _first_code(exc.get_codes()), **fields)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        response.data = error_body(str(exc.detail), codes if isinstance(codes, str) else exc.default_code)
    return response


def _first_message(errors: Any) -> str:
    """The first message in DRF's nested errors: a sentence written to be read on its own."""
    if isinstance(errors, dict):
        return _first_message(next(iter(errors.values()), ""))
    if isinstance(errors, list) and errors:
        return _first_message(errors[0])
    return str(errors) if errors else "Invalid input."


def _first_code(codes: Any) -> str:
    if isinstance(codes, dict):
        codes = next(iter(codes.values()), "invalid")
    if isinstance(codes, list):
        codes = codes[0] if codes else "invalid"
    return _first_code(codes) if isinstance(codes, dict | list) else str(codes)


class ApiRootView(APIRootView):
    """The API's entry point: a link to each collection, by name."""

    schema = DefaultSchema()  # DRF leaves the root out of the schema; it is an endpoint like the others

    @extend_schema(responses={200: {"type": "object", "additionalProperties": {"type": "string", "format": "uri"}}})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def build_router() -> DefaultRouter:
    from accounts.api import AccountViewSet, ConnectionViewSet, InstitutionViewSet, SyncJobViewSet
    from budgets.api import BudgetViewSet
    from categories.api import CategoryViewSet, UserRuleViewSet
    from notifications.api import NotificationViewSet
    from security.api import ApiTokenViewSet, AuditEventViewSet
    from transactions.api import TransactionViewSet, UploadViewSet

    router = DefaultRouter()
    router.APIRootView = ApiRootView
    router.trailing_slash = "/?"  # `/api/v1/accounts/7/refresh` as the brief writes it, or with the slash
    router.register("accounts", AccountViewSet, basename="account")
    router.register("connections", ConnectionViewSet, basename="connection")
    router.register("sync-jobs", SyncJobViewSet, basename="sync-job")
    router.register("institutions", InstitutionViewSet, basename="institution")
    router.register("transactions", TransactionViewSet, basename="transaction")
    router.register("imports", UploadViewSet, basename="import")
    router.register("budgets", BudgetViewSet, basename="budget")
    router.register("notifications", NotificationViewSet, basename="notification")
    router.register("categories", CategoryViewSet, basename="category")
    router.register("rules", UserRuleViewSet, basename="rule")
    router.register("tokens", ApiTokenViewSet, basename="api-token")
    router.register("security/events", AuditEventViewSet, basename="audit-event")
    return router
