import hashlib
import json

from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.http import quote_etag
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from categories.selectors import category_get_by_path
from mint.converters import month_from_query
from mint.db_router import replica_read_path
from mint.http import request_user

from . import selectors, services
from .progress import budget_progress
from .recommendations import budget_recommendations
from .serializers import (
    BudgetChangeInputSerializer,
    BudgetInputSerializer,
    BudgetListOutputSerializer,
    BudgetOutputSerializer,
    BudgetPreferencesSerializer,
    BudgetProgressListOutputSerializer,
    RecommendationAcceptInputSerializer,
    RecommendationListOutputSerializer,
    RecommendationOutputSerializer,
    SpendingOutputSerializer,
    SpendingTrendOutputSerializer,
    spending_representation,
)

SPENDING_STALE_IF_ERROR = 7 * 24 * 3600  # seconds the app may show its last copy when it cannot reach us


class BudgetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Monthly budgets; POST creates or replaces the budget on a category, PUT changes one, DELETE removes it."""

    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    serializer_class = BudgetOutputSerializer

    def get_queryset(self):
        return selectors.budget_list_for_user(user=request_user(self.request))

    @extend_schema(
        request=BudgetInputSerializer,
        responses={
            201: OpenApiResponse(BudgetOutputSerializer, description="Created"),
            200: OpenApiResponse(BudgetOutputSerializer, description="Replaced the category's budget"),
        },
    )
    def create(self, request: Request) -> Response:
        data = BudgetInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        category = category_get_by_path(data.validated_data["category"])
        if category is None:
            raise ValidationError({"category": ["Unknown category."]})
        budget, created = services.budget_set(
            user=request_user(request),
            category=category,
            amount=data.validated_data["amount"],
            approaching_percent=data.validated_data.get("approaching_percent"),
        )
        return Response(
            self.get_serializer(budget).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(request=BudgetChangeInputSerializer, responses=BudgetOutputSerializer)
    def update(self, request: Request, pk: str | None = None) -> Response:
        budget = self.get_object()
        data = BudgetChangeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        budget, _ = services.budget_set(
            user=request_user(request),
            category=budget.category,
            amount=data.validated_data["amount"],
            approaching_percent=data.validated_data.get("approaching_percent"),
        )
        return Response(self.get_serializer(budget).data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.budget_delete(budget=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=BudgetPreferencesSerializer, responses=BudgetPreferencesSerializer)
    @action(detail=False, methods=["get", "put", "patch"])
    def preferences(self, request: Request) -> Response:
        """Monthly income for the recommendations (null: measured) and the default alert level."""
        user = request_user(request)
        if request.method != "GET":
            data = BudgetPreferencesSerializer(data=request.data, partial=request.method == "PATCH")
            data.is_valid(raise_exception=True)
            services.budget_profile_update(user=user, **data.validated_data)
        return Response(BudgetPreferencesSerializer(selectors.budget_profile_for(user=user)).data)

    @extend_schema(responses=RecommendationListOutputSerializer)
    @action(detail=False, methods=["get"])
    def recommendations(self, request: Request) -> Response:
        """A recommended budget per category, each with the rule and months behind it."""
        recommendations = budget_recommendations(user=request_user(request))
        return Response({"results": RecommendationOutputSerializer(recommendations, many=True).data})

    @extend_schema(responses=BudgetProgressListOutputSerializer)
    @action(detail=False, methods=["get"])
    @replica_read_path
    def progress(self, request: Request) -> Response:
        """This month's progress per budget: spent, left, state, last month and the month-end projection."""
        today = timezone.localdate()
        rows = budget_progress(user=request_user(request), today=today)
        body = {"month": today.replace(day=1), "results": rows}
        return Response(BudgetProgressListOutputSerializer(body).data)

    @extend_schema(request=RecommendationAcceptInputSerializer, responses=BudgetListOutputSerializer)
    @action(detail=False, methods=["post"], url_path="recommendations/accept")
    def recommendations_accept(self, request: Request) -> Response:
        """Set the recommended budgets: all of them, or `categories`."""
        data = RecommendationAcceptInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        budgets = services.budget_recommendations_accept(
            user=request_user(request), categories=data.validated_data.get("categories")
        )
        return Response({"results": self.get_serializer(budgets, many=True).data})


class SpendingTrendApi(APIView):
    """GET /api/v1/spending/trend/?end=YYYY-MM: the dashboard's 12 months of spending and income."""

    @extend_schema(
        parameters=[OpenApiParameter("end", str, description="Last month, YYYY-MM (this month by default)")],
        responses=SpendingTrendOutputSerializer,
    )
    @replica_read_path
    def get(self, request: Request) -> Response:
        end = request.query_params.get("end")
        end_month = month_from_query(end) if end else selectors.current_month()
        if end_month is None:
            raise ValidationError({"end": ["Give a month as YYYY-MM."]})
        trend = selectors.spending_trend(user=request_user(request), end_month=end_month)
        return Response(SpendingTrendOutputSerializer({"results": trend}).data)


class SpendingApi(APIView):
    """GET /api/v1/spending/current and /api/v1/spending/YYYY-MM/: the month's spending widget.

    Carries an ETag, so the app revalidates with If-None-Match (304, no body), and may show
    its last copy while offline (stale-if-error).
    """

    @extend_schema(
        parameters=[
            OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER, description="The last ETag"),
            OpenApiParameter("ETag", str, OpenApiParameter.HEADER, response=[200, 304]),
        ],
        responses={
            200: SpendingOutputSerializer,
            304: OpenApiResponse(description="Unchanged since the ETag sent in If-None-Match"),
        },
    )
    @replica_read_path
    def get(self, request: Request, month=None) -> HttpResponseBase:
        summary = selectors.spending_for_month(user=request_user(request), month=month)
        body = json.dumps(spending_representation(summary), separators=(",", ":")).encode()
        etag = quote_etag(hashlib.blake2b(body, digest_size=16).hexdigest())
        response = get_conditional_response(request, etag=etag) or HttpResponse(body, content_type="application/json")
        response["ETag"] = etag
        patch_cache_control(response, private=True, max_age=0, stale_if_error=SPENDING_STALE_IF_ERROR)
        patch_vary_headers(response, ["Accept", "Authorization", "Cookie"])
        return response
