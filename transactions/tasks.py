"""Task entry points: ids in, one service call."""

from __future__ import annotations

from accounts.models import Connection

from . import services


def connection_sync(connection_id: int) -> str:
    connection = Connection.objects.filter(pk=connection_id).first()
    if connection is None:
        return "gone"  # disconnected while queued
    return services.connection_sync(connection=connection).status
