"""Billers at the same moment on real PostgreSQL: threads, each on its own connection, released together.

These tests commit (transaction=True), so what one thread wrote is what the others race against;
serialized_rollback puts the data migration's products back afterwards.
"""

import uuid
from collections import Counter

import pytest

from accounts.models import Role
from bags.models import Bag
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
from tests.concurrency import all_at_once

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def attempt(call):
    try:
        return call()
    except (ReturnRefused, BillRefused) as refusal:
        return refusal


@pytest.fixture
def billers():
    return [factories.make_user(f"b{n}", role=Role.BILLER) for n in range(2)]


@pytest.fixture
def dispatched(billers):
    bill = factories.make_bill(billers[0], bill_number="INV-7")
    bills.add_parent(user=billers[0], bill_id=bill.pk, raw_code=parent_with(2, "SB00001").qr_id)
    bills.finalise_bill(user=billers[0], bill_id=bill.pk)
    return bill


def test_two_commits_of_tickets_holding_the_same_parent_exactly_one_wins(wide_pool, billers, dispatched):
    parent = Bag.objects.get(qr_id="SB00001")
    for round_ in range(1, 6):  # the race goes either way; it must end the same way every time
        tickets = [factories.make_return_ticket(biller) for biller in billers]
        # On both drafts, as no scan leaves it (they refuse a parent on another draft) but the admin may.
        for ticket in tickets:
            ReturnTicketBag.objects.create(ticket=ticket, parent_bag=parent, parent_qr="SB00001")

        answers = all_at_once(
            [
                lambda biller=biller, ticket=ticket: attempt(
                    lambda: services.commit_ticket(user=biller, ticket_id=ticket.pk)
                )
                for biller, ticket in zip(billers, tickets, strict=True)
            ]
        )

        assert Counter(answer.code for answer in answers) == {"committed": 1, "already_returned": 1}
        winner = next(answer.ticket for answer in answers if not isinstance(answer, ReturnRefused))
        loser = next(answer for answer in answers if isinstance(answer, ReturnRefused))
        assert f"returned on ticket {winner.number} first" in loser.message
        assert BillBag.objects.get(parent_bag=parent).returned_on == winner.number
        assert BillEvent.objects.filter(action=BillEventAction.RETURNED).count() == round_  # one more a round
        assert ReturnTicket.objects.filter(status=ReturnStatus.COMMITTED).count() == 1
        # Ready for the next round: the parent back on its bill, as it was (bill events are append-only).
        BillBag.objects.filter(parent_bag=parent).update(returned_at=None, returned_on="")
        ReturnTicket.objects.all().delete()


def test_two_billers_scanning_one_parent_onto_two_tickets_at_once_exactly_one_gets_it(wide_pool, billers, dispatched):
    for _ in range(5):
        tickets = [factories.make_return_ticket(biller) for biller in billers]

        answers = all_at_once(
            [
                lambda biller=biller, ticket=ticket: attempt(
                    lambda: services.add_parent(
                        user=biller, ticket_id=ticket.pk, raw_code="SB00001", client_scan_id=uuid.uuid4().hex
                    )
                )
                for biller, ticket in zip(billers, tickets, strict=True)
            ]
        )

        assert Counter(answer.code for answer in answers) == {"parent_added": 1, "already_on_ticket": 1}
        winner = ReturnTicketBag.objects.select_related("ticket").get().ticket
        loser = next(answer for answer in answers if isinstance(answer, ReturnRefused))
        assert loser.message.startswith(f"SB00001 is already on ticket {winner.number}:")
        ReturnTicket.objects.all().delete()


def test_the_same_scan_sent_twice_at_once_is_recorded_once(wide_pool, billers, dispatched):
    ticket = factories.make_return_ticket(billers[0])

    answers = all_at_once(
        [
            lambda: attempt(
                lambda: services.add_parent(
                    user=billers[0], ticket_id=ticket.pk, raw_code="SB00001", client_scan_id="scan-0001"
                )
            )
            for _ in range(2)
        ]
    )

    assert [answer.code for answer in answers] == ["parent_added", "parent_added"]
    assert sorted(answer.replayed for answer in answers) == [False, True]
    assert ReturnTicketBag.objects.count() == 1


def test_ten_tickets_made_at_once_get_ten_numbers(wide_pool, billers):
    answers = all_at_once([lambda: services.create_ticket(user=billers[0], source="Gate 2") for _ in range(10)])

    assert sorted(answer.ticket.serial for answer in answers) == list(range(1, 11))
    assert len({answer.ticket.number for answer in answers}) == 10


def test_a_commit_racing_a_reopen_of_its_bill_leaves_one_of_them_done(wide_pool, billers, dispatched):
    admin = factories.make_user("admin", role=Role.ADMIN)
    ticket = factories.make_return_ticket(billers[0])
    services.add_parent(user=billers[0], ticket_id=ticket.pk, raw_code="SB00001", client_scan_id="scan-0001")

    commit, reopen = all_at_once(
        [
            lambda: attempt(lambda: services.commit_ticket(user=billers[0], ticket_id=ticket.pk)),
            lambda: attempt(lambda: bills.reopen_bill(user=admin, bill_id=dispatched.pk)),
        ]
    )

    assert (commit.code, reopen.code) in {("committed", "has_returned_parents"), ("bill_not_finalised", "reopened")}
