"""The return ticket rules: numbering, the scan's refusals and its exactly-once answer, commit and cancel."""

from datetime import datetime

import pytest
from django.db import IntegrityError, transaction

from audit.choices import AuditAction
from audit.models import AuditLog
from bags.models import Bag, Link
from bills import services as bills
from bills.choices import BillEventAction
from bills.models import BillBag, BillEvent
from bills.services import BillRefused
from returns import services
from returns.choices import ReturnStatus
from returns.models import ReturnTicket, ReturnTicketBag
from returns.services import ReturnRefused
from tests import factories
from tests.bills.data import parent_with
from tests.clock import LOCAL
from tests.returns.conftest import scan

pytestmark = pytest.mark.django_db


def refusal(call) -> ReturnRefused:
    with pytest.raises(ReturnRefused) as raised:
        call()
    return raised.value


# Numbering


def test_tickets_are_numbered_per_local_day(biller, clock):
    clock.move_to(datetime(2026, 12, 3, 23, 50, tzinfo=LOCAL))
    first = factories.make_return_ticket(biller)
    second = factories.make_return_ticket(biller)
    clock.move_to(datetime(2026, 12, 4, 0, 5, tzinfo=LOCAL))  # 18:35 UTC the day before: the local day counts
    third = factories.make_return_ticket(biller)

    assert [first.number, second.number, third.number] == [
        "RTN-20261203-0001",
        "RTN-20261203-0002",
        "RTN-20261204-0001",
    ]


def test_the_database_refuses_a_second_ticket_with_a_days_serial(biller, ticket):
    with pytest.raises(IntegrityError, match="returnticket_day_serial_unique"), transaction.atomic():
        ReturnTicket.objects.create(
            number="RTN-20991231-0001", day=ticket.day, serial=ticket.serial, source="x", created_by=biller
        )


def test_the_database_refuses_a_number_of_another_shape(biller):
    with pytest.raises(IntegrityError, match="returnticket_number_format"), transaction.atomic():
        ReturnTicket.objects.create(number="RTN-1", day="2026-12-03", serial=1, source="x", created_by=biller)


def test_making_a_ticket_is_audited(biller, ticket):
    entry = AuditLog.objects.get(action=AuditAction.RETURNTICKET_CREATE)
    assert (entry.actor, entry.object_id, entry.after["number"]) == (biller, str(ticket.pk), ticket.number)


def test_a_dispatcher_cannot_make_a_ticket(db):
    dispatcher = factories.make_user("dispatcher1")
    assert refusal(lambda: services.create_ticket(user=dispatcher, source="x")).code == "forbidden"


# Scanning onto a ticket


def test_a_parent_from_a_finalised_bill_goes_on_the_ticket(biller, dispatched, ticket):
    change = scan(biller, ticket, "sb00001")

    assert change.code == "parent_added"
    assert change.message == f"SB00001 (bill INV-7) added to {ticket.number}: 1 parent."
    entry = ReturnTicketBag.objects.get()
    assert (entry.parent_qr, entry.bill_number, entry.added_by) == ("SB00001", "INV-7", biller)
    assert entry.bill_bag == BillBag.objects.get(parent_bag__qr_id="SB00001")
    assert BillBag.objects.current().count() == 2  # nothing released before the commit
    audit = AuditLog.objects.get(action=AuditAction.RETURNTICKET_PARENT_ADD)
    assert audit.after == {"parent_bag": "SB00001", "ticket": ticket.number, "parent_count": 1}


@pytest.mark.parametrize(
    ("code", "expected", "message"),
    [
        ("SB0000", "not_a_parent_code", "'SB0000' looks like a Mustard parent code, but those are SB followed"),
        ("C0000001", "not_a_parent_code", None),
        ("SB09999", "unknown_parent", "Parent bag SB09999 was not found."),
        ("SB00003", "not_on_any_bill", "SB00003 is not on any bill: only parents dispatched on a finalised bill"),
        ("SB00004", "bill_not_finalised", "SB00004 is on bill INV-8, which is not finalised: take it off"),
    ],
)
def test_a_scan_is_refused_in_plain_words(biller, dispatched, ticket, code, expected, message):
    parent_with(1, "SB00003")
    draft = factories.make_bill(biller, bill_number="INV-8")
    factories.put_on_bill(draft, parent_with(1, "SB00004"))

    refused = refusal(lambda: scan(biller, ticket, code))

    assert refused.code == expected
    if message:
        assert refused.message.startswith(message)
    assert not ReturnTicketBag.objects.exists()


def test_a_parent_already_on_this_ticket_is_refused(biller, dispatched, ticket):
    scan(biller, ticket, "SB00001")

    refused = refusal(lambda: scan(biller, ticket, "SB00001"))

    assert (refused.code, refused.message) == (
        "already_on_this_ticket",
        "SB00001 is already on this ticket. Nothing changed.",
    )


