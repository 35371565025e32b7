"""The read replica (traitortrack/replica.py) against a real streaming standby of the tests' PostgreSQL
(tests/replica.py): the reports, search, exports and dashboard read from it, everything else and every write
from the primary; a lagging or stopped replica is skipped. Where a page read is proven to come from the
standby, the standby's replay is paused and a row written on the primary: the page must not show it, while
a page that reads the primary (the bag page) does."""

import re
import time
from datetime import date

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from audit.choices import AuditAction
from audit.models import AuditLog
from bags.models import BagTotals
from bills.models import Bill
from scanning.models import Scan
from tests import factories
from tests.replica import replica_alias
from traitortrack import replica

# serialized_rollback: each test's flush would take the data migration's products with it
# (tests/bills/test_concurrency.py).
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True, databases=["default", "replica"])

# Room for the requests of a test to be served while replay is paused and the lag grows.
ROOMY_LAG_SECONDS = 30


@pytest.fixture(scope="module")
def standby_alias(standby):
    """The "replica" alias, router and middleware for this module's tests (as DATABASE_REPLICA_URL sets them)."""
    with replica_alias(standby):
        yield standby


@pytest.fixture
def standby_db(standby_alias, settings):
    """The standby caught up with the primary, its lag measured afresh, a generous lag allowed."""
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = ROOMY_LAG_SECONDS
    standby_alias.caught_up()
    replica.forget()
    yield standby_alias
    replica.forget()


def search_codes(client, text: str) -> str:
    answer = client.get(reverse("search"), {"q": text, "show": "bags"})
    assert answer.status_code == 200
    return answer.content.decode()


def until(condition, seconds: float = 20.0):
    """Wait for a condition of the servers' real time (replication lag), checking every few milliseconds."""
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)
    return found


def test_search_reads_the_replica_while_the_bag_page_reads_the_primary(standby_db, biller_client):
    factories.make_parent("SB41001")
    standby_db.caught_up()
    with standby_db.replay_paused():
        factories.make_parent("SB41002")
        page = search_codes(biller_client, "SB410")
        assert "SB41001" in page
        assert "SB41002" not in page  # on the primary only: the search read the replica
        assert biller_client.get(reverse("tracking:bag", args=["SB41002"])).status_code == 200
        assert replica.state().usable
    standby_db.caught_up()
    assert "SB41002" in search_codes(biller_client, "SB410")


def test_the_report_reads_the_replica(standby_db, biller_client):
    early, late = factories.make_user("early1"), factories.make_user("late1")
    Scan.objects.create(user=early, action="link", bag_qr="C7100001")
    standby_db.caught_up()
    with standby_db.replay_paused():
        Scan.objects.create(user=late, action="link", bag_qr="C7100002")
        page = biller_client.get(reverse("reports:report")).content.decode()
        assert "early1" in page
        assert "late1" not in page
        sheet = biller_client.get(reverse("reports:report-csv")).getvalue().decode()
        assert "early1" in sheet
        assert "late1" not in sheet
    standby_db.caught_up()
    assert "late1" in biller_client.get(reverse("reports:report")).content.decode()


def test_exports_read_the_replica_and_audit_on_the_primary(standby_db, biller_client, biller):
    factories.make_parent("SB42001")
    standby_db.caught_up()
    with standby_db.replay_paused():
        factories.make_parent("SB42002")
        answer = biller_client.get(reverse("exports:bags"), {"bags-file_format": "csv"})
        assert answer.status_code == 200
        sheet = answer.getvalue().decode()
        assert "SB42001" in sheet
        assert "SB42002" not in sheet
        # The export's audit record is a write: on the primary, while the standby applies nothing.
        exported = AuditLog.objects.using("default").filter(action=AuditAction.TABLE_EXPORT, actor=biller)
        assert exported.count() == 1
        assert not AuditLog.objects.using("replica").filter(action=AuditAction.TABLE_EXPORT).exists()


def test_the_dashboard_reads_the_replica_and_counts_the_totals_on_the_primary(standby_db, biller_client, biller):
    Scan.objects.create(user=biller, action="link", bag_qr="C7200001")
    standby_db.caught_up()
    with standby_db.replay_paused():
        Scan.objects.create(user=biller, action="link", bag_qr="C7200002")
        stats = biller_client.get(reverse("dashboard-stats")).json()
        recent = [scan["bag"] for scan in stats["recent"]]
        assert "C7200001" in recent
        assert "C7200002" not in recent
        # Never counted before: the request counted the totals itself, on the primary.
        assert BagTotals.objects.using("default").exists()
        assert not BagTotals.objects.using("replica").exists()


