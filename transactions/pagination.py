"""Keyset pagination for the transactions list."""

from __future__ import annotations

import base64
import binascii
import datetime as dt

from django.db.models import Q
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from .models import Transaction


class TransactionCursorPagination(BasePagination):
    """Newest first, in pages that start after the last row seen (its posted date and id).

    Unlike page numbers, a transaction imported or recategorized while someone scrolls
    never shifts a page: no row is shown twice or skipped.
    """

    page_size = 50
    max_page_size = 200
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def paginate_queryset(self, queryset, request: Request, view=None) -> list[Transaction]:  # type: ignore[override]
        self.request = request
        size = self._page_size(request)
        cursor = request.query_params.get(self.cursor_query_param)
        if not cursor:
            rows = list(queryset[: size + 1])
            self.has_previous, self.has_next = False, len(rows) > size
            self.rows = rows[:size]
            return self.rows
        backwards, posted_on, pk = self._decode(cursor)
        if backwards:
            newer = Q(posted_on__gt=posted_on) | Q(posted_on=posted_on, pk__gt=pk)
            rows = list(queryset.filter(newer).order_by("posted_on", "id")[: size + 1])
            self.has_previous, self.has_next = len(rows) > size, True
            self.rows = rows[:size][::-1]
        else:
            older = Q(posted_on__lt=posted_on) | Q(posted_on=posted_on, pk__lt=pk)
            rows = list(queryset.filter(older)[: size + 1])
            self.has_previous, self.has_next = True, len(rows) > size
            self.rows = rows[:size]
        return self.rows

    def get_paginated_response(self, data) -> Response:
        return Response({"next": self._link(backwards=False), "previous": self._link(backwards=True), "results": data})

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Where the page starts: from the `next` or `previous` link",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page ({self.page_size}; at most {self.max_page_size})",
                "schema": {"type": "integer"},
            },
        ]

    def get_paginated_response_schema(self, schema: dict) -> dict:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def _page_size(self, request: Request) -> int:
        try:
            size = int(request.query_params.get(self.page_size_query_param, self.page_size))
        except ValueError:
            size = self.page_size
        return min(max(size, 1), self.max_page_size)

    def _link(self, *, backwards: bool) -> str | None:
        url = self.request.build_absolute_uri()
        if (backwards and not self.has_previous) or (not backwards and not self.has_next):
            return None
        if not self.rows:
            # Stepped back past the newest row: the first page is what is there.
            return remove_query_param(url, self.cursor_query_param)
        edge = self.rows[0] if backwards else self.rows[-1]
        return replace_query_param(url, self.cursor_query_param, self._encode(backwards, edge.posted_on, edge.pk))

    @staticmethod
    def _encode(backwards: bool, posted_on: dt.date, pk: int) -> str:
        raw = f"{'p' if backwards else 'n'}:{posted_on.isoformat()}:{pk}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @staticmethod
    def _decode(cursor: str) -> tuple[bool, dt.date, int]:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
            direction, day, pk = raw.split(":")
            if direction not in ("n", "p") or not 0 < int(pk) < 2**63:
                raise ValueError(raw)
            return direction == "p", dt.date.fromisoformat(day), int(pk)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise ValidationError({"cursor": ["Invalid cursor; use the next or previous link as given."]}) from None
