"""The product's URLs plus two reference views, used only by bench/widget.py (bench/settings.py).

`/bench/ceiling` answers a fixed JSON: the server's ceiling for any view. `/bench/one-redis-get`
answers the same bytes read from the cache: the floor for any cache-aside answer (one round trip
to Redis and nothing else).
"""

from __future__ import annotations

import json

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, include, path

# Shaped and sized like a widget answer, serialised once: the view touches neither Redis nor
# the database and does no work of its own, so it measures what the server, WSGI and Django's
# middleware cost per request on this machine (the ceiling for any view).
CEILING_BODY = json.dumps(
    {
        "month": "2026-11",
        "total": "1234.56",
        "categories": {f"category-{index}/leaf": f"{100 + index}.25" for index in range(10)},
        "txn_count": 87,
        "updated_at": "2026-11-21T12:00:00Z",
        "breakdown": [],
        "stale": False,
        "as_of": None,
    }
).encode()


REDIS_KEY = "bench:one-redis-get"


def ceiling(request: HttpRequest) -> HttpResponse:
    return HttpResponse(CEILING_BODY, content_type="application/json")


def one_redis_get(request: HttpRequest) -> HttpResponse:
    body = cache.get(REDIS_KEY)
    if body is None:  # after the benchmark flushed the cache
        body = CEILING_BODY
        cache.set(REDIS_KEY, body, timeout=None)
    return HttpResponse(body, content_type="application/json")


urlpatterns: list[URLPattern | URLResolver] = [
    path("bench/ceiling", ceiling, name="bench_ceiling"),
    path("bench/one-redis-get", one_redis_get, name="bench_one_redis_get"),
    path("", include("mint.urls")),
]