def test_a_client_that_just_wrote_reads_its_write_from_the_primary(standby_db, biller_client, mustard):
    other = Client()
    other.force_login(factories.make_user("biller9", role="biller"))
    standby_db.caught_up()
    with standby_db.replay_paused():
        answer = biller_client.post(
            reverse("bills:create"),
            {
                "bill_number": "RB-77",
                "customer": "Replica Traders",
                "bill_date": date.today().isoformat(),
                "product": mustard.pk,
                "expected_parents": 3,
                "notes": "",
            },
        )
        assert answer.status_code == 302, answer.content.decode()[:2000]
        assert replica.WROTE_COOKIE in answer.cookies
        search = {"q": "RB-77", "show": "bills"}
        assert "Replica Traders" in biller_client.get(reverse("search"), search).content.decode()
        # Someone else reads the replica, which has not applied the bill yet.
        assert "Replica Traders" not in other.get(reverse("search"), search).content.decode()
    assert Bill.objects.using("default").filter(bill_number="RB-77").exists()


def test_reads_in_the_primarys_transaction_stay_on_it(standby_db):
    with replica.reading(True):
        assert replica.read_alias() == "replica"
        with transaction.atomic():
            assert replica.read_alias() == "default"
    assert replica.read_alias() == "default"  # outside a reads_replica view


def test_a_replica_further_behind_than_allowed_is_skipped(standby_db, biller_client, admin_client, settings):
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 1
    factories.make_parent("SB43001")
    standby_db.caught_up()
    with standby_db.replay_paused():
        factories.make_parent("SB43002")
        state = until(lambda: (found := replica.state(fresh=True)) and not found.usable and found)
        assert state.lag_seconds > 1
        assert state.cause == "lagging"
        assert "behind" in state.reason
        assert "SB43002" in search_codes(biller_client, "SB430")  # from the primary
        page = admin_client.get(reverse("system")).content.decode()
        assert "skipped, all reads go to the primary" in page
    standby_db.caught_up()
    assert until(lambda: replica.state(fresh=True).usable)


def test_a_replica_stopped_after_it_was_measured_is_skipped_without_an_error(
    standby_db, biller_client, admin_client, monkeypatch
):
    factories.make_parent("SB44001")
    standby_db.caught_up()
    monkeypatch.setattr(replica, "CHECK_SECONDS", 60)  # the measure below still stands when the pages are asked
    assert replica.state().usable
    with standby_db.stopped():
        started = time.monotonic()
        # Its connection fails as the search takes it: the search reads the primary, and so does what follows.
        assert "SB44001" in search_codes(biller_client, "SB440")
        assert time.monotonic() - started < 5
        assert replica.state().cause == "unreachable"
        assert biller_client.get(reverse("reports:report")).status_code == 200
        assert biller_client.get(reverse("dashboard-stats")).status_code == 200
        assert biller_client.get(reverse("exports:bags"), {"bags-file_format": "csv"}).status_code == 200
        assert "unreachable" in admin_client.get(reverse("system")).content.decode()
    # Started again: the pool's connections to the stopped server are replaced as they are taken, no 503.
    replica.forget()
    assert "SB44001" in search_codes(biller_client, "SB440")
    assert replica.state().usable


def test_the_system_page_shows_the_replicas_lag(standby_db, admin_client):
    page = admin_client.get(reverse("system")).content.decode()
    assert "Read replica" in page
    assert f"127.0.0.1:{standby_db.port}/" in page
    # Caught up, unless another test process's writes (pytest-xdist, one server) are on their way.
    lag = re.search(r'id="replica-lag">(\d+\.\d) s', page)
    assert lag is not None
    assert float(lag[1]) < ROOMY_LAG_SECONDS
    assert "the reports, search, exports and dashboard read from it" in page


def test_the_lag_is_measured_once_a_second_not_per_read(standby_db):
    first = replica.state()
    assert replica.state() is first
    assert all(replica.read_alias() == "default" for _ in range(3))  # outside a reads_replica view: no check
