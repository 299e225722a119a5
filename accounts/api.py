from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mint.api import error_body
from mint.http import request_user
from security.models import AuditEvent

from . import selectors, services
from .audit import connection_audit_record
from .forms import connect_error_field, ofx_connect_arguments
from .models import Connection
from .providers.base import ProviderError
from .serializers import (
    AccountOutputSerializer,
    ConnectInputSerializer,
    ConnectionOutputSerializer,
    CredentialsInputSerializer,
    DisconnectInputSerializer,
    InstitutionOutputSerializer,
    LinkedOutputSerializer,
    RefreshTooSoonOutputSerializer,
    SimpleFinConnectInputSerializer,
    SyncJobOutputSerializer,
)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def _provider_error(exc: ProviderError, fields: dict[str | None, str] | None = None) -> ValidationError:
    field = connect_error_field(exc)
    name = (fields or {}).get(field, field) or "non_field_errors"
    return ValidationError({name: [str(exc)]})


def _linked(request: Request, connection: Connection) -> Response:
    user = request_user(request)
    connection_audit_record(
        action=AuditEvent.Action.CONNECTION_LINKED,
        user=user,
        request=request._request,
        connection_id=connection.pk,
        institution=connection.display_name,
    )
    account_ids = list(connection.accounts.order_by("pk").values_list("pk", flat=True))
    body = {
        "user_id": user.pk,
        "account_id": account_ids[0],
        "account_ids": account_ids,
        "connection_id": connection.pk,
        "action": "connect",
        "status": "success",
    }
    return Response(body, status=status.HTTP_201_CREATED)