def test_a_parent_on_another_draft_ticket_is_refused_naming_it(biller, dispatched, ticket):
    scan(biller, ticket, "SB00001")
    other = factories.make_return_ticket(biller)

    refused = refusal(lambda: scan(biller, other, "SB00001"))

    assert refused.code == "already_on_ticket"
    assert refused.message.startswith(f"SB00001 is already on ticket {ticket.number}: commit or cancel")


def test_a_parent_returned_and_on_no_bill_since_is_refused_naming_the_ticket(biller, dispatched, ticket):
    scan(biller, ticket, "SB00001")
    services.commit_ticket(user=biller, ticket_id=ticket.pk)
    other = factories.make_return_ticket(biller)

    refused = refusal(lambda: scan(biller, other, "SB00001"))

    assert refused.code == "already_returned"
    assert refused.message == f"SB00001 was already returned on ticket {ticket.number} and is on no bill since."


def test_nothing_goes_onto_a_committed_or_cancelled_ticket(biller, dispatched, ticket):
    scan(biller, ticket, "SB00001")
    services.commit_ticket(user=biller, ticket_id=ticket.pk)
    cancelled = factories.make_return_ticket(biller)
    services.cancel_ticket(user=biller, ticket_id=cancelled.pk)

    assert refusal(lambda: scan(biller, ticket, "SB00002")).message == (
        f"Ticket {ticket.number} is committed: it cannot change."
    )
    assert refusal(lambda: scan(biller, cancelled, "SB00002")).code == "ticket_not_draft"


def test_a_scan_without_a_good_client_id_is_refused(biller, dispatched, ticket):
    refused = refusal(
        lambda: services.add_parent(user=biller, ticket_id=ticket.pk, raw_code="SB00001", client_scan_id="x")
    )
    assert (refused.code, refused.status) == ("bad_client_scan_id", 400)


# Exactly once


def test_a_repeated_scan_gets_its_first_answer_and_changes_nothing(biller, dispatched, ticket):
    first = scan(biller, ticket, "SB00001", "scan-0001")
    scan(biller, ticket, "SB00002", "scan-0002")

    again = scan(biller, ticket, "SB00001", "scan-0001")

    assert (again.code, again.message, again.replayed) == (first.code, first.message, True)
    assert ReturnTicketBag.objects.count() == 2
    assert AuditLog.objects.filter(action=AuditAction.RETURNTICKET_PARENT_ADD).count() == 2


def test_a_repeated_refused_scan_gets_the_same_refusal(biller, dispatched, ticket):
    first = refusal(lambda: scan(biller, ticket, "SB09999", "scan-0001"))
    parent_with(0, "SB09999")  # the bag exists now: the repeat still answers what the scan was told

    again = refusal(lambda: scan(biller, ticket, "SB09999", "scan-0001"))

    assert (again.code, again.message, again.status) == (first.code, first.message, 404)


def test_a_scan_id_is_one_users(biller, other_biller, dispatched, ticket):
    scan(biller, ticket, "SB00001", "scan-0001")

    assert refusal(lambda: scan(other_biller, ticket, "SB00002", "scan-0001")).code == "client_scan_id_taken"


def test_a_scan_id_used_on_another_ticket_is_refused(biller, dispatched, ticket):
    scan(biller, ticket, "SB00001", "scan-0001")
    other = factories.make_return_ticket(biller)

    assert refusal(lambda: scan(biller, other, "SB00001", "scan-0001")).code == "client_scan_id_taken"


# Removing


def test_a_parent_comes_off_a_draft_ticket(biller, dispatched, ticket):
    scan(biller, ticket, "SB00001")

    change = services.remove_parent(user=biller, ticket_id=ticket.pk, raw_code="SB00001")

    assert change.message == f"SB00001 taken off {ticket.number}: 0 parents left."
    assert not ReturnTicketBag.objects.exists()
    assert refusal(lambda: services.remove_parent(user=biller, ticket_id=ticket.pk, raw_code="SB00001")).code == (
        "not_on_this_ticket"
    )


# Commit


def test_commit_releases_each_parent_from_its_bill(biller, dispatched, ticket, clock):
    scan(biller, ticket, "SB00001")
    scan(biller, ticket, "SB00002")

    change = services.commit_ticket(user=biller, ticket_id=ticket.pk)

    assert change.message == f"Ticket {ticket.number} committed: 2 parents returned from bill INV-7."
    ticket.refresh_from_db()
    assert (ticket.status, ticket.committed_by, ticket.committed_at) == (ReturnStatus.COMMITTED, biller, clock.now)
    entries = BillBag.objects.filter(bill=dispatched).order_by("pk")
    assert [(entry.returned_on, entry.returned_at) for entry in entries] == [(ticket.number, clock.now)] * 2
    assert [entry.frozen_child_count for entry in entries] == [3, 2]  # the snapshot is kept
    events = BillEvent.objects.filter(action=BillEventAction.RETURNED).order_by("pk")
    assert [
        (event.parent_qr, event.bill_number, event.return_ticket, event.user, event.created_at) for event in events
    ] == [
        ("SB00001", "INV-7", ticket.number, biller, clock.now),
        ("SB00002", "INV-7", ticket.number, biller, clock.now),
    ]
    audit = AuditLog.objects.get(action=AuditAction.RETURNTICKET_COMMIT)
    assert audit.after["parents"] == [
        {"parent_bag": "SB00001", "bill": "INV-7"},
        {"parent_bag": "SB00002", "bill": "INV-7"},
    ]


