"""scanning.managers.ScanTransaction: a scan is two round trips, and never commits anything half-written.

These tests commit (transaction=True): BEGIN and COMMIT are sent for real, as in production, not the
savepoints that stand in for them inside a test's transaction.
"""

import uuid

import psycopg
import pytest
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext

from bags.models import Bag, Link, Product
from scanning import services
from scanning.managers import is_write_conflict
from scanning.models import Scan, ScanReply
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def dispatcher():
    return factories.make_user("d1", area=factories.make_area())


@pytest.fixture
def parent(dispatcher):
    return factories.make_parent("SB00001", dispatch_area=dispatcher.dispatch_area)


def statements_of(call) -> list[str]:
    Product.objects.parent_formats()  # kept in the process, as in a running worker
    with CaptureQueriesContext(connection) as captured:
        call()
    return [query["sql"].strip() for query in captured.captured_queries]


def test_a_child_scan_is_two_round_trips_begin_with_the_read_commit_with_the_write(dispatcher, parent):
    sent = statements_of(
        lambda: services.scan_child(
            user=dispatcher, parent_code="SB00001", raw_code="CHILD0001", client_scan_id=uuid.uuid4().hex
        )
    )

    assert len(sent) == 2
    assert sent[0].startswith("BEGIN;") and "FOR UPDATE" in sent[0]
    assert "INSERT INTO bags_link" in sent[1] and sent[1].endswith("COMMIT")
    assert Link.objects.get().parent == parent


def test_a_refused_child_scan_is_two_round_trips_and_keeps_its_answer(dispatcher, parent):
    factories.link(factories.make_parent("SB00002"), factories.make_child("CHILD0001"))
    client_scan_id = uuid.uuid4().hex

    sent = statements_of(
        lambda: services.scan_child(
            user=dispatcher, parent_code="SB00001", raw_code="CHILD0001", client_scan_id=client_scan_id
        )
    )

    assert len(sent) == 2
    assert sent[1].startswith("INSERT INTO scanning_scanreply") and sent[1].endswith("COMMIT")
    assert ScanReply.objects.get(pk=client_scan_id).body["code"] == "child_in_other_parent"


def test_opening_a_parent_is_two_round_trips(dispatcher):
    sent = statements_of(
        lambda: services.open_parent(user=dispatcher, raw_code="SB00009", client_scan_id=uuid.uuid4().hex)
    )

    assert len(sent) == 2
    assert sent[0].startswith("BEGIN;") and sent[1].endswith("COMMIT")
    assert Bag.objects.filter(qr_id="SB00009", kind="parent").exists()


def test_leaving_the_block_after_the_read_rolls_back_and_releases_the_lock(dispatcher, parent):
    with Scan.objects.transaction() as tx:
        state = tx.child_scan_state(client_scan_id="never-used-1", parent_qr="SB00001", child_qr="CHILD0001")
        assert connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS

    assert state.parent_id == parent.pk
    assert connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    # The parent is free again: another connection can lock it at once.
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SET lock_timeout = '1s'")
        other.execute("SELECT 1 FROM bags_bag WHERE id = %s FOR UPDATE", [parent.pk])


def test_a_write_that_finds_its_client_id_taken_meanwhile_commits_nothing(dispatcher, parent):
    client_scan_id = uuid.uuid4().hex
    with pytest.raises(OperationalError) as raised, Scan.objects.transaction() as tx:
        state = tx.child_scan_state(client_scan_id=client_scan_id, parent_qr="SB00001", child_qr="CHILD0001")
        assert state.reply is None
        # Another request, with the same client id but another payload, answers and commits meanwhile.
        with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
            other.execute(
                "INSERT INTO scanning_scanreply (client_scan_id, user_id, status, body, created_at)"
                " VALUES (%s, %s, 409, '{}', now())",
                [client_scan_id, dispatcher.pk],
            )
        tx.link_child(
            client_scan_id=client_scan_id,
            user_id=dispatcher.pk,
            area_id=parent.dispatch_area_id,
            parent_id=parent.pk,
            parent_qr="SB00001",
            child_id=None,
            child_qr="CHILD0001",
            body={"ok": True},
        )

    assert is_write_conflict(raised.value)
    assert not Bag.objects.filter(qr_id="CHILD0001").exists()
    assert not Link.objects.exists()
    assert not Scan.objects.filter(client_scan_id=client_scan_id).exists()
    assert Bag.objects.get(pk=parent.pk).child_count == 0


def test_a_scan_whose_write_keeps_conflicting_is_refused_as_busy_with_nothing_written(dispatcher, parent):
    # Whatever the scan writes, its client id is taken first in the same statement: every attempt conflicts.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE FUNCTION test_take_reply() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO scanning_scanreply (client_scan_id, user_id, status, body, created_at)
                VALUES ('taken-id-0001', NEW.created_by_id, 409, '{}', now());
                RETURN NEW;
            END $$;
            CREATE TRIGGER test_take_reply BEFORE INSERT ON bags_link FOR EACH ROW EXECUTE FUNCTION test_take_reply();
            """
        )
    try:
        answer_or_refusal = None
        with pytest.raises(services.ScanRefused) as refused:
            answer_or_refusal = services.scan_child(
                user=dispatcher, parent_code="SB00001", raw_code="CHILD0001", client_scan_id="taken-id-0001"
            )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER test_take_reply ON bags_link; DROP FUNCTION test_take_reply()")

    assert answer_or_refusal is None
    assert (refused.value.code, refused.value.status) == ("busy", 503)
    assert not Link.objects.exists()
    assert not ScanReply.objects.exists()
    assert not Bag.objects.filter(qr_id="CHILD0001").exists()


def test_a_scan_inside_another_transaction_is_refused(dispatcher, parent):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.scan_child(
            user=dispatcher, parent_code="SB00001", raw_code="CHILD0001", client_scan_id=uuid.uuid4().hex
        )

    assert not Link.objects.exists()
