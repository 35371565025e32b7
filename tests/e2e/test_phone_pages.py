"""The biller's and the dispatcher's pages on a 375 x 740 phone in a real browser: nothing wider than the
screen (the browser would zoom the whole page out), the navbar one row and the bottom bar on one line, the
scan page's answer, buttons and last scan above the fold, bill numbers on one line, weights as people write
them ("4.5 kg", not "4.500 kg"), a draft's shortfall as a calm note, who made each scan. Screenshots of each
page go to the test artefacts.

Transactional (the live server answers from its own thread); serialized_rollback restores the products.
"""

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Role
from bills import services as bills
from tests import factories
from tests.bills.data import parent_with
from tests.e2e.browser import RED, log_in, scan
from tests.e2e.conftest import PHONE

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


# The elements sticking out past the right edge, to say what overflows when the page is too wide.
WIDER_THAN_THE_SCREEN = """() => [...document.querySelectorAll("body *")]
    .filter((node) => node.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
    .slice(0, 8)
    .map((node) => `${node.tagName.toLowerCase()}#${node.id}.${node.className} ${node.getBoundingClientRect().right}`)
"""


def assert_no_sideways_scrolling(table) -> None:
    """The table fits its scrolling wrapper (.table-responsive): nothing to swipe sideways."""
    wrapper = table.evaluate("(node) => [node.parentElement.scrollWidth, node.parentElement.clientWidth]")
    assert wrapper[0] <= wrapper[1], f"the table is {wrapper[0]} px wide in {wrapper[1]} px"


# Each bottom bar link's label against the room it has: a label wider than its link is cut or spills over.
BOTTOM_LINKS = """() => [...document.querySelectorAll('.tt-bottom-link')]
    .map((link) => ({label: link.textContent.trim(), need: link.scrollWidth, room: link.clientWidth,
                     height: link.getBoundingClientRect().height}))
"""


