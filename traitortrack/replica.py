"""The read replica (DATABASE_REPLICA_URL): which reads go to it, and whether it is fit to take them.

Reads go to the replica by what the request is, never by model: only inside a view marked ``reads_replica``
(the reports, search, exports and the dashboard), and even there not
- inside a transaction on the primary (it must see its own writes),
- for a client that wrote in the last seconds (``WroteMiddleware``'s cookie: its next page reads its write),
- while the replica is unfit: unreachable, not a standby, or more than DATABASE_REPLICA_MAX_LAG_SECONDS behind.
Writes always go to the primary, and so does everything else (the scans, the bag and bill pages).

``ReplicaRouter`` answers the ORM; raw SQL on those read paths asks ``read_connection()`` (or a manager's
``connections[self.db]``), since a router never sees ``django.db.connection``. Whether the replica is fit is
measured at most every CHECK_SECONDS per process (an unreachable one every RETRY_SECONDS), by whichever
request first needs it: never a query per read; and one found gone when a request first connects to it is
skipped from then on, that request included. Without DATABASE_REPLICA_URL there is no "replica" alias,
router or middleware (traitortrack/settings.py), and every read is the primary's as before.
"""

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

REPLICA = "replica"
# A fit replica's lag is measured again this often (per process); an unfit one is tried again after
# RETRY_SECONDS, since trying one that is down may hold that request for CONNECT_TIMEOUT_SECONDS.
CHECK_SECONDS = 1.0
RETRY_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 1.0
# Set (to the time, in seconds) on the answer to every request that may have written; while it is younger than
# the lag a used replica may have, the client's reads stay on the primary.
WROTE_COOKIE = "tt_wrote"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# On the standby. Caught up (everything received is replayed, and still receiving) is no lag, however long
# ago the primary last wrote; otherwise the lag is how long ago the last replayed transaction committed.
# Not streaming from the primary, it may be far behind without knowing: the same age is its lag.
LAG_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
                 AND EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')
            THEN 0::float8
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END
"""

_reading: ContextVar[bool] = ContextVar("reading_replica", default=False)


@dataclass(frozen=True)
class ReplicaState:
    usable: bool
    lag_seconds: float | None
    cause: str  # why it is skipped, in a word ("" when used): unreachable, promoted, unreplayed, lagging
    reason: str  # the same in a sentence
    measured_at: float  # time.time(), for the system page
    recheck_at: float  # time.monotonic()


_state: ReplicaState | None = None
_measuring = threading.Lock()  # a greenlet's lock in the gevent workers


def configured() -> bool:
    return REPLICA in connections.settings


def state(*, fresh: bool = False) -> ReplicaState:
    """The replica's fitness, measured now if the last measure is due (or ``fresh``). While another request of
    this process measures it, the last measure stands (none yet: the replica is skipped meanwhile)."""
    current = _state
    if current is not None and not fresh and time.monotonic() < current.recheck_at:
        return current
    if not _measuring.acquire(blocking=False):
        return current or ReplicaState(False, None, "checking", "being checked", time.time(), 0.0)
    try:
        return _measure(current)
    finally:
        _measuring.release()


def forget() -> None:
    """Measure again at the next read (tests; a process that starts afresh)."""
    global _state
    _state = None


def _measure(previous: ReplicaState | None) -> ReplicaState:
    limit = settings.DATABASE_REPLICA_MAX_LAG_SECONDS
    try:
        in_recovery, lag = _ask_replica()
    except Exception as error:  # down, refusing, or its pool busy: the primary serves
        return _unreachable(error, previous)
    if not in_recovery:
        cause, reason = "promoted", "not a standby (promoted?): its data may differ from the primary's"
    elif lag is None:
        cause, reason = "unreplayed", "lag unknown: nothing replayed since it started"
    elif lag > limit:
        cause, reason = "lagging", f"{lag:.1f} s behind, more than the {limit} s allowed"
    else:
        cause, reason = "", ""
    return _settle(ReplicaState(not cause, lag, cause, reason, time.time(), time.monotonic() + CHECK_SECONDS), previous)


def _unreachable(error: Exception, previous: ReplicaState | None) -> ReplicaState:
    reason = f"unreachable: {str(error).strip() or type(error).__name__}"
    return _settle(
        ReplicaState(False, None, "unreachable", reason, time.time(), time.monotonic() + RETRY_SECONDS), previous
    )


def _settle(new: ReplicaState, previous: ReplicaState | None) -> ReplicaState:
    global _state
    _state = new
    # Each change logged once, not each measure (once a second per worker while it lags).
    if previous is None or previous.cause != new.cause:
        if new.cause:
            logger.warning("read replica skipped, reads go to the primary: %s", new.reason)
        else:
            logger.info("read replica in use (%.1f s behind)", new.lag_seconds)
    return new


def _ask_replica() -> tuple[bool, float | None]:
    wrapper = connections[REPLICA]
    pool = wrapper.pool  # None when the pool is off (DB_POOL_MAX_SIZE=0): then connect_timeout bounds it
    if pool is None:
        with wrapper.cursor() as cursor:
            cursor.execute(LAG_SQL)
            return cursor.fetchone()
    pool.open()  # as Django does before its first checkout
    # Not a request's DB_POOL_TIMEOUT_SECONDS: a replica that cannot give a connection at once is skipped.
    with pool.connection(timeout=CONNECT_TIMEOUT_SECONDS) as pooled:
        return pooled.execute(LAG_SQL).fetchone()


def read_alias() -> str:
    """The database this read goes to: the replica inside a ``reads_replica`` view when it is fit and the
    primary is in no transaction, else the primary."""
    if not _reading.get() or connections[DEFAULT_DB_ALIAS].in_atomic_block or not state().usable:
        return DEFAULT_DB_ALIAS
    wrapper = connections[REPLICA]
    if wrapper.connection is None:
        # This request's first read there: a replica gone since it was measured is skipped now, not a 503 (the
        # wait for a connection is bounded by its pool's timeout, settings.replica_database).
        try:
            wrapper.ensure_connection()
        except Exception as error:
            _unreachable(error, _state)
            return DEFAULT_DB_ALIAS
    return REPLICA


def read_connection() -> BaseDatabaseWrapper:
    """The connection a raw-SQL read of a ``reads_replica`` path runs on (``django.db.connection`` is always
    the primary's)."""
    return connections[read_alias()]


@contextmanager
def reading(replica: bool) -> Iterator[None]:
    token = _reading.set(replica)
    try:
        yield
    finally:
        _reading.reset(token)


def on_primary():
    """Reads in the block go to the primary: the ones that must see a write just made."""
    return reading(False)


def wrote_recently(request: HttpRequest) -> bool:
    try:
        wrote_at = float(request.COOKIES.get(WROTE_COOKIE, ""))
    except ValueError:
        return False
    return time.time() - wrote_at < _read_your_writes_seconds()


def _read_your_writes_seconds() -> int:
    # The most a used replica can be behind: the lag allowed, plus how old the measure may be.
    return int(settings.DATABASE_REPLICA_MAX_LAG_SECONDS + CHECK_SECONDS) + 1


def reads_replica(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Mark a view whose reads may come from the replica (see the module's docstring for when they do)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not configured():
            return view(request, *args, **kwargs)
        with reading(not wrote_recently(request)):
            return view(request, *args, **kwargs)

    return wrapped


class WroteMiddleware:
    """Marks the client that sent a request that may write (any POST, PUT, PATCH or DELETE): for the next
    seconds its ``reads_replica`` pages read the primary, so they show what it just did. A cookie, not the
    session, so that marking costs no database write; forging it only sends one's own reads to the primary."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method in UNSAFE_METHODS:
            response.set_cookie(
                WROTE_COOKIE,
                str(int(time.time())),
                max_age=_read_your_writes_seconds(),
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response


class ReplicaRouter:
    """The ORM's side of it: reads to ``read_alias()``, writes and migrations to the primary. Objects from
    either alias are rows of one database, so relations between them are fine."""

    def db_for_read(self, model, **hints) -> str:
        # Never None: Django would fall back to the instance's own alias, and a row read on the replica would
        # take later reads of its relations there, outside any reads_replica view.
        return read_alias()

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool | None:
        return False if db == REPLICA else None


def status() -> dict[str, Any] | None:
    """The system page's view of the replica (None when there is none): where it is, its lag, whether reads
    go to it and why not, measured now."""
    if not configured():
        return None
    current = state(fresh=True)
    replica = connections.settings[REPLICA]
    return {
        "address": f"{replica['HOST'] or 'local socket'}:{replica['PORT'] or 5432}/{replica['NAME']}",
        "usable": current.usable,
        "lag_seconds": current.lag_seconds,
        "reason": current.reason,
        "max_lag_seconds": settings.DATABASE_REPLICA_MAX_LAG_SECONDS,
        "measured_at": datetime.fromtimestamp(current.measured_at, UTC),
    }
