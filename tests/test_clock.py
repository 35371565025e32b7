"""The stopped clock (tests/clock.py): Python and PostgreSQL read the same instant, and move together."""

import time
import uuid
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from scanning import services
from scanning.models import Scan
from tests import factories
from tests.clock import FROZEN_AT, LOCAL


def database_now() -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        return cursor.fetchone()[0]


def test_both_clocks_read_the_stopped_time_and_move_together(clock):
    assert timezone.now() == database_now() == FROZEN_AT
    assert time.time() == FROZEN_AT.timestamp()

    clock.shift(minutes=50)

    assert timezone.now() == database_now() == FROZEN_AT + timedelta(minutes=50)
    assert clock.now == FROZEN_AT + timedelta(minutes=50)


def test_a_scan_written_by_the_databases_now_gets_the_stopped_time(clock, area):
    user = factories.make_user("clock-scanner", area=area)

    services.open_parent(user=user, raw_code="SB00001", client_scan_id=uuid.uuid4().hex)

    assert Scan.objects.get().created_at == FROZEN_AT


@pytest.mark.parametrize("clock", [datetime(2026, 11, 20, 23, 59, 59, tzinfo=LOCAL)], indirect=True)
def test_a_test_picks_its_own_time(clock):
    assert timezone.localtime() == database_now() == clock.now
    assert timezone.localdate().isoformat() == "2026-11-20"