CONFLICT = OpenApiResponse(description="Already linked")
# The refresh answers: the job to poll (Location), or the one started moments ago (Retry-After).
REFRESH_RESPONSES = {
    202: SyncJobOutputSerializer,
    429: OpenApiResponse(RefreshTooSoonOutputSerializer, description="Refreshed less than a minute ago"),
}
REFRESH_HEADERS = [
    OpenApiParameter("Location", OpenApiTypes.URI, OpenApiParameter.HEADER, response=[202], description="The job"),
    OpenApiParameter("Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER, response=[429], description="Seconds"),
]


class ConnectApi(APIView):
    """POST /api/v1/account: link a bank by OFX Direct Connect (the brief's Accounts API)."""

    @extend_schema(request=ConnectInputSerializer, responses={201: LinkedOutputSerializer, 409: CONFLICT})
    def post(self, request: Request) -> Response:
        data = ConnectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        claimed_user = values.get("user_id")
        user = request_user(request)
        if claimed_user is not None and claimed_user not in (str(user.pk), user.username):
            raise PermissionDenied("user_id must be the authenticated user.")
        try:
            connection = services.connection_create(user=user, **ofx_connect_arguments(values))
        except ProviderError as exc:
            raise _provider_error(exc) from None
        except services.AlreadyLinked as exc:
            raise Conflict(str(exc)) from None
        return _linked(request, connection)


class SimpleFinConnectApi(APIView):
    """POST /api/v1/connections/simplefin: link through a SimpleFIN Bridge setup token."""

    @extend_schema(request=SimpleFinConnectInputSerializer, responses={201: LinkedOutputSerializer, 409: CONFLICT})
    def post(self, request: Request) -> Response:
        data = SimpleFinConnectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = request_user(request)
        try:
            connection = services.simplefin_connection_create(user=user, setup_token=data.validated_data["setup_token"])
        except ProviderError as exc:
            # Whatever went wrong (a used token, a malformed one, an unreachable bridge), it is about the token.
            raise _provider_error(
                exc, {"account_url": "setup_token", "account_password": "setup_token", None: "setup_token"}
            ) from None
        except services.AlreadyLinked as exc:
            raise Conflict(str(exc)) from None
        return _linked(request, connection)


def _job_accepted(request: Request, connection: Connection) -> Response:
    """202 with the job to poll; 429 if the connection was refreshed moments ago."""
    try:
        job, _ = services.connection_refresh(connection=connection)
    except services.RefreshTooSoon as exc:
        body = error_body(str(exc), "throttled", job=SyncJobOutputSerializer(exc.job).data)
        return Response(body, status=status.HTTP_429_TOO_MANY_REQUESTS, headers={"Retry-After": str(exc.retry_after)})
    location = request.build_absolute_uri(reverse("sync-job-detail", kwargs={"pk": job.pk}))
    return Response(SyncJobOutputSerializer(job).data, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


class AccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AccountOutputSerializer

    def get_queryset(self):
        return selectors.account_list_for_user(user=request_user(self.request))

    @extend_schema(
        request=None,
        responses={**REFRESH_RESPONSES, 409: OpenApiResponse(description="A file account: upload a statement")},
        parameters=REFRESH_HEADERS,
    )
    @action(detail=True, methods=["post"])
    def refresh(self, request: Request, pk: str) -> Response:
        """Queue a refresh of the account's connection: 202 with the job to poll."""
        account = self.get_object()
        if account.connection is None:
            raise Conflict("This account is filled from files: upload a new statement to update it.")
        return _job_accepted(request, account.connection)


class ConnectionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The user's links to institutions: status, last sync, balances, the latest job."""

    serializer_class = ConnectionOutputSerializer

    def get_queryset(self):
        return selectors.connection_list_for_user(user=request_user(self.request))

    @extend_schema(parameters=[DisconnectInputSerializer], responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        """Disconnect. `?history=keep` keeps the accounts and transactions; `?history=delete` removes them."""
        connection = self.get_object()
        data = DisconnectInputSerializer(data=request.query_params or request.data)
        data.is_valid(raise_exception=True)
        connection_id, institution = connection.pk, connection.display_name
        services.connection_disconnect(connection=connection, keep_history=data.validated_data["history"] == "keep")
        connection_audit_record(
            action=AuditEvent.Action.CONNECTION_REMOVED,
            user=request_user(request),
            request=request._request,
            connection_id=connection_id,
            institution=institution,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=REFRESH_RESPONSES, parameters=REFRESH_HEADERS)
    @action(detail=True, methods=["post"])
    def refresh(self, request: Request, pk: str) -> Response:
        """Queue a refresh: 202 with the job to poll."""
        return _job_accepted(request, self.get_object())

    @extend_schema(request=CredentialsInputSerializer, responses={202: SyncJobOutputSerializer})
    @action(detail=True, methods=["put"])
    def credentials(self, request: Request, pk: str) -> Response:
        """Re-enter the login after the bank refused it; the history stays. 202 with the sync job."""
        connection = self.get_object()
        data = CredentialsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if connection.provider == Connection.Provider.SIMPLEFIN:
            if not values["setup_token"]:
                raise ValidationError({"setup_token": ["A new setup token is required."]})
        elif not values["login"] or not values["password"]:
            raise ValidationError({"password": ["The login and password are required."]})
        try:
            job = services.connection_credentials_replace(
                connection=connection,
                login=values["login"],
                password=values["password"],
                setup_token=values["setup_token"],
            )
        except ProviderError as exc:
            if connection.provider == Connection.Provider.SIMPLEFIN:
                # As when connecting: every SimpleFIN failure is about the token (there is no password field).
                raise ValidationError({"setup_token": [str(exc)]}) from None
            raise _provider_error(exc, {"account_url": "non_field_errors", "account_password": "password"}) from None
        connection_audit_record(
            action=AuditEvent.Action.CREDENTIALS_REPLACED,
            user=request_user(request),
            request=request._request,
            connection_id=connection.pk,
            institution=connection.display_name,
        )
        return Response(SyncJobOutputSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class SyncJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Refresh jobs: queued, running, done or failed."""

    serializer_class = SyncJobOutputSerializer

    def get_queryset(self):
        return selectors.sync_job_list_for_user(user=request_user(self.request))


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("q", str, description="Part of the institution's name")])
)
class InstitutionViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The institution directory (`?q=` searches names), so an app can offer a list of banks."""

    serializer_class = InstitutionOutputSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        return selectors.institution_search(query=self.request.query_params.get("q", "").strip())
