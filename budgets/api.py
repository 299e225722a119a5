from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from categories.selectors import category_get_by_path
from mint.http import request_user

from . import selectors, services
from .serializers import BudgetInputSerializer, BudgetOutputSerializer, SpendingOutputSerializer


class BudgetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Monthly budgets; POST creates or replaces the budget on a category."""

    serializer_class = BudgetOutputSerializer

    def get_queryset(self):
        return selectors.budget_list_for_user(user=request_user(self.request))

    def create(self, request: Request) -> Response:
        data = BudgetInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        category = category_get_by_path(data.validated_data["category"])
        if category is None:
            raise ValidationError({"category": ["Unknown category."]})
        budget, created = services.budget_set(
            user=request_user(request), category=category, amount=data.validated_data["amount"]
        )
        return Response(
            self.get_serializer(budget).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class SpendingApi(APIView):
    """GET /api/v1/spending/current and /api/v1/spending/YYYY-MM/: the month's spending widget."""

    def get(self, request: Request, month=None) -> Response:
        spending = selectors.spending_for_month(user=request_user(request), month=month)
        return Response(SpendingOutputSerializer(spending).data)
