"""Read replicas for the read path, with read-your-writes.

Only what is marked uses a replica: the views of the read path (the spending widget, the
dashboard, the transaction lists) are wrapped in `replica_reads`, and the queries they run
go to one replica. Everything else stays on the primary (`default`): every write and
migration, reads anywhere else (sign-in, sessions, tokens, services, tasks), reads inside a
transaction (a service's read-then-write must see its own rows, and the cache refreshes run
under a lock in one) and `select_for_update` (Django sends it to the write database).

Read-your-writes. A replica replays the primary's WAL a little later, so a user who has
just changed something could read the old state there. After a user writes (an unsafe
HTTP method of theirs, or a change to their spending by any process: ingestion,
recategorization, a deletion), the primary's WAL position (`pg_current_wal_lsn()`, read
after the commit) is kept in the cache under the user's id. Their read-path request then
asks the chosen replica whether it has replayed that far (`pg_last_wal_replay_lsn()`): if
so it reads there, else on the primary. Other users are not slowed by one user's write.

Why positions rather than a fixed window: a window is right only while the lag stays below
it, and it keeps the user on the primary for the whole window. A position is exact, and
costs one trivial query on the replica, only for a user who wrote in the last
REPLICA_READ_YOUR_WRITES_SECONDS. Past that the mark expires, so that bound must exceed any
lag the replica is allowed (monitor it; take a replica further behind out of the list).
Also known: the mark lives in the cache, so with the cache down a user may read a replica
that is a moment behind; and two writes of one user finishing together keep whichever
position was stored last (both within milliseconds of each other).

A replica that cannot be reached does not fail the read path: the view is run again on
the primary.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("mint.fallback")

P = ParamSpec("P")
R = TypeVar("R")

# The replica the current request's read path reads from; None: the primary.
_read_alias: ContextVar[str | None] = ContextVar("mint_replica_read_alias", default=None)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def replica_written_key(user_id: int) -> str:
    return f"replica:written-lsn:{user_id}"


def replica_mark_written(*, user_id: int) -> None:
    """Record that `user_id` has just committed a change: their reads wait for a replica to replay it."""
    if not settings.DATABASE_REPLICAS:
        return
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()::text")
            (lsn,) = cursor.fetchone()
    except (OperationalError, InterfaceError):
        return  # the primary went down since the commit: nothing newer to wait for
    cache.set(replica_written_key(user_id), lsn, timeout=settings.REPLICA_READ_YOUR_WRITES_SECONDS)


def replica_for(*, user_id: int | None) -> str:
    """The database for this user's read path now: a replica that has their last write, or the primary."""
    replicas = settings.DATABASE_REPLICAS
    if not replicas:
        return DEFAULT_DB_ALIAS
    alias = random.choice(replicas)  # noqa: S311  (spreading load, not a secret)
    written = cache.get(replica_written_key(user_id)) if user_id is not None else None
    if written is None:
        return alias
    try:
        with connections[alias].cursor() as cursor:
            # NULL on a server that is not replaying (a promoted replica): the primary then.
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [written])
            (caught_up,) = cursor.fetchone()
    except DatabaseError:
        return DEFAULT_DB_ALIAS
    return alias if caught_up else DEFAULT_DB_ALIAS


@contextlib.contextmanager
def replica_reads(*, user_id: int | None) -> Iterator[str]:
    """Within the block, reads outside a transaction go to `replica_for(user_id)`; yields the alias."""
    alias = replica_for(user_id=user_id)
    token = _read_alias.set(None if alias == DEFAULT_DB_ALIAS else alias)
    try:
        yield alias
    finally:
        _read_alias.reset(token)


def _request_of(args: tuple[Any, ...]) -> HttpRequest:
    from rest_framework.request import Request

    # A function view's request comes first; a view method's after `self`.
    for arg in args[:2]:
        if isinstance(arg, HttpRequest | Request):
            return arg  # type: ignore[return-value]  # a DRF Request proxies the HttpRequest
    raise TypeError("replica_read_path decorates views: no request among the arguments")


def replica_read_path(view: Callable[P, R]) -> Callable[P, R]:
    """Answer a read-only view's GETs from a replica (see the module's docstring).

    Put it inside `login_required` (function views) or on a DRF handler method, where the
    user is known, so their own recent writes can be honoured.
    """

    @functools.wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        request = _request_of(args)
        if not settings.DATABASE_REPLICAS or request.method not in SAFE_METHODS:
            return view(*args, **kwargs)
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else None
        with replica_reads(user_id=user_id) as alias:
            if alias == DEFAULT_DB_ALIAS:
                return view(*args, **kwargs)
            try:
                return view(*args, **kwargs)
            except (OperationalError, InterfaceError) as exc:
                if not _is_replica_error(alias):
                    raise
                logger.warning("replica %s unavailable (%s): read from the primary", alias, exc.__class__.__name__)
        return view(*args, **kwargs)

    return wrapped


def _is_replica_error(alias: str) -> bool:
    """Whether the replica, rather than the primary, is what failed (the primary's errors stay errors)."""
    try:
        connections[alias].close()
        connections[alias].ensure_connection()
    except (OperationalError, InterfaceError):
        return True
    return False


class ReplicaRouter:
    """Writes and migrations on the primary; reads on a replica only inside `replica_reads`."""

    def db_for_read(self, model: type, **hints: Any) -> str:
        alias = _read_alias.get()
        if alias is None or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        return alias

    def db_for_write(self, model: type, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # The replicas hold the primary's rows: an object read from one relates to the primary's.
        ours = {DEFAULT_DB_ALIAS, *settings.DATABASE_REPLICAS}
        return True if obj1._state.db in ours and obj2._state.db in ours else None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS


class ReplicaReadYourWritesMiddleware:
    """After an unsafe request by a signed-in user (API tokens included), mark the user as having written."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if request.method not in SAFE_METHODS and user is not None and user.is_authenticated:
            replica_mark_written(user_id=user.pk)
        return response
