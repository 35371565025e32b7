"""The load balancer's probes: /health (liveness) and /ready (readiness), public and exempt from the
second factor and the HTTPS redirect."""

import logging

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from traitortrack.permissions import PUBLIC, access

logger = logging.getLogger(__name__)

# How long /ready waits for a pooled connection, whatever DB_POOL_TIMEOUT_SECONDS a request waits: at 10 s,
# longer than a load balancer waits for its probe, the probe timed out with PostgreSQL down instead of getting
# its 503. Two seconds is also long enough not to call a pool that is merely busy for a moment unready.
READY_DATABASE_TIMEOUT_SECONDS = 2.0


def readiness() -> dict[str, str]:
    """Whether the database and the cache answer: "ok" or "unavailable" for each (/ready and the system page)."""
    checks = {"database": "ok", "cache": "ok"}
    try:
        _ask_database()
    except Exception:
        logger.exception("readiness check: database unreachable")
        checks["database"] = "unavailable"
    try:
        cache.set("ready-probe", "1", 5)
        if cache.get("ready-probe") != "1":
            checks["cache"] = "unavailable"
    except Exception:
        logger.exception("readiness check: cache unreachable")
        checks["cache"] = "unavailable"
    return checks


def _ask_database() -> None:
    pool = connection.pool  # None when the pool is off (DB_POOL_MAX_SIZE=0)
    if pool is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return
    pool.open()  # as Django does before its first checkout: /ready may be a worker's first request
    with pool.connection(timeout=READY_DATABASE_TIMEOUT_SECONDS) as pooled:
        pooled.execute("SELECT 1")


@access(PUBLIC, otp_exempt=True)  # the load balancer's probes
@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches neither the database nor the cache."""
    return JsonResponse({"status": "ok"})


class LivenessMiddleware:
    """Answers /health before the session and user middleware: a probe that carries a session cookie (a
    phone's, a browser's) would otherwise read the session and the user, so liveness hung on the database
    while it was down. Placed before them in MIDDLEWARE; the view keeps its own rules (GET only, no cache)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.path = reverse("health")

    def __call__(self, request: HttpRequest):
        if request.path_info == self.path:
            return health(request)
        return self.get_response(request)


@access(PUBLIC, otp_exempt=True)
@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Readiness: the database answers (503 if not). The cache is reported but optional: pages, logins and
    scans work without Redis (the default cache ignores its errors), so a Redis outage is no reason for the
    load balancer to take the app out."""
    checks = readiness()
    ok = checks["database"] == "ok"
    return JsonResponse({"status": "ok" if ok else "unavailable", **checks}, status=200 if ok else 503)
