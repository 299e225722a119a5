"""The API's shared pieces: the v1 router and the exception handler."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.routers import DefaultRouter
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """Services raise Django's ValidationError; answer it as DRF's 400, not a 500."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        exc = exceptions.ValidationError(detail=detail)
    return drf_exception_handler(exc, context)


def build_router() -> DefaultRouter:
    from accounts.api import AccountViewSet, ConnectionViewSet, InstitutionViewSet, SyncJobViewSet
    from budgets.api import BudgetViewSet
    from categories.api import CategoryViewSet, UserRuleViewSet
    from notifications.api import NotificationViewSet
    from transactions.api import TransactionViewSet, UploadViewSet

    router = DefaultRouter()
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
    return router