def assert_fits_the_phone(page: Page) -> None:
    """Nothing wider than the screen, the navbar one row and the bottom bar's labels whole on one line."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide: {page.evaluate(WIDER_THAN_THE_SCREEN)}"
    navbar = page.locator(".tt-navbar").bounding_box()["height"]
    assert navbar <= 56, f"the navbar is {navbar} px tall on {page.url}: more than one row"
    for link in page.evaluate(BOTTOM_LINKS):
        assert link["need"] <= link["room"], f"{link['label']} needs {link['need']} px, has {link['room']}"
        assert 44 <= link["height"] <= 56, link


@pytest.fixture
def biller():
    return factories.make_user("e2e-phone-biller", role=Role.BILLER)


def test_a_draft_bill_on_a_phone(phone, biller, artifacts):
    bill = factories.make_bill(biller, bill_number="TT-2026-0001", customer="Jaipur mandi", expected_parents=3)
    for count, code in ((30, "SB00001"), (12, "SB00002")):
        bills.add_parent(user=biller, bill_id=bill.pk, raw_code=parent_with(count, code).qr_id)
    parent_with(9, "M444-00001", product_code="moong")  # 0.5 kg a child
    log_in(phone, biller, f"/bills/{bill.pk}/")

    assert_fits_the_phone(phone)
    expect(phone.locator("#total-actual")).to_have_text("42")
    expect(phone.locator("#total-expected")).to_have_text("90")
    expect(phone.locator("#bill-totals")).to_contain_text("3 \u00d7 30 kg")  # expected parents times a full parent
    box = phone.locator("#total-difference-box")
    expect(phone.locator("#total-difference")).to_have_text("-48")
    expect(box).to_have_attribute("data-state", "short")
    expect(phone.locator("#total-difference-note")).to_have_text("still to load")
    assert box.evaluate("(node) => getComputedStyle(node).backgroundColor") != RED

    scan(phone, "M444-00001")  # the page redraws the totals from the answer, the same way

    expect(phone.locator("#bill-parents-body tr[data-code]")).to_have_count(3)
    expect(phone.locator("#total-actual")).to_have_text("46.5")
    expect(phone.locator("#total-difference")).to_have_text("-43.5")
    expect(phone.locator("#total-difference-note")).to_have_text("still to load")
    expect(phone.locator("#bill-parents-body tr[data-code=M444-00001] td").nth(4)).to_have_text("4.5")
    assert box.evaluate("(node) => getComputedStyle(node).backgroundColor") != RED
    assert_fits_the_phone(phone)
    assert_no_sideways_scrolling(phone.locator("#bill-parents"))
    phone.screenshot(path=str(artifacts / "bill-375x740.png"))
    phone.screenshot(path=str(artifacts / "bill-375x740-full.png"), full_page=True)


def test_a_finalised_bill_that_left_short_still_says_so_in_red(phone, biller):
    bill = factories.make_bill(biller, bill_number="TT-2026-0002", expected_parents=2)
    bills.add_parent(user=biller, bill_id=bill.pk, raw_code=parent_with(30, "SB00003").qr_id)
    bills.finalise_bill(user=biller, bill_id=bill.pk)
    log_in(phone, biller, f"/bills/{bill.pk}/")

    expect(phone.locator("#total-difference")).to_have_text("-30")
    expect(phone.locator("#total-difference-note")).to_have_text("short of expected")
    expect(phone.locator("#total-difference-box")).to_have_css("background-color", RED)
    assert_fits_the_phone(phone)


def test_the_bill_list_on_a_phone(phone, biller, artifacts):
    for number in range(1, 4):
        factories.make_bill(biller, bill_number=f"TT-2026-{number:04d}", customer="Jaipur mandi", expected_parents=5)
    log_in(phone, biller, "/bills/")

    assert_fits_the_phone(phone)
    link = phone.get_by_role("link", name="TT-2026-0001")
    line = link.evaluate("(node) => parseFloat(getComputedStyle(node).lineHeight)")
    assert link.bounding_box()["height"] < 1.5 * line  # one line, not "TT-2026-" above "0001"
    table = phone.locator("#bill-list")
    assert_no_sideways_scrolling(table)
    phone.screenshot(path=str(artifacts / "bill-list-375x740.png"))


def test_a_return_ticket_on_a_phone(phone, biller, artifacts):
    bill = factories.make_bill(biller, bill_number="TT-2026-0009", expected_parents=2)
    for count, code in ((3, "SB00011"), (2, "SB00012")):
        bills.add_parent(user=biller, bill_id=bill.pk, raw_code=parent_with(count, code).qr_id)
    bills.finalise_bill(user=biller, bill_id=bill.pk)
    ticket = factories.make_return_ticket(biller, source="Jaipur mandi")
    log_in(phone, biller, f"/returns/{ticket.pk}/")

    scan(phone, "SB00011")

    expect(phone.locator("#ticket-parents-body tr[data-code]")).to_have_count(1)
    assert_fits_the_phone(phone)
    assert_no_sideways_scrolling(phone.locator("#ticket-parents"))
    phone.screenshot(path=str(artifacts / "return-375x740.png"))


def test_lookup_and_bag_pages_say_who_scanned(phone, artifacts):
    dispatcher = factories.make_user("e2e-loader")
    log_in(phone, dispatcher, "/scan/")
    scan(phone, "SB00021")
    expect(phone.locator("#parent-code")).to_have_text("SB00021")
    scan(phone, "C0000021")
    expect(phone.locator("#parent-count")).to_have_text("1 / 30")

    phone.goto("/scan/lookup/?code=SB00021")

    expect(phone.locator("#scans-title + ol li").first).to_contain_text("by e2e-loader")
    expect(phone.locator("#scans-title + ol li")).to_have_count(2)
    assert_fits_the_phone(phone)
    phone.screenshot(path=str(artifacts / "lookup-375x740.png"))

    phone.goto("/bags/C0000021/")

    expect(phone.locator("#story li").first).to_contain_text("e2e-loader")
    expect(phone.get_by_role("link", name="Search your area's bags")).to_be_visible()
    assert phone.get_by_text("bills and users").count() == 0
    assert_fits_the_phone(phone)
    phone.screenshot(path=str(artifacts / "bag-375x740.png"))


def test_the_scan_page_shows_the_answer_undo_change_and_the_last_scan_above_the_fold(phone, artifacts):
    log_in(phone, factories.make_user("e2e-phone-loader"), "/scan/")
    scan(phone, "SB00031")
    expect(phone.locator("#parent-code")).to_have_text("SB00031")
    scan(phone, "C0000031")
    expect(phone.locator("#parent-count")).to_have_text("1 / 30")
    expect(phone.locator("#scan-status")).to_have_attribute("data-state", "ok")
    phone.evaluate("window.scrollTo(0, 0)")

    assert_fits_the_phone(phone)
    bar_top = phone.locator(".tt-bottom-bar").bounding_box()["y"]
    assert bar_top >= PHONE["height"] - 56, f"the bottom bar is {PHONE['height'] - bar_top} px tall"
    for name, locator in (
        ("the scan input", phone.locator("#scan-input")),
        ("the answer", phone.locator("#scan-status")),
        ("Undo", phone.locator("#undo-button")),
        ("Change parent", phone.locator("#change-button")),
        ("the last scan", phone.locator("#recent-list li").first),
    ):
        box = locator.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= bar_top, f"{name} is below the fold: {box}, bar {bar_top}"
    phone.screenshot(path=str(artifacts / "scan-375x740.png"))


def test_a_billers_bottom_bar_fits_with_bills_and_returns(phone, biller):
    log_in(phone, biller, "/returns/")

    links = phone.locator(".tt-bottom-link")
    expect(links).to_have_text(["Home", "Scan", "Search", "Bills", "Returns"])
    expect(phone.locator(".tt-bottom-link[aria-current=page]")).to_have_text("Returns")
    assert_fits_the_phone(phone)
