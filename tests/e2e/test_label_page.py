"""The label page in a real browser: a biller asks for a range, sees the preview of the first labels (each
QR image decoded back from what Chromium shows), downloads the PDF, and the page fits a 375 x 740 phone.

Transactional (the live server answers from its own thread); serialized_rollback restores the products.
"""

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from accounts.models import Role
from tests import factories
from tests.e2e.browser import log_in
from tests.labels.decoding import decoded_pages

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def label_page(page):
    page.set_viewport_size({"width": 375, "height": 740})
    log_in(page, factories.make_user("e2e-label-biller", role=Role.BILLER), "/labels/")
    return page


def test_a_range_is_previewed_then_downloaded_as_pdf(label_page, artifacts):
    page = label_page
    page.check("#id_source_0")
    page.fill("#id_first", "sb00001")
    page.fill("#id_last", "SB00500")
    page.click("#labels-preview-button")

    expect(page.locator("#labels-summary")).to_contain_text("500 labels, SB00001 to SB00500")
    labels = page.locator("#labels-preview figure.tt-label")
    expect(labels).to_have_count(6)
    expect(labels.first.locator(".tt-label-code")).to_have_text("SB00001")
    # What Chromium drew of the first label decodes to its code, and its code reads under its symbol.
    labels.first.screenshot(path=str(artifacts / "label-preview-first.png"))
    read = zxingcpp.read_barcodes(Image.open(artifacts / "label-preview-first.png"))
    assert [result.text for result in read] == ["SB00001"]
    symbol, code = labels.first.locator("img").bounding_box(), labels.first.locator(".tt-label-code").bounding_box()
    assert code["y"] >= symbol["y"] + symbol["height"] - 1

    page.locator("#labels-preview").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "label-page-375.png"))
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375

    with page.expect_download() as download:
        page.click("#labels-pdf-button")
    assert download.value.suggested_filename == "labels-SB00001-SB00500-a4-3x8.pdf"
    with open(download.value.path(), "rb") as pdf:
        assert decoded_pages(pdf.read())[0] == [f"SB{number:05d}" for number in range(1, 25)]


def test_a_bad_range_is_said_on_the_page(label_page):
    page = label_page
    page.fill("#id_first", "SB00500")
    page.fill("#id_last", "SB00001")
    page.click("#labels-preview-button")

    expect(page.locator("#labels-refusal")).to_have_text(
        "The range runs backwards: SB00500 comes after SB00001. Put the lower code first."
    )
    expect(page.locator("#labels-preview")).to_have_count(0)


def test_the_command_sheet_page(label_page, artifacts):
    page = label_page
    page.click("#labels-commands-link")

    expect(page.locator("#commands li")).to_have_count(5)
    page.screenshot(path=str(artifacts / "command-sheet-375.png"), full_page=True)
    # Each symbol as Chromium shows it decodes to its command (the fixed bottom bar put aside so it hides none).
    page.locator(".tt-bottom-bar").evaluate("bar => { bar.style.display = 'none'; }")
    read = []
    for item in page.locator("#commands li").all():
        item.locator("img").screenshot(path=str(artifacts / "command-symbol.png"))
        read += [result.text for result in zxingcpp.read_barcodes(Image.open(artifacts / "command-symbol.png"))]
    assert read == ["TT-CMD-DONE", "TT-CMD-UNDO", "TT-CMD-NEW-PARENT", "TT-CMD-MOVE", "TT-CMD-CANCEL"]
