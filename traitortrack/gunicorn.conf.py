"""gunicorn settings: gevent workers, and the embedded PostgreSQL owned by the master process.

Run: gunicorn -c traitortrack/gunicorn.conf.py traitortrack.wsgi
"""

# gevent must patch the standard library before anything else imports socket, ssl or threading.
from gevent import monkey

monkey.patch_all()

import multiprocessing  # noqa: E402
import os  # noqa: E402

from traitortrack import embedded_db  # noqa: E402

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = "gevent"
# Greenlets per worker; each takes a database connection from the worker's pool only while it needs one.
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "200"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Restart workers now and then so a slow leak never takes the bay down mid-shift.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = 2000
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def on_starting(server):
    """Start the embedded PostgreSQL once, in the master, and hand its URL to every worker."""
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = embedded_db.start()
        server.log.info("embedded PostgreSQL running (data in %s)", embedded_db.data_dir())


def on_exit(server):
    embedded_db.stop()


def post_worker_init(worker):
    """Test the worker's idle pooled database connections now and then (traitortrack/dbpool.py)."""
    import gevent
    from django.conf import settings

    from traitortrack.dbpool import keep_checking

    if settings.DB_POOL_MAX_SIZE > 0 and settings.DB_POOL_CHECK_SECONDS > 0:
        gevent.spawn(keep_checking, settings.DB_POOL_CHECK_SECONDS)
