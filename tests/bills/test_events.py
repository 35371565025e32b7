"""A parent's story on bills: bills_billevent, written by the database's triggers on bills_billbag whoever
writes it (the bill services, the admin, raw SQL), never changed afterwards; and scan events append-only."""

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse

from accounts.models import Role
from bills import services
from bills.choices import BillEventAction
from bills.models import BillBag, BillEvent
from scanning.models import Scan
from tests import factories
from tests.db import refused_by


@pytest.fixture
def bill(biller, mustard):
    return factories.make_bill(biller, bill_number="INV-7", expected_parents=2)


def story(parent) -> list[tuple[str, str, str | None, object]]:
    events = BillEvent.objects.filter(parent_bag=parent).order_by("created_at", "pk")
    return [
        (event.action, event.bill_number, event.user.username if event.user else None, event.created_at)
        for event in events
    ]


def test_each_bill_service_leaves_its_event_with_who_and_when(biller, bill, clock, admin_user):
    parent = factories.make_parent("SB00001")
    factories.link(parent, factories.make_child("C0000001"))
    start = clock.now
    services.add_parent(user=biller, bill_id=bill.pk, raw_code="SB00001")
    clock.shift(minutes=1)
    services.remove_parent(user=biller, bill_id=bill.pk, raw_code="SB00001")
    clock.shift(minutes=1)
    services.add_parent(user=biller, bill_id=bill.pk, raw_code="SB00001")
    clock.shift(minutes=1)
    services.finalise_bill(user=biller, bill_id=bill.pk)
    clock.shift(minutes=1)
    services.reopen_bill(user=admin_user, bill_id=bill.pk)

    minute = timedelta(minutes=1)
    assert story(parent) == [
        (BillEventAction.ADDED, "INV-7", "biller1", start),
        (BillEventAction.REMOVED, "INV-7", "biller1", start + minute),
        (BillEventAction.ADDED, "INV-7", "biller1", start + 2 * minute),
        (BillEventAction.FINALISED, "INV-7", "biller1", start + 3 * minute),
        (BillEventAction.REOPENED, "INV-7", admin_user.username, start + 4 * minute),
    ]


def test_a_write_outside_the_services_leaves_its_event_too(biller, bill, clock):
    parent = factories.make_parent("SB00001")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bills_billbag (bill_id, parent_bag_id, added_by_id, added_at) VALUES (%s, %s, %s, %s)",
            [bill.pk, parent.pk, biller.pk, clock.now],
        )
        cursor.execute("DELETE FROM bills_billbag WHERE bill_id = %s", [bill.pk])

    assert [(action, user) for action, _, user, _ in story(parent)] == [
        (BillEventAction.ADDED, "biller1"),  # the entry's added_by
        (BillEventAction.REMOVED, None),  # no one said who
    ]


def test_deleting_a_bill_in_the_admin_names_the_admin(admin_client, admin_user, biller, bill):
    parent = factories.make_parent("SB00001")
    factories.put_on_bill(bill, parent)

    response = admin_client.post(reverse("admin:bills_bill_delete", args=[bill.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert [(action, user) for action, _, user, _ in story(parent)][-1] == (
        BillEventAction.REMOVED,
        admin_user.username,
    )


def test_a_returned_parent_stays_on_its_bill_and_may_go_onto_another(biller, bill, clock):
    parent = factories.make_parent("SB00001")
    factories.link(parent, factories.make_child("C0000001"))
    services.add_parent(user=biller, bill_id=bill.pk, raw_code="SB00001")
    services.finalise_bill(user=biller, bill_id=bill.pk)
    entry = BillBag.objects.get()
    frozen = (entry.frozen_child_count, entry.frozen_capacity, entry.frozen_child_weight_kg, entry.frozen_child_codes)

    BillBag.objects.filter(pk=entry.pk).update(returned_at=clock.now, returned_on="RTN-20261120-0001")
    second = factories.make_bill(biller, bill_number="INV-8", expected_parents=1)
    services.add_parent(user=biller, bill_id=second.pk, raw_code="SB00001")

    entry.refresh_from_db()
    assert (
        entry.frozen_child_count,
        entry.frozen_capacity,
        entry.frozen_child_weight_kg,
        entry.frozen_child_codes,
    ) == frozen
    assert BillBag.objects.current().get(parent_bag=parent).bill == second
    returned = BillEvent.objects.get(action=BillEventAction.RETURNED)
    assert (returned.bill_number, returned.return_ticket) == ("INV-7", "RTN-20261120-0001")
    with refused_by("billbag_parent_on_one_bill", BillBag):
        factories.put_on_bill(factories.make_bill(biller, bill_number="INV-9"), parent)


def test_only_a_finalised_entry_can_be_marked_returned(biller, bill, clock):
    entry = factories.put_on_bill(bill, factories.make_parent("SB00001"))

    with refused_by("billbag_returned_from_finalised", BillBag):
        BillBag.objects.filter(pk=entry.pk).update(returned_at=clock.now, returned_on="RTN-20261120-0001")


def test_an_entry_keeps_its_bill_and_parent(biller, bill):
    entry = factories.put_on_bill(bill, factories.make_parent("SB00001"))

    with refused_by("billbag_fixed"):
        BillBag.objects.filter(pk=entry.pk).update(parent_bag=factories.make_parent("SB00002"))


def test_bill_events_are_never_changed_or_deleted(biller, bill):
    factories.put_on_bill(bill, factories.make_parent("SB00001"))

    with refused_by("billevent_append_only", BillEvent):
        BillEvent.objects.update(bill_number="FORGED")
    with refused_by("billevent_append_only", BillEvent):
        BillEvent.objects.all().delete()


def test_scan_events_are_never_changed_or_deleted(db):
    dispatcher = factories.make_user("dispatcher1")
    Scan.objects.create(user=dispatcher, action="open_parent", bag_qr="SB00001", parent_qr="SB00001")

    with refused_by("scan_append_only", Scan):
        Scan.objects.update(bag_qr="SB00002")
    with refused_by("scan_append_only", Scan):
        Scan.objects.all().delete()


def test_a_deleted_bag_keeps_its_events_and_their_ids(db):
    dispatcher = factories.make_user("dispatcher1", role=Role.DISPATCHER)
    child = factories.make_child("C0000001")
    event = Scan.objects.create(user=dispatcher, action="unlink", bag=child, bag_qr=child.qr_id)
    bag_id = child.pk

    child.delete()

    event.refresh_from_db()
    assert (event.bag_id, event.bag_qr) == (bag_id, "C0000001")
