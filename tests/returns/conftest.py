import uuid

import pytest

from accounts.models import Role
from bills import services as bills
from returns import services
from tests import factories
from tests.bills.data import parent_with


@pytest.fixture
def biller(db):
    return factories.make_user("biller1", role=Role.BILLER)


@pytest.fixture
def other_biller(db):
    return factories.make_user("biller2", role=Role.BILLER)


@pytest.fixture
def biller_client(client, biller):
    client.force_login(biller)
    return client


@pytest.fixture
def dispatched(biller):
    """Bill INV-7, finalised with SB00001 (3 children) and SB00002 (2 children)."""
    bill = factories.make_bill(biller, bill_number="INV-7", customer="Jaipur mandi", expected_parents=2)
    for count, code in ((3, "SB00001"), (2, "SB00002")):
        bills.add_parent(user=biller, bill_id=bill.pk, raw_code=parent_with(count, code).qr_id)
    bills.finalise_bill(user=biller, bill_id=bill.pk)
    return bill


@pytest.fixture
def ticket(biller):
    return factories.make_return_ticket(biller, source="Jaipur mandi")


def scan_id() -> str:
    return uuid.uuid4().hex


def scan(user, ticket, code: str, client_scan_id: str | None = None):
    return services.add_parent(
        user=user, ticket_id=ticket.pk, raw_code=code, client_scan_id=client_scan_id or scan_id()
    )
