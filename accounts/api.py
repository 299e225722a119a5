from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import APIException, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mint.http import request_user

from . import selectors, services
from .forms import connect_error_field
from .providers.base import ProviderError
from .serializers import AccountOutputSerializer, ConnectInputSerializer


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class ConnectApi(APIView):
    """POST /api/v1/account: link a financial institution (the brief's Accounts API)."""

    def post(self, request: Request) -> Response:
        data = ConnectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        claimed_user = values.get("user_id")
        user = request_user(request)
        if claimed_user is not None and claimed_user not in (str(user.pk), user.username):
            raise PermissionDenied("user_id must be the authenticated user.")
        try:
            connection = services.connection_create(
                user=user,
                url=values["account_url"],
                login=values["account_login"],
                password=values["account_password"],
            )
        except ProviderError as exc:
            raise ValidationError({connect_error_field(exc) or "non_field_errors": [str(exc)]}) from None
        except services.AlreadyLinked as exc:
            raise Conflict(str(exc)) from None
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


class AccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AccountOutputSerializer

    def get_queryset(self):
        return selectors.account_list_for_user(user=request_user(self.request))
