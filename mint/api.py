"""The API's shared pieces: the v1 router, the exception handler and the 404 for unknown API URLs."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.routers import APIRootView, DefaultRouter
from rest_framework.schemas.inspectors import DefaultSchema
from rest_framework.views import exception_handler as drf_exception_handler


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A URL nothing answers: under /api/ a JSON 404 like every other API error, else the page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


def exception_handler(exc, context):
    """Services raise Django's ValidationError; answer it as DRF's 400, not a 500."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        exc = exceptions.ValidationError(detail=detail)
    return drf_exception_handler(exc, context)


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
