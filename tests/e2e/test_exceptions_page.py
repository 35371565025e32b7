"""The exceptions list on a 375 x 740 phone in a real browser: it fits the screen, its screenshot goes to the
test artefacts, and a row's link opens the page that fixes the problem.

Transactional (the live server answers from its own thread); serialized_rollback restores the products and
the thresholds' row.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from bags.models import Bag
from bills.models import Bill
from tests import factories
from tests.bills.data import fill
from tests.e2e.browser import log_in
from tests.e2e.test_phone_pages import assert_fits_the_phone

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_the_exceptions_list_on_a_phone_links_to_the_fixing_page(phone, artifacts):
    biller = factories.make_user("e2e-exceptions-biller", role=Role.BILLER)
    yesterday = timezone.now() - timedelta(days=1, hours=1)
    half_full = factories.make_parent("SB81001")
    fill(half_full, 12)
    full = factories.make_parent("SB81002")
    fill(full, 30)
    Bag.objects.filter(pk__in=[half_full.pk, full.pk]).update(created_at=yesterday)
    bill = factories.make_bill(biller, bill_number="TT-2026-0099", customer="Kota depot, gate 4")
    Bill.objects.filter(pk=bill.pk).update(created_at=timezone.now() - timedelta(days=5))
    log_in(phone, biller, "/reports/exceptions/")

    expect(phone.locator("#rule-parents_not_full li[data-code=SB81001]")).to_contain_text("12 of 30 children")
    expect(phone.locator("#rule-parents_unbilled li[data-code=SB81002]")).to_be_visible()
    expect(phone.locator("#rule-draft_bills li[data-code=TT-2026-0099]")).to_contain_text("Kota depot")
    expect(phone.locator("#nav-exceptions .badge")).to_have_text("3 open")
    assert_fits_the_phone(phone)
    phone.screenshot(path=str(artifacts / "exceptions-375x740.png"))

    phone.locator("#rule-parents_not_full").get_by_role("link", name="SB81001").click()
    phone.wait_for_url("**/bags/SB81001/")
    expect(phone.locator("main")).to_contain_text("SB81001")

    phone.go_back()
    phone.locator("#rule-draft_bills").get_by_role("link", name="TT-2026-0099").click()
    phone.wait_for_url(f"**/bills/{bill.pk}/")
