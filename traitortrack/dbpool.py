"""Keeping the psycopg pool's idle connections healthy without a round trip on every request.

Django checks a pooled connection on checkout only when CONN_HEALTH_CHECKS is on, which costs an empty
query per request; it is off for the pool (traitortrack/settings.py). Instead each gunicorn worker runs
``keep_checking`` in a greenlet (traitortrack/gunicorn.conf.py): every DB_POOL_CHECK_SECONDS it tests the
connections waiting in the pool and replaces the broken ones, so after a PostgreSQL restart they are
gone within seconds. A request that takes one in between gets a 503 to retry (traitortrack.edge).
"""

import logging
import time

from django.db import connections

logger = logging.getLogger(__name__)


def check_pool() -> None:
    """Test every idle connection of each database's pool (the primary's, a read replica's) that is open."""
    for alias in connections:
        pool = connections[alias].pool
        if pool is not None and not pool.closed:
            pool.check()


def keep_checking(seconds: float) -> None:
    """check_pool() every ``seconds``, for ever (a worker's background greenlet)."""
    while True:
        time.sleep(seconds)  # gevent-patched in the workers: only this greenlet waits
        try:
            check_pool()
        except Exception:
            logger.exception("checking the database pool's idle connections failed")
