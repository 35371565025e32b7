"""The biller's bill page in a real browser: a keyboard-wedge scanner types parent codes and presses Enter
into the page, which must already have focus; the totals follow each scan; the manifest prints on one page.

Transactional (the live server answers from its own thread); serialized_rollback restores the
products that the data migration made, which each test's flush would otherwise remove.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Role
from bills.models import BillBag
from tests import factories
from tests.bills.data import big_bill, parent_with
from tests.e2e.browser import GREEN, RED, log_in, scan

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def biller():
    return factories.make_user("e2e-biller", role=Role.BILLER)


@pytest.fixture
def bill(biller):
    return factories.make_bill(biller, bill_number="INV-7", customer="Jaipur mandi", expected_parents=3)


def status(page: Page):
    return page.locator("#bill-scan-status")


@pytest.fixture
def bill_page(page, biller, bill) -> Page:
    log_in(page, biller, f"/bills/{bill.pk}/")
    expect(page.locator("#bill-scan-input")).to_be_focused()
    return page


def test_scanning_three_parents_onto_a_bill_shows_the_totals(bill_page, bill):
    page = bill_page
    parent_with(30, "SB00001")
    parent_with(12, "SB00002")
    parent_with(10, "M444-00001", product_code="moong")  # 0.5 kg a child
    expect(page.locator("#total-expected")).to_have_text("90")

    for code, count in (("SB00001", 1), ("sb00002", 2), ("M444-00001", 3)):
        scan(page, code)
        expect(page.locator("#bill-parents-body tr[data-code]")).to_have_count(count)
        expect(status(page)).to_have_attribute("data-state", "ok")

    expect(status(page)).to_have_css("background-color", GREEN)
    expect(page.locator("#bill-scan-status-text")).to_have_text("M444-00001 added to INV-7: 3 of 3 parents.")
    expect(page.locator("#total-parents")).to_have_text("3")
    expect(page.locator("#total-children")).to_have_text("52")
    expect(page.locator("#total-actual")).to_have_text("47")  # 30 + 12 + 10 x 0.5
    expect(page.locator("#total-expected")).to_have_text("90")
    expect(page.locator("#total-difference")).to_have_text("-43")
    expect(page.locator("#total-difference-box")).to_have_attribute("data-state", "short")
    expect(page.locator("#total-difference-note")).to_have_text("still to load")  # a draft: a calm note, not red
    expect(page.locator("#total-difference-box")).not_to_have_css("background-color", RED)
    newest = page.locator("#bill-parents-body tr[data-code]").first  # last scanned first
    expect(newest).to_have_attribute("data-code", "M444-00001")
    expect(newest.locator("td").nth(0)).to_have_text("3")
    expect(newest.locator("td").nth(4)).to_have_text("5")
    expect(page.locator("#bill-scan-input")).to_be_focused()
    expect(page.locator("#bill-scan-input")).to_have_value("")
    assert list(BillBag.objects.order_by("added_at").values_list("parent_bag__qr_id", flat=True)) == [
        "SB00001",
        "SB00002",
        "M444-00001",
    ]

    # A reload shows what the scans made: the page and the answers agree.
    drawn = page.inner_text("#bill-parents-body")
    page.reload()
    expect(page.locator("#total-actual")).to_have_text("47")
    expect(page.locator("#bill-parents-body tr[data-code]")).to_have_count(3)
    assert page.inner_text("#bill-parents-body") == drawn


def test_refusals_show_the_servers_sentence_in_red(bill_page, biller):
    page = bill_page
    parent_with(3, "SB00001")
    other = factories.make_bill(biller, bill_number="INV-8")
    factories.put_on_bill(other, parent_with(3, "SB00002"))
    factories.make_child("C1000001")

    for code, sentence in (
        ("C1000001", "child bag code"),
        ("SB99999", "Parent bag SB99999 was not found. It must be scanned on the scan page first."),
        ("SB00002", "SB00002 is already on bill INV-8."),
    ):
        scan(page, code)
        expect(page.locator("#bill-scan-status-text")).to_contain_text(sentence)
        expect(status(page)).to_have_attribute("data-state", "refused")
        expect(status(page)).to_have_css("background-color", RED)

    assert not BillBag.objects.filter(bill__bill_number="INV-7").exists()


def test_a_double_fired_read_sends_once(bill_page):
    page = bill_page
    parent_with(3, "SB00001")
    requests = []
    page.on("request", lambda request: requests.append(request.url) if "/parents" in request.url else None)

    scan(page, "SB00001")
    scan(page, "SB00001")  # the scanner fired twice within a second

    expect(page.locator("#bill-scan-ignored")).to_have_text("Ignored duplicate read of SB00001.")
    expect(status(page)).to_have_attribute("data-state", "ok")
    assert len(requests) == 1
    assert BillBag.objects.count() == 1


def test_remove_takes_a_parent_off_and_the_scanner_keeps_focus(bill_page, biller, bill):
    page = bill_page
    parent_with(30, "SB00001")
    scan(page, "SB00001")
    expect(page.locator("#total-actual")).to_have_text("30")

    page.locator("#bill-parents-body tr[data-code=SB00001] button").click()

    expect(page.locator("#bill-parents-body tr[data-code]")).to_have_count(0)
    expect(page.locator("#total-actual")).to_have_text("0")
    expect(page.locator("#bill-scan-status-text")).to_have_text("SB00001 taken off INV-7: 0 parents left.")
    expect(page.locator("#bill-scan-input")).to_be_focused()
    assert not BillBag.objects.exists()


def test_the_manifest_of_60_parents_prints_on_one_a4_page(page, biller):
    bill = big_bill(biller, parents=60, children=30, bill_number="INV-60")
    log_in(page, biller, f"/bills/{bill.pk}/manifest/")
    page.emulate_media(media="print")

    pdf = page.pdf(format="A4", prefer_css_page_size=True)

    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
    expect(page.locator(".tt-sheet-parents table")).to_have_count(2)
    expect(page.locator(".tt-manifest-toolbar")).to_be_hidden()


def test_a_command_barcode_is_not_for_the_bill_page_and_sends_nothing(bill_page, bill):
    page = bill_page
    requests = []
    page.on("request", lambda request: requests.append(request.url) if "/api/" in request.url else None)

    scan(page, "TT-CMD-DONE")

    expect(status(page)).to_have_attribute("data-state", "refused")
    expect(page.locator("#bill-scan-status-text")).to_have_text(
        "TT-CMD-DONE is a command barcode for the Scan page. It does nothing here: scan a parent bag."
    )
    assert requests == []
    assert not BillBag.objects.filter(bill=bill).exists()
