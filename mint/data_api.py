"""The API for a user's data as a whole: GET /api/v1/me/export (zip), POST /api/v1/me/delete."""

from __future__ import annotations

from typing import cast

from django.http import FileResponse, HttpRequest
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .data_views import user_data_download
from .downloads import ZipRenderer
from .http import request_user
from .user_data import user_delete


class UserDataExportApi(APIView):
    """Everything of the caller's as a zip of CSV files (accounts, connections without any
    credentials, transactions, budgets, rules, notifications, monthly spending, uploads)."""

    renderer_classes = [ZipRenderer, JSONRenderer]

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request: Request, *args: object, **kwargs: object) -> FileResponse:
        return user_data_download(request=cast(HttpRequest, request))


class AccountDeleteInputSerializer(serializers.Serializer):
    password = serializers.CharField(trim_whitespace=False, help_text="The caller's password, entered again")


class UserDeleteApi(APIView):
    """Delete the caller's account and all their data, for good. The password confirms it."""

    @extend_schema(request=AccountDeleteInputSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        data = AccountDeleteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user_delete(
            user=request_user(request), password=data.validated_data["password"], request=cast(HttpRequest, request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
