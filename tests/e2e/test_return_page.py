"""The return ticket page in a real browser: a keyboard-wedge scanner types the codes of parents that came
back and presses Enter into the page, which must already have focus; committing releases them from the bill.

Transactional (the live server answers from its own thread); serialized_rollback restores the products.
"""

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Role
from bills import services as bills
from bills.models import BillBag
from returns.models import ReturnTicket, ReturnTicketBag
from tests import factories
from tests.bills.data import parent_with
from tests.e2e.browser import GREEN, RECORD_FEEDBACK, RED, log_in, scan

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def biller():
    return factories.make_user("e2e-biller", role=Role.BILLER)


@pytest.fixture
def dispatched(biller):
    bill = factories.make_bill(biller, bill_number="INV-7", expected_parents=2)
    for count, code in ((3, "SB00001"), (2, "SB00002")):
        bills.add_parent(user=biller, bill_id=bill.pk, raw_code=parent_with(count, code).qr_id)
    bills.finalise_bill(user=biller, bill_id=bill.pk)
    return bill


@pytest.fixture
def ticket_page(page, biller, dispatched) -> Page:
    page.add_init_script(RECORD_FEEDBACK)
    log_in(page, biller, "/returns/")
    page.click("#new-ticket")
    page.fill("#id_source", "Jaipur mandi")
    page.click("#ticket-form button[type=submit]")
    page.wait_for_url("**/returns/*/")
    expect(page.locator("#ticket-scan-input")).to_be_focused()
    return page


def status(page: Page):
    return page.locator("#ticket-scan-status")


def test_returning_a_parent_by_scanning_it_and_committing(ticket_page, dispatched):
    page = ticket_page
    ticket = ReturnTicket.objects.get()

    scan(page, "sb00001")

    expect(page.locator("#ticket-parents-body tr[data-code]")).to_have_count(1)
    expect(status(page)).to_have_attribute("data-state", "ok")
    expect(status(page)).to_have_css("background-color", GREEN)
    expect(page.locator("#ticket-scan-status-text")).to_have_text(
        f"SB00001 (bill INV-7) added to {ticket.number}: 1 parent."
    )
    expect(page.locator("#total-children")).to_have_text("3")
    expect(page.locator("#ticket-scan-input")).to_be_focused()
    expect(page.locator("#ticket-scan-input")).to_have_value("")

    scan(page, "SB00001")  # a second, later read of the same bag: refused, in red, with two low tones
    page.wait_for_timeout(1100)  # past the double-read window, so it is sent
    scan(page, "SB00001")
    expect(status(page)).to_have_attribute("data-state", "refused")
    expect(status(page)).to_have_css("background-color", RED)
    expect(page.locator("#ticket-scan-status-text")).to_have_text("SB00001 is already on this ticket. Nothing changed.")
    assert page.evaluate("window.__tones") == [1760, 220, 220]
    assert ReturnTicketBag.objects.count() == 1

    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#commit-button")

    expect(page.locator("#ticket-committed")).to_be_visible()
    expect(page.locator("#ticket-scan-input")).to_have_count(0)
    assert BillBag.objects.get(parent_bag__qr_id="SB00001").returned_on == ticket.number
    assert BillBag.objects.current().filter(parent_bag__qr_id="SB00002").exists()

    page.goto(f"/bills/{dispatched.pk}/")
    expect(page.locator("tr[data-code=SB00001] .tt-returned")).to_have_text(f"returned on {ticket.number}")


def test_refusals_show_the_servers_sentence_in_red(ticket_page, biller):
    page = ticket_page
    parent_with(1, "SB00003")
    draft = factories.make_bill(biller, bill_number="INV-8")
    factories.put_on_bill(draft, parent_with(1, "SB00004"))

    for code, sentence in (
        ("SB00003", "SB00003 is not on any bill"),
        ("SB00004", "SB00004 is on bill INV-8, which is not finalised"),
        ("SB99999", "Parent bag SB99999 was not found."),
    ):
        scan(page, code)
        expect(page.locator("#ticket-scan-status-text")).to_contain_text(sentence)
        expect(status(page)).to_have_attribute("data-state", "refused")

    assert not ReturnTicketBag.objects.exists()


def test_remove_takes_a_parent_off_and_the_scanner_keeps_focus(ticket_page):
    page = ticket_page
    scan(page, "SB00002")
    expect(page.locator("#ticket-parents-body tr[data-code]")).to_have_count(1)

    page.locator("#ticket-parents-body tr[data-code=SB00002] button").click()

    expect(page.locator("#ticket-parents-body tr[data-code]")).to_have_count(0)
    expect(page.locator("#ticket-scan-input")).to_be_focused()
    assert not ReturnTicketBag.objects.exists()


def test_a_command_barcode_is_not_for_the_return_page(ticket_page):
    page = ticket_page

    scan(page, "tt-cmd-undo")

    expect(status(page)).to_have_attribute("data-state", "refused")
    expect(page.locator("#ticket-scan-status-text")).to_have_text(
        "TT-CMD-UNDO is a command barcode for the Scan page. It does nothing here: scan a parent bag."
    )
    assert page.evaluate("window.__tones") == [220, 220]
    assert ReturnTicketBag.objects.count() == 0
