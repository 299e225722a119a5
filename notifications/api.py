from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from mint.http import request_user

from . import selectors, services
from .serializers import NotificationOutputSerializer, NotificationPreferencesSerializer


class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = NotificationOutputSerializer

    def get_queryset(self):
        return selectors.notification_list_for_user(user=request_user(self.request))

    @extend_schema(request=NotificationPreferencesSerializer, responses=NotificationPreferencesSerializer)
    @action(detail=False, methods=["get", "put", "patch"])
    def preferences(self, request: Request) -> Response:
        """Email on/off, immediate or a daily digest, quiet hours, and the in-app unread count."""
        user = request_user(request)
        if request.method == "GET":
            return Response(NotificationPreferencesSerializer(services.notification_preferences_for(user=user)).data)
        data = NotificationPreferencesSerializer(data=request.data, partial=request.method == "PATCH")
        data.is_valid(raise_exception=True)
        preferences = services.notification_preferences_update(user=user, **data.validated_data)
        return Response(NotificationPreferencesSerializer(preferences).data)

    @extend_schema(request=None, responses=NotificationOutputSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str | None = None) -> Response:
        notification = services.notification_mark_read(notification=self.get_object())
        return Response(self.get_serializer(notification).data)
