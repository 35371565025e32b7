"""A stopped clock for the tests whose answer depends on the time: Python's (time-machine) and PostgreSQL's.

The app reads two clocks: Python's (``timezone.now()``, ``time.time()``) and the database's ``now()``, which
the scan writes and the bag totals stamp their rows with. time-machine stops the first; the second is
stopped for the test's transaction by a ``now()`` in a schema searched before ``pg_catalog`` that answers
the same instant. So a test reads one time, chosen by the test, whatever the time of day it runs at.
"""

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine
from django.conf import settings
from django.db import connection

LOCAL = ZoneInfo(settings.TIME_ZONE)
# A weekday mid-morning in the warehouses' time zone, away from any hour's or day's turn (tests that are
# about a turn move the clock there themselves).
FROZEN_AT = datetime(2026, 11, 20, 10, 17, 30, tzinfo=LOCAL)

_DATABASE_CLOCK_SQL = """
CREATE SCHEMA IF NOT EXISTS test_clock;
CREATE OR REPLACE FUNCTION test_clock.now() RETURNS timestamptz LANGUAGE sql STABLE
    AS $$ SELECT current_setting('test_clock.now')::timestamptz $$;
"""


class Clock:
    """The stopped time: ``clock.now`` (aware, local), ``clock.move_to(when)``, ``clock.shift(**timedelta)``."""

    def __init__(self, traveller: time_machine.Traveller, at: datetime) -> None:
        self._traveller = traveller
        self.now = at

    def move_to(self, when: datetime) -> None:
        assert when.tzinfo is not None, "an aware time, so that both clocks read the same instant"
        self._traveller.move_to(when, tick=False)
        self.now = when.astimezone(LOCAL)
        if connection.in_atomic_block:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('test_clock.now', %s, true)", [self.now.isoformat()])

    def shift(self, **delta: float) -> None:
        self.move_to(self.now + timedelta(**delta))


def stop_clocks(at: datetime = FROZEN_AT) -> Iterator[Clock]:
    """Stop Python's clock at ``at`` and, inside a test's transaction, the database's too."""
    with time_machine.travel(at, tick=False) as traveller:
        clock = Clock(traveller, at)
        if connection.in_atomic_block:
            with connection.cursor() as cursor:
                cursor.execute(_DATABASE_CLOCK_SQL)
                # pg_catalog named last is searched last, so the unqualified now() in the app's SQL is ours.
                cursor.execute(
                    "SELECT set_config('search_path', 'test_clock, ' || current_setting('search_path') "
                    "|| ', pg_catalog', true)"
                )
        clock.move_to(at)
        yield clock
