"""The API for a user's API tokens and audit log: thin views over security.services and selectors."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mint.http import request_user

from . import selectors, services
from .forms import LimitedPasswordChangeForm
from .models import ApiToken, AuditEvent
from .serializers import (
    ApiTokenCreatedOutputSerializer,
    ApiTokenCreateInputSerializer,
    ApiTokenOutputSerializer,
    AuditEventOutputSerializer,
    PasswordChangeInputSerializer,
)


class ApiTokenCreateApi(APIView):
    """POST /api/v1/auth/token/: username and password in, a new token out: `{"token": "<key>", ...}`.

    Each call makes a new token (one per device; name it with `name`), so signing in on a second
    phone does not sign the first one out. The key is in this answer only.
    """

    # Credentials are the body: a stale token or a session (and its CSRF check) must not stand in the way.
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=ApiTokenCreateInputSerializer,
        responses={
            200: ApiTokenCreatedOutputSerializer,
            429: OpenApiResponse(
                response=inline_serializer("SignInBlocked", {"detail": serializers.CharField()}),
                description="Too many failed sign-ins for this account or address: retry after Retry-After seconds",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = ApiTokenCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        # Within the sign-in limits (429 past them), and with `otp` for a user with two-factor sign-in;
        # a wrong password answers as DRF's obtain_auth_token did, in the same place.
        try:
            signed_in = services.sign_in_for_api_token(
                request=request._request,
                username=values["username"],
                password=values["password"],
                code=values.get("otp") or "",
            )
        except services.SignInBlocked as blocked:
            raise Throttled(wait=blocked.retry_after, detail=blocked.message) from None
        if signed_in.user is None:
            raise ValidationError({signed_in.field: [signed_in.error]})
        days = values.get("expires_in_days")
        new = services.api_token_create(
            user=signed_in.user,
            name=values.get("name") or values.get("device") or "",
            expires_at=timezone.now() + dt.timedelta(days=days) if days else None,
            request=request._request,
        )
        body = ApiTokenCreatedOutputSerializer(new.token, context={"request": request, "key": new.key}).data
        return Response(body, status=status.HTTP_200_OK)


class ApiTokenLogoutApi(APIView):
    """POST /api/v1/auth/logout/: revoke the token this request was made with. 204."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        if not isinstance(request.auth, ApiToken):
            raise ValidationError({"non_field_errors": ["This request was not made with an API token."]})
        services.api_token_revoke(token=request.auth, request=request._request, reason="signed out")
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeApi(APIView):
    """POST /api/v1/me/password: the current password and a new one.

    As on the web page: the old password is checked within the sign-in limits and the new one
    against the password validators, and every API token is revoked. The answer carries a new
    token for the calling app, so the one that changed the password stays signed in.
    """

    @extend_schema(request=PasswordChangeInputSerializer, responses={200: ApiTokenCreatedOutputSerializer})
    def post(self, request: Request) -> Response:
        data = PasswordChangeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = request_user(request)
        new_password = data.validated_data["new_password"]
        form = LimitedPasswordChangeForm(
            user,
            {
                "old_password": data.validated_data["old_password"],
                "new_password1": new_password,
                "new_password2": new_password,
            },
            request=request._request,
        )
        if not form.is_valid():
            errors = form.errors.get_json_data()
            raise ValidationError(
                {
                    ("new_password" if field.startswith("new_password") else field): [e["message"] for e in messages]
                    for field, messages in errors.items()
                }
            )
        name = request.auth.name if isinstance(request.auth, ApiToken) else ""
        with transaction.atomic():
            form.save()
            services.password_changed(user=user, request=request._request)
            new = services.api_token_create(user=user, name=name, request=request._request)
        return Response(ApiTokenCreatedOutputSerializer(new.token, context={"request": request, "key": new.key}).data)


class ApiTokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """The caller's API tokens (`current` marks the one in use); DELETE revokes one at once."""

    serializer_class = ApiTokenOutputSerializer

    def get_queryset(self) -> QuerySet[ApiToken]:
        return selectors.api_token_list_for_user(user=request_user(self.request))

    def perform_destroy(self, instance: ApiToken) -> None:
        services.api_token_revoke(token=instance, request=self.request._request)


class AuditEventViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's security events, newest first: sign-ins, tokens, bank links, exports."""

    serializer_class = AuditEventOutputSerializer

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return selectors.audit_event_list_for_user(user=request_user(self.request))
