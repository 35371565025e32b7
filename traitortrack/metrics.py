"""Request and error counts per worker process, for the system page.

Every request costs a few integer additions in this process's memory (no I/O: about a microsecond, see
the README). At most every PUBLISH_SECONDS, the request that finds the interval over publishes this
worker's counts, its request rate over the interval, its memory and its connection pool to the cache
(one SET, kept PUBLISHED_TTL seconds), where the system page reads every live worker's. Without Redis the
page sees only the process that serves it.
"""

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse

PUBLISH_SECONDS = 5.0
# A worker that has not published for this long is gone (stopped, recycled): its entry lapses.
PUBLISHED_TTL = 60
KEY_PREFIX = "system:worker:"

logger = logging.getLogger(__name__)


@dataclass
class Counters:
    """This process's counts since it started, and the rates over the last publishing interval."""

    started: float = field(default_factory=time.time)
    requests: int = 0
    # Responses by status class: index 2 counts the 2xx, 5 the 5xx (errors, unhandled exceptions included).
    by_class: list[int] = field(default_factory=lambda: [0] * 6)
    last_publish: float = field(default_factory=time.monotonic)
    published_requests: int = 0
    published_errors: int = 0
    rate: float = 0.0
    error_rate: float = 0.0


_counters = Counters()


def count(status: int) -> None:
    """Count one response; publish when the interval is over. Keep it to additions: it runs for every request."""
    counters = _counters
    counters.requests += 1
    counters.by_class[min(status // 100, 5)] += 1
    now = time.monotonic()
    if now - counters.last_publish >= PUBLISH_SECONDS:
        publish(now)


def snapshot(now: float | None = None) -> dict[str, Any]:
    """This worker's figures as published: counts, rates, memory and its database pool."""
    counters = _counters
    now = time.monotonic() if now is None else now
    pool = getattr(connection, "pool", None) if connection.settings_dict.get("OPTIONS", {}).get("pool") else None
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": counters.started,
        "published": time.time(),
        "requests": counters.requests,
        "status_2xx": counters.by_class[2],
        "status_3xx": counters.by_class[3],
        "status_4xx": counters.by_class[4],
        "status_5xx": counters.by_class[5],
        "requests_per_second": round(counters.rate, 2),
        "errors_per_minute": round(counters.error_rate * 60, 2),
        "rss_bytes": psutil.Process().memory_info().rss,
        "pool": pool.get_stats() if pool is not None else None,
    }


def publish(now: float) -> None:
    counters = _counters
    elapsed = max(now - counters.last_publish, 1e-9)
    counters.rate = (counters.requests - counters.published_requests) / elapsed
    counters.error_rate = (counters.by_class[5] - counters.published_errors) / elapsed
    counters.last_publish, counters.published_requests = now, counters.requests
    counters.published_errors = counters.by_class[5]
    # The default cache alias ignores (and logs) Redis errors: a Redis outage costs no request here.
    cache.set(f"{KEY_PREFIX}{socket.gethostname()}:{os.getpid()}", snapshot(now), PUBLISHED_TTL)


def workers() -> list[dict[str, Any]]:
    """Every live worker's published figures (this one's fresh), by host and pid."""
    mine = snapshot()
    found: dict[tuple[str, int], dict[str, Any]] = {}
    iter_keys = getattr(cache, "iter_keys", None)  # django-redis; the local-memory cache has no key listing
    if iter_keys is not None:
        try:  # unlike get and set, listing keys raises when Redis is down
            keys = list(iter_keys(f"{KEY_PREFIX}*"))
        except Exception as error:
            logger.warning("system page: cannot list the workers in Redis: %s", error)
            keys = []
        for entry in cache.get_many(keys).values():
            found[(entry["host"], entry["pid"])] = entry
    found[(mine["host"], mine["pid"])] = mine
    return [found[key] for key in sorted(found)]


class RequestMetricsMiddleware:
    """Counts every response by status class (first in MIDDLEWARE, so static files, refusals and error pages
    count too). Costs no I/O but the publish every PUBLISH_SECONDS."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        count(response.status_code)
        return response