def test_a_returned_parent_keeps_its_children_and_goes_onto_a_new_bill(biller, dispatched, ticket):
    scan(biller, ticket, "SB00001")
    services.commit_ticket(user=biller, ticket_id=ticket.pk)
    new_bill = factories.make_bill(biller, bill_number="INV-9")

    bills.add_parent(user=biller, bill_id=new_bill.pk, raw_code="SB00001")

    parent = Bag.objects.get(qr_id="SB00001")
    assert (parent.child_count, Link.objects.filter(parent=parent).count()) == (3, 3)
    assert BillBag.objects.current().get(parent_bag=parent).bill == new_bill
    assert BillBag.objects.filter(parent_bag=parent).count() == 2  # the old entry stays, marked


def test_commit_of_an_empty_ticket_is_refused(biller, ticket):
    assert refusal(lambda: services.commit_ticket(user=biller, ticket_id=ticket.pk)).code == "ticket_empty"


def test_a_committed_ticket_is_not_committed_again(biller, dispatched, ticket):
    scan(biller, ticket, "SB00001")
    services.commit_ticket(user=biller, ticket_id=ticket.pk)

    assert refusal(lambda: services.commit_ticket(user=biller, ticket_id=ticket.pk)).code == "already_committed"
    assert BillEvent.objects.filter(action=BillEventAction.RETURNED).count() == 1


def test_of_two_draft_tickets_holding_a_parent_the_first_commit_wins(biller, dispatched, ticket):
    # Scans refuse a parent on another draft; whatever put it on two anyway (the admin, a script): made here.
    other = factories.make_return_ticket(biller)
    scan(biller, ticket, "SB00001")
    scan(biller, other, "SB00002")
    ReturnTicketBag.objects.create(ticket=other, parent_bag=Bag.objects.get(qr_id="SB00001"), parent_qr="SB00001")
    services.commit_ticket(user=biller, ticket_id=ticket.pk)

    refused = refusal(lambda: services.commit_ticket(user=biller, ticket_id=other.pk))

    assert refused.code == "already_returned"
    assert refused.message == (
        f"SB00001 was returned on ticket {ticket.number} first. Take it off {other.number}, then commit."
    )
    # All or nothing: SB00002 stays on its bill and the ticket a draft.
    assert BillBag.objects.current().filter(parent_bag__qr_id="SB00002").exists()
    other.refresh_from_db()
    assert other.status == ReturnStatus.DRAFT


def test_commit_is_refused_while_a_parents_bill_is_reopened(biller, admin_user, dispatched, ticket):
    scan(biller, ticket, "SB00001")
    bills.reopen_bill(user=admin_user, bill_id=dispatched.pk)

    refused = refusal(lambda: services.commit_ticket(user=biller, ticket_id=ticket.pk))

    assert refused.code == "bill_not_finalised"
    assert refused.message.startswith("SB00001 is on bill INV-7, which is no longer finalised.")


def test_a_bill_with_returned_parents_is_not_reopened(biller, admin_user, dispatched, ticket):
    scan(biller, ticket, "SB00001")
    services.commit_ticket(user=biller, ticket_id=ticket.pk)

    with pytest.raises(BillRefused) as raised:
        bills.reopen_bill(user=admin_user, bill_id=dispatched.pk)

    assert raised.value.code == "has_returned_parents"
    assert ticket.number in raised.value.message
    assert BillBag.objects.filter(bill=dispatched, frozen_child_count__isnull=False).count() == 2


# Cancel


def test_cancel_changes_nothing_on_the_bills(biller, dispatched, ticket, clock):
    scan(biller, ticket, "SB00001")
    events = BillEvent.objects.count()

    change = services.cancel_ticket(user=biller, ticket_id=ticket.pk)

    assert change.message == f"Ticket {ticket.number} cancelled: nothing was returned."
    ticket.refresh_from_db()
    assert (ticket.status, ticket.cancelled_by, ticket.cancelled_at) == (ReturnStatus.CANCELLED, biller, clock.now)
    assert BillBag.objects.current().count() == 2
    assert BillEvent.objects.count() == events
    assert AuditLog.objects.filter(action=AuditAction.RETURNTICKET_CANCEL).count() == 1
    # The parent is free for another ticket.
    assert scan(biller, factories.make_return_ticket(biller), "SB00001").code == "parent_added"
    assert refusal(lambda: services.cancel_ticket(user=biller, ticket_id=ticket.pk)).code == "ticket_not_draft"
