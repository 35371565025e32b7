"""Where the tests find Redis, and a port where none listens (for Redis-is-down tests)."""

import os
import socket
from urllib.parse import urlsplit

import pytest
from django_redis import get_redis_connection

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")


def _worker_database(url: str) -> str:
    """The URL's Redis database for the main process (or xdist's first worker), the ones below it for the
    other workers: the tests empty their cache with FLUSHDB, which must not empty another worker's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # gw0, gw1, ...
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) - int(worker.removeprefix("gw"))
    return parts._replace(path=f"/{database % 16}").geturl()


REDIS_URL = _worker_database(TEST_REDIS_URL or "redis://127.0.0.1:6379/15")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_redis(alias: str) -> None:
    """Skip the test when no Redis answers, unless one was promised (CI, or TEST_REDIS_URL): then it fails."""
    try:
        get_redis_connection(alias).ping()
    except Exception:
        if TEST_REDIS_URL or os.environ.get("CI"):  # CI starts Redis: its absence is a broken CI, not a skip
            raise
        pytest.skip("no Redis on 127.0.0.1:6379 (set TEST_REDIS_URL to require one)")
