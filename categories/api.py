from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from mint.http import request_user

from . import selectors, services
from .serializers import CategoryOutputSerializer, UserRuleInputSerializer, UserRuleOutputSerializer


class CategoryViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The category tree (the same for everyone): what a transaction or budget can be put in."""

    serializer_class = CategoryOutputSerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.category_list()


class UserRuleViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """The user's "always put this merchant in this category" rules.

    A rule is created from a transaction: PATCH /api/v1/transactions/{id}/ with
    `always_for_merchant`. Here it can be read, moved to another category, or deleted.
    """

    serializer_class = UserRuleOutputSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.user_rule_list_for_user(user=request_user(self.request))

    @extend_schema(request=UserRuleInputSerializer, responses=UserRuleOutputSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        rule = self.get_object()  # first: another user's rule is a 404 whatever the body
        data = UserRuleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        category = selectors.category_get_by_path(data.validated_data["category"])
        if category is None:
            raise ValidationError({"category": ["Unknown category."]})
        updated = services.user_rule_set(
            user_id=rule.user_id, merchant_key=rule.merchant_key, merchant_name=rule.merchant_name, category=category
        )
        return Response(self.get_serializer(updated).data)

    def perform_destroy(self, instance) -> None:
        services.user_rule_delete(rule=instance)
