"""What the admins' system page shows: the readiness checks, the database (size, connections, pool, buffer
cache), the read replica (its lag, and whether reads go to it), the cache (Redis memory and hit rate) and every
worker's requests, errors and memory (traitortrack.metrics). Read only when the page is opened, from
PostgreSQL's and Redis's own statistics."""

import logging
from typing import Any

import psutil
from django.conf import settings
from django.db import connection

from traitortrack import metrics, replica
from traitortrack.health import readiness

logger = logging.getLogger(__name__)

DATABASE_SQL = """
SELECT current_setting('server_version'), pg_database_size(current_database()),
       current_setting('max_connections')::int,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
       stats.blks_hit, stats.blks_read, stats.xact_commit, stats.xact_rollback, stats.deadlocks, stats.stats_reset
FROM pg_stat_database AS stats
WHERE stats.datname = current_database()
"""
CONNECTIONS_SQL = """
SELECT COALESCE(state, 'other'), count(*) FROM pg_stat_activity
WHERE datname = current_database() AND backend_type = 'client backend'
GROUP BY 1 ORDER BY 2 DESC
"""
LARGEST_TABLES_SQL = """
SELECT relname, pg_total_relation_size(relid), n_live_tup FROM pg_stat_user_tables
ORDER BY pg_total_relation_size(relid) DESC LIMIT %(limit)s
"""
LARGEST_TABLES = 6


def database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute(DATABASE_SQL)
        version, size, max_connections, client_connections, hit, read, commits, rollbacks, deadlocks, since = (
            cursor.fetchone()
        )
        cursor.execute(CONNECTIONS_SQL)
        by_state = cursor.fetchall()
        cursor.execute(LARGEST_TABLES_SQL, {"limit": LARGEST_TABLES})
        tables = [{"name": name, "bytes": total, "rows": rows} for name, total, rows in cursor.fetchall()]
    return {
        "version": version,
        "size_bytes": size,
        "max_connections": max_connections,
        "client_connections": client_connections,
        "connections_by_state": by_state,
        "buffer_hit_rate": hit / (hit + read) if hit + read else None,
        "commits": commits,
        "rollbacks": rollbacks,
        "deadlocks": deadlocks,
        "stats_since": since,
        "largest_tables": tables,
        "pool": settings.DATABASES["default"].get("OPTIONS", {}).get("pool"),
    }


def cache_stats() -> dict[str, Any]:
    """Redis's own statistics for the default cache, or what the cache is when it is not Redis."""
    backend = settings.CACHES["default"]["BACKEND"]
    if not backend.startswith("django_redis."):
        return {"kind": "local memory (each process its own)"}
    from django_redis import get_redis_connection

    try:
        info = get_redis_connection("default").info()
    except Exception as error:  # the page must show an outage, not fail with it
        logger.warning("system page: Redis unreachable: %s", error)
        return {"kind": "Redis", "error": str(error)}
    hits, misses = info.get("keyspace_hits", 0), info.get("keyspace_misses", 0)
    return {
        "kind": "Redis",
        "version": info.get("redis_version"),
        "used_memory_bytes": info.get("used_memory"),
        "maxmemory_bytes": info.get("maxmemory") or None,
        "hit_rate": hits / (hits + misses) if hits + misses else None,
        "hits": hits,
        "misses": misses,
        "evicted_keys": info.get("evicted_keys"),
        "connected_clients": info.get("connected_clients"),
        "uptime_seconds": info.get("uptime_in_seconds"),
    }


def system_status() -> dict[str, Any]:
    workers = metrics.workers()
    memory = psutil.virtual_memory()
    return {
        "checks": readiness(),
        "database": database(),
        "replica": replica.status(),
        "cache": cache_stats(),
        "workers": workers,
        "requests": {
            name: sum(worker[name] for worker in workers)
            for name in ("requests", "status_4xx", "status_5xx", "requests_per_second", "errors_per_minute")
        },
        "machine": {"memory_total_bytes": memory.total, "memory_available_bytes": memory.available},
    }
