from rest_framework import mixins, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from categories.selectors import category_get_by_path
from mint.http import request_user

from . import selectors, services
from .pagination import TransactionCursorPagination
from .serializers import TransactionCategoryInputSerializer, TransactionFilterSerializer, TransactionOutputSerializer


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

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        data = TransactionCategoryInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        category = category_get_by_path(data.validated_data["category"])
        if category is None:
            raise ValidationError({"category": ["Unknown category."]})
        txn = services.transaction_recategorize(
            txn=self.get_object(),
            category=category,
            always=data.validated_data["always_for_merchant"],
            include_past=data.validated_data["include_past"],
        )
        updated = selectors.transaction_get_for_user(user=request_user(request), txn_id=txn.pk)
        return Response(self.get_serializer(updated).data)
