"""The OpenAPI schema's project-wide piece: the error answers every operation can give.

drf-spectacular documents what a view returns when it succeeds; the errors come from DRF and
our middleware whatever the view, so they are added here, once, from what the view declares:
its authentication (401), permissions (403), path parameters and page numbers (404), request
body and query parameters (400, 415), and the database-down answer of every API route (503).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent, get_view_model
from rest_framework import ISO_8601, permissions, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.settings import api_settings

MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error: `detail` to show the user, `code` for programs (mint.api.error_body).",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "required": ["detail", "code"],
}
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": "`detail` (the first problem) and `code`, and every message by field name, nested for "
    "nested fields (`non_field_errors` for the request as a whole).",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "required": ["detail", "code"],
    "additionalProperties": {},
}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's introspection plus the error responses DRF and the middleware give."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, description in self._error_codes().items():
            responses.setdefault(code, self._error_response(code, description))
        return responses

    def _map_serializer_field(self, field, direction, bypass_extensions=False) -> dict[str, Any]:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.TimeField):
            # A wall-clock time of day in the user's zone ("22:00:00"), never with an offset, where
            # OpenAPI's `time` is RFC 3339's full-time, which must have one.
            schema.pop("format", None)
            schema.setdefault("pattern", TIME_PATTERN)
        elif (
            isinstance(field, serializers.DateField)
            and not isinstance(field, serializers.DateTimeField)
            and getattr(field, "format", ISO_8601) not in (ISO_8601, None)
        ):
            # A date written another way than ISO 8601 is not a `date` (our months: "2026-11").
            schema.pop("format", None)
            if field.format == "%Y-%m":
                schema.setdefault("pattern", MONTH_PATTERN)
        return schema

    def _resolve_path_parameters(self, variables: list[str]) -> list[dict[str, Any]]:
        # Our viewsets build their queryset from the request's user, which schema generation does
        # not have; the model, and so the id's type, is the one their serializer shows.
        if get_view_model(self.view, emit_warnings=False) is None:
            serializer_class = getattr(self.view, "serializer_class", None)
            model = getattr(getattr(serializer_class, "Meta", None), "model", None)
            if model is not None:
                view: Any = self.view  # this schema's own instance of the view, made for generating it
                view.queryset = model._default_manager.none()
        return super()._resolve_path_parameters(variables)

    def _error_codes(self) -> dict[str, str]:
        view = self.view
        codes: dict[str, str] = {}
        has_body = self.method in ("POST", "PUT", "PATCH")
        if has_body or self._has_query_parameters():
            codes["400"] = "The request is invalid"
        if view.get_authenticators():
            # A token that is wrong, revoked or of an inactive user is refused on every route.
            codes["401"] = "Not authenticated, or the token is invalid"
        if any(not isinstance(permission, permissions.AllowAny) for permission in view.get_permissions()):
            codes["403"] = "Not allowed (for a session, also a missing CSRF token)"
        if "{" in self.path:
            codes["404"] = "No such object of yours"
        elif self._paginated_by_page_number():
            codes["404"] = "No such page"
        elif self._has_query_parameters(api_settings.URL_FORMAT_OVERRIDE):
            codes["404"] = "No such format"  # DRF's answer to an unknown `?format=`
        if has_body:
            codes["415"] = "The request body's media type is not accepted"
        codes["503"] = "The database is briefly unavailable; retry after Retry-After seconds"
        return codes

    def _has_query_parameters(self, name: str | None = None) -> bool:
        return any(
            parameter.get("in") == "query" and name in (None, parameter.get("name"))
            for parameter in self._get_parameters()
        )

    def _paginated_by_page_number(self) -> bool:
        paginator = self._get_paginator()
        return isinstance(paginator, PageNumberPagination) and self._is_list_view()

    def _error_response(self, code: str, description: str) -> dict[str, Any]:
        name, schema = ("ValidationError", VALIDATION_ERROR_SCHEMA) if code == "400" else ("Error", ERROR_SCHEMA)
        component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema)
        self.registry.register_on_missing(component)
        return {"description": description, "content": {"application/json": {"schema": component.ref}}}
