"""The look and the shell in a real browser: the agriculture theme (forest green bars, beige page, gold
highlights) with WCAG AA contrast for every text shown, the scan answers' colours apart from the theme's
green, the navbar's user menu, and pages that load with no console error and no 404 (the favicon).

Transactional (the live server answers from its own thread); serialized_rollback restores the products.
"""

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Role
from tests import factories
from tests.e2e.browser import GREEN, READABILITY, THEME_GREEN, log_in, scan

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

BEIGE = "rgb(245, 240, 225)"  # --tt-beige
GOLD = "rgb(212, 160, 23)"  # --tt-gold


def background(page: Page, selector: str) -> str:
    return page.locator(selector).first.evaluate("(node) => getComputedStyle(node).backgroundColor")


def assert_aa_contrast(page: Page) -> None:  # tests/e2e/test_csp.py checks the admin's with it
    """Every text shown: 4.5:1 with what is behind it, 3:1 for large text (24 px and up)."""
    texts = page.evaluate(READABILITY)
    assert len(texts) > 3, page.url
    poor = [text for text in texts if text["contrast"] < (3 if text["px"] >= 24 else 4.5)]
    assert poor == [], f"{page.url}: {poor}"


def test_the_pages_wear_the_theme_with_aa_contrast(page, artifacts):
    page.goto("/accounts/login/?next=/")
    assert background(page, ".tt-navbar") == THEME_GREEN
    assert background(page, "body") == BEIGE
    button = page.locator("main button[type=submit]")
    assert button.evaluate("(node) => getComputedStyle(node).backgroundColor") == THEME_GREEN
    assert_aa_contrast(page)
    page.screenshot(path=str(artifacts / "theme-login.png"))

    biller = factories.make_user("e2e-theme-biller", role=Role.BILLER)
    factories.make_bill(biller, bill_number="TT-2026-0100", customer="Jaipur mandi", expected_parents=2)
    log_in(page, biller, "/", navigate=False)
    assert background(page, ".tt-bottom-bar") == THEME_GREEN
    assert background(page, ".tt-bottom-link[aria-current=page]") == GOLD  # the page you are on
    assert_aa_contrast(page)
    page.screenshot(path=str(artifacts / "theme-home.png"))
    for path in ("/bills/", "/search/?q=TT", "/returns/", "/dashboard/"):
        page.goto(path)
        assert_aa_contrast(page)
    page.click("#user-menu summary")
    expect(page.locator(".tt-user-menu-panel")).to_be_visible()
    assert_aa_contrast(page)  # the open menu too


def test_the_ok_answer_is_the_answers_green_not_the_themes(page):
    log_in(page, factories.make_user("e2e-theme-loader"))
    scan(page, "SB00101")

    expect(page.locator("#scan-status")).to_have_attribute("data-state", "ok")
    expect(page.locator("#scan-status")).to_have_css("background-color", GREEN)
    assert GREEN != THEME_GREEN
    assert_aa_contrast(page)


def test_the_user_menu_holds_the_language_and_log_out_and_closes_on_a_tap_elsewhere(page):
    log_in(page, factories.make_user("e2e-theme-menu"), "/")
    menu = page.locator("#user-menu")
    expect(menu.get_by_role("button", name="Log out")).to_be_hidden()

    menu.locator("summary").click()

    expect(menu.get_by_role("button", name="Log out")).to_be_visible()
    expect(menu.get_by_role("button", name="हिन्दी")).to_be_visible()
    expect(menu).to_contain_text("e2e-theme-menu · Dispatcher")
    page.mouse.click(10, 500)  # on the page, below the menu
    expect(menu.get_by_role("button", name="Log out")).to_be_hidden()
    menu.locator("summary").click()
    page.keyboard.press("Escape")
    expect(menu.get_by_role("button", name="Log out")).to_be_hidden()


def test_pages_load_with_no_console_error_and_no_404(page):
    errors: list[str] = []
    missing: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("response", lambda response: missing.append(response.url) if response.status == 404 else None)

    log_in(page, factories.make_user("e2e-theme-icons"), "/scan/")
    expect(page.locator("#scan-input")).to_be_focused()
    page.goto("/")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert page.request.get(icon).headers["content-type"] == "image/svg+xml"
    favicon = page.goto("/favicon.ico")  # what a browser asks for by itself

    assert favicon.ok and favicon.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert missing == []
    assert errors == []
