from typing import cast

from django.conf import settings
from django.http import HttpRequest, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.providers.base import ProviderDataError
from accounts.providers.files import CsvMapping
from categories.selectors import category_get_by_path
from mint.db_router import replica_read_path
from mint.downloads import CsvRenderer, csv_streaming_response
from mint.http import request_user

from . import exports, selectors, services
from .models import RawPayload
from .pagination import TransactionCursorPagination
from .serializers import (
    CsvPreviewOutputSerializer,
    TransactionCategoryInputSerializer,
    TransactionFilterSerializer,
    TransactionOutputSerializer,
    UploadConfirmInputSerializer,
    UploadCreatedOutputSerializer,
    UploadImportedOutputSerializer,
    UploadInputSerializer,
    UploadOutputSerializer,
)


@extend_schema_view(list=extend_schema(parameters=[TransactionFilterSerializer]))
class TransactionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The user's transactions, newest first; PATCH `category` is a manual override."""

    serializer_class = TransactionOutputSerializer
    pagination_class = TransactionCursorPagination
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        if self.action != "list":
            return selectors.transaction_list_for_user(user=request_user(self.request))
        filters = TransactionFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.transaction_list_for_user(user=request_user(self.request), **filters.validated_data)

    @replica_read_path
    def list(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=TransactionCategoryInputSerializer, responses=TransactionOutputSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        txn = self.get_object()  # first: another user's transaction is a 404 whatever the body
        data = TransactionCategoryInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        category = category_get_by_path(data.validated_data["category"])
        if category is None:
            raise ValidationError({"category": ["Unknown category."]})
        txn = services.transaction_recategorize(
            txn=txn,
            category=category,
            always=data.validated_data["always_for_merchant"],
            include_past=data.validated_data["include_past"],
        )
        updated = selectors.transaction_get_for_user(user=request_user(request), txn_id=txn.pk)
        return Response(self.get_serializer(updated).data)

    @extend_schema(
        parameters=[TransactionFilterSerializer],
        responses={(200, "text/csv"): OpenApiTypes.STR},
        description="Every transaction the list would return under the same filters (all pages), as CSV.",
    )
    @action(detail=False, methods=["get"], url_path="export", renderer_classes=[CsvRenderer, JSONRenderer])
    def export(self, request: Request, *args: object, **kwargs: object) -> StreamingHttpResponse:
        """`/api/v1/transactions/export.csv?month=2026-11&q=coffee`: the list's filters, streamed as CSV."""
        filters = TransactionFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        export = exports.transaction_export(
            user=request_user(request), filters=filters.validated_data, request=cast(HttpRequest, request)
        )
        return csv_streaming_response(filename=export.filename, header=exports.TRANSACTION_CSV_HEADER, rows=export.rows)


class UploadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Statement files: upload (OFX, QFX, QIF, CSV), preview a CSV's columns, confirm, import.

    POST a file alone to see how it reads (`preview` for CSV), then POST `confirm` with the
    account name and the mapping; or POST the file with `account_name` to import at once.
    """

    serializer_class = UploadOutputSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self):
        return selectors.upload_list_for_user(user=request_user(self.request))

    @extend_schema(
        request={"multipart/form-data": UploadInputSerializer},
        responses={
            201: PolymorphicProxySerializer(
                component_name="UploadCreatedOrImported",
                serializers=[UploadCreatedOutputSerializer, UploadImportedOutputSerializer],
                resource_type_field_name=None,
            )
        },
    )
    def create(self, request: Request) -> Response:
        data = UploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        if upload.size > settings.IMPORT_MAX_BYTES:
            raise ValidationError(
                {"file": [f"The file is larger than {settings.IMPORT_MAX_BYTES // (1024 * 1024)} MB."]}
            )
        payload = services.file_upload(user=request_user(request), raw=upload.read(), filename=upload.name)
        account_name = data.validated_data["account_name"]
        mapping = data.validated_data.get("mapping")
        if account_name and (payload.file_format != "csv" or mapping is not None):
            return self._import(payload, account_name, mapping)
        body = {"upload": UploadOutputSerializer(payload).data, "preview": None}
        if payload.file_format == "csv":
            body["preview"] = CsvPreviewOutputSerializer(services.uploaded_file_preview(payload=payload)).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=UploadConfirmInputSerializer, responses={201: UploadImportedOutputSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str) -> Response:
        """Import the upload into the named account (created if needed), with the CSV mapping given."""
        payload = self.get_object()
        data = UploadConfirmInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._import(payload, data.validated_data["account_name"], data.validated_data.get("mapping"))

    def _import(self, payload: RawPayload, account_name: str, mapping: dict | None) -> Response:
        try:
            csv_mapping = CsvMapping.from_dict(mapping) if mapping is not None else None
        except ProviderDataError as exc:
            raise ValidationError({"mapping": [str(exc)]}) from None
        result = services.uploaded_file_import(payload=payload, account_name=account_name, mapping=csv_mapping)
        payload.refresh_from_db()
        body = {"upload": UploadOutputSerializer(payload).data, "new": result.new, "existing": result.existing}
        return Response(body, status=status.HTTP_201_CREATED)
