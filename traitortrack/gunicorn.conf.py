"""gunicorn settings: gevent workers, and the embedded PostgreSQL owned by the master process.

Run: gunicorn -c traitortrack/gunicorn.conf.py traitortrack.wsgi
"""

# gevent must patch the standard library before anything else imports socket, ssl or threading.
from gevent import monkey

monkey.patch_all()

import multiprocessing  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402
import weakref  # noqa: E402

from gunicorn.util import parse_address  # noqa: E402

from traitortrack import embedded_db  # noqa: E402

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
# Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new connections over
# them. On one shared socket the worker that is awake wins nearly every accept, and a scanner's keep-alive
# connection stays where it landed: seen here, all 200 dispatchers on one of two workers, the other idle.
# Not for a Unix socket, where the kernel refuses SO_REUSEPORT (EOPNOTSUPP: seen here, every worker failed
# to start, over and over): on_starting turns it off when any address is one, this file's or a -b.
reuse_port = True
worker_class = "gevent"
# gunicorn's C request parser (the gunicorn-h1c package, pinned in requirements.txt); its Python parser
# cost a tenth of a scan's CPU. "fast" fails at start-up if it is missing rather than silently slow.
http_parser = "fast"
# Greenlets per worker; each takes a database connection from the worker's pool only while it needs one.
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "200"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# A keep-alive connection is closed (Connection: close on an answer) after about this many seconds of use, and
# the phone opens another, which the kernel may give any worker. Without it, the connections of a crashed
# worker all moved to the survivor and stayed: 84 % of requests on one of two workers 30 s after the crash.
# A fifth either way at random, so connections that moved together do not all reconnect together. 0: never.
KEEPALIVE_LIFETIME_SECONDS = float(os.environ.get("KEEPALIVE_LIFETIME_SECONDS", "30"))
_closing_time = weakref.WeakKeyDictionary()  # per connection (its reader), when to close it
# Restart workers now and then so a slow leak never takes the bay down mid-shift; rarely, since a restart
# costs a second or two of a core to load the app again (every scan on the machine waits a little longer)
# and ends the worker's keep-alive connections. 200,000 is an hour or two of a worker's busy shift.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "200000"))
max_requests_jitter = max_requests // 10
# Empty: no access log (behind a proxy that keeps its own, it is a tenth of a scan's CPU for nothing).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
GC_YOUNG_OBJECTS = 10_000
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def on_starting(server):
    """Refuse an address another server listens on; start the embedded PostgreSQL once, in the master, and
    hand its URL to every worker."""
    _no_reuse_port_on_unix_sockets(server)
    if server.cfg.reuse_port:
        for address in server.cfg.bind:
            _refuse_taken_address(address)
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = embedded_db.start()
        server.log.info("embedded PostgreSQL running (data in %s)", embedded_db.data_dir())


def on_reload(server):
    """A HUP reads this file again (reuse_port True) before the new workers start."""
    _no_reuse_port_on_unix_sockets(server)


def _no_reuse_port_on_unix_sockets(server) -> None:
    """One socket, made by the master and shared by the workers, when any address is a Unix socket's path or
    an inherited descriptor. The addresses are as gunicorn takes them: this file's, or a -b on the command
    line. Called before the arbiter makes its sockets and before it starts workers."""
    if not all(isinstance(parse_address(address), tuple) for address in server.cfg.bind):
        server.cfg.set("reuse_port", False)


def _refuse_taken_address(address: str) -> None:
    """With SO_REUSEPORT, a second app started on the same address would quietly share its connections
    with the first instead of failing; a plain bind, as without it, fails when something listens there."""
    host, port = parse_address(address)
    family, kind, _, _, where = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn's own bind: TIME_WAIT is no use
        try:
            probe.bind(where)
        except OSError as error:
            raise SystemExit(
                f"Cannot listen on {address}: {error.strerror} (another server is running there?)"
            ) from None


def pre_request(worker, req):
    """Close the connection after this answer once it has lived its KEEPALIVE_LIFETIME_SECONDS."""
    if KEEPALIVE_LIFETIME_SECONDS <= 0:
        return
    now = time.monotonic()
    closing_at = _closing_time.setdefault(req.unreader, now + KEEPALIVE_LIFETIME_SECONDS * random.uniform(0.8, 1.2))  # noqa: S311 - jitter
    if now >= closing_at:
        req.must_close = True  # gunicorn answers with Connection: close and ends the keep-alive loop


def on_exit(server):
    embedded_db.stop()


def post_worker_init(worker):
    """Once the worker has loaded the app: its garbage collector tuned (below), and its idle pooled
    database connections tested now and then (traitortrack/dbpool.py)."""
    import gc

    import gevent
    from django.conf import settings
    from django.urls import get_resolver

    from traitortrack.dbpool import keep_checking

    # A full collection walks every object the worker holds and stalls every request in the worker
    # meanwhile: that was the slowest percent of scans. The app as loaded (modules, URL conf)
    # is frozen out of the collector's walks, and young objects are collected every GC_YOUNG_OBJECTS
    # allocations instead of 700, so a request's short-lived objects die before they are ever promoted,
    # and full collections become rare and short.
    get_resolver().url_patterns  # noqa: B018 (loads the URL conf before the freeze)
    gc.freeze()
    gc.set_threshold(GC_YOUNG_OBJECTS, 20, 20)
    if settings.DB_POOL_MAX_SIZE > 0 and settings.DB_POOL_CHECK_SECONDS > 0:
        gevent.spawn(keep_checking, settings.DB_POOL_CHECK_SECONDS)
