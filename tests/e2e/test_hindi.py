"""The pages in Hindi in a real browser on a 375 px phone: the login page for a phone set to Hindi, and a
dispatcher's and a biller's pages after they chose Hindi, the scan page's own (JavaScript) words included.
No English sentence may show; codes, names and numbers stay as they are. Screenshots go to the artefacts.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Role
from tests import factories
from tests.bills.data import big_bill
from tests.e2e.browser import log_in, scan
from tests.e2e.conftest import phone_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Three English words in a row is a sentence left untranslated (a code, a name or "Jaipur mandi" is not).
ENGLISH_RUN = re.compile(r"\b[A-Za-z]{2,}(?:[ ,]+[A-Za-z]{2,}){2,}\b")


@pytest.fixture
def hindi_page(browser, live_server):
    """A phone set to Hindi."""
    yield from phone_page(browser, live_server, locale="hi-IN")


def hindi_user(username: str, **fields):
    user = factories.make_user(username, **fields)
    user.language = "hi"
    user.save()
    return user


def english_sentences(page: Page) -> list[str]:
    return ENGLISH_RUN.findall(page.locator("body").inner_text())


def test_the_login_page_follows_a_phone_set_to_hindi(hindi_page, artifacts):
    page = hindi_page
    page.goto("/accounts/login/")

    expect(page.locator("h1")).to_have_text("लॉग इन")
    expect(page.locator("html")).to_have_attribute("lang", "hi")
    assert english_sentences(page) == []
    page.screenshot(path=artifacts / "hindi-login-375.png", full_page=False)


def test_a_dispatcher_scans_in_hindi(hindi_page, artifacts, mustard):
    page = hindi_page
    log_in(page, hindi_user("hindi-loader"))

    expect(page.locator("#mode-prompt")).to_have_text("बड़ी बोरी स्कैन करें")
    scan(page, "SB00001")
    expect(page.locator("#scan-status-text")).to_contain_text("नई बड़ी बोरी SB00001")
    expect(page.locator("#mode-prompt")).to_have_text("इसमें छोटी बोरियाँ स्कैन करें")  # scan.js, from /jsi18n/
    scan(page, "CHILD0001")
    expect(page.locator("#scan-status-text")).to_have_text("CHILD0001, SB00001 में डाली: 30 में से 1।")
    scan(page, "SB00002")  # a parent's code where a child is expected: refused in Hindi
    expect(page.locator("#scan-status")).to_have_attribute("data-state", "refused")
    expect(page.locator("#scan-status-text")).to_contain_text("बड़ी बोरी का कोड है, छोटी का नहीं।")
    assert english_sentences(page) == []
    page.screenshot(path=artifacts / "hindi-scan-375.png", full_page=False)

    page.goto("/bags/SB00001/")
    expect(page.locator("#story-title")).to_have_text("इतिहास (नया पहले)")
    expect(page.locator("#story")).to_contain_text("CHILD0001 डाली")
    assert english_sentences(page) == []
    page.screenshot(path=artifacts / "hindi-bag-375.png", full_page=False)


def test_a_biller_reads_the_bill_list_in_hindi(hindi_page, artifacts):
    page = hindi_page
    biller = hindi_user("hindi-biller", role=Role.BILLER)
    factories.make_bill(biller, bill_number="TT-2026-0001", customer="Jaipur mandi", expected_parents=3)
    log_in(page, biller, "/bills/")

    expect(page.locator("h1")).to_have_text("बिल")
    expect(page.locator("#bill-count")).to_have_text("1 बिल")
    expect(page.locator("#bill-list")).to_contain_text("TT-2026-0001")
    expect(page.locator("#bill-list")).to_contain_text("कच्चा")
    assert english_sentences(page) == []
    page.screenshot(path=artifacts / "hindi-bill-list-375.png", full_page=False)


def test_the_hindi_manifest_of_60_parents_still_prints_on_one_a4_page(hindi_page, artifacts):
    page = hindi_page
    biller = hindi_user("hindi-manifest", role=Role.BILLER)
    bill = big_bill(biller, parents=60, children=30, bill_number="INV-60")
    log_in(page, biller, f"/bills/{bill.pk}/manifest/")
    expect(page.locator(".tt-sheet-kind")).to_have_text("डिस्पैच माल सूची")
    assert english_sentences(page) == []
    page.emulate_media(media="print")
    page.screenshot(path=artifacts / "hindi-manifest-print.png", full_page=True)

    pdf = page.pdf(format="A4", prefer_css_page_size=True)

    (artifacts / "hindi-manifest.pdf").write_bytes(pdf)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1


def test_a_billers_other_pages_show_no_english_sentence(hindi_page, artifacts, mustard):
    """Every other page a biller opens, with something on it: a draft bill with a parent, a draft return
    ticket, the label page's preview, the command sheet, a search and a lookup, the dashboard, the exports."""
    page = hindi_page
    biller = hindi_user("hindi-pages", role=Role.BILLER)
    factories.link(factories.make_parent("SB00007"), factories.make_child("CHILD0007"))
    bill = factories.make_bill(biller, bill_number="TT-2026-0007", customer="Jaipur mandi", expected_parents=2)
    log_in(page, biller, "/bills/")
    pages = {
        "bill": f"/bills/{bill.pk}/",
        "bill-edit": f"/bills/{bill.pk}/edit/",
        "bill-new": "/bills/new/",
        "returns": "/returns/",
        "return-new": "/returns/new/",
        "labels": "/labels/",
        "commands": "/labels/commands/",
        "search": "/search/?q=SB0000",
        "lookup": "/scan/lookup/?code=CHILD0007",
        "bag-list": "/bags/",
        "dashboard": "/dashboard/",
        "exports": "/exports/",
        "home": "/",
        "password": "/accounts/password/change/",
    }
    found = {}
    for name, url in pages.items():
        page.goto(url)
        expect(page.locator("html")).to_have_attribute("lang", "hi")
        if sentences := english_sentences(page):
            found[name] = sentences
    page.goto(pages["labels"])
    page.check("#id_source_0")
    page.fill("#id_first", "SB00001")
    page.fill("#id_last", "SB00012")
    page.click("#labels-preview-button")  # the preview and its summary
    expect(page.locator("#labels-preview figure.tt-label")).to_have_count(6)
    if sentences := english_sentences(page):
        found["labels-preview"] = sentences
    page.screenshot(path=artifacts / "hindi-labels-375.png", full_page=False)
    page.goto(pages["bill"])
    page.screenshot(path=artifacts / "hindi-bill-375.png", full_page=False)

    assert found == {}
