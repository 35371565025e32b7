"""The scan page's warning before the server ends the session (static/js/session_warning.js), in a real
browser: the deadlines come from the session (accounts.middleware.session_deadlines), and an answered
scan puts the idle one off. Once it has ended, the page says so once (scan.js's session banner)."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from tests.e2e import browser
from tests.e2e.browser import scan

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def dispatcher():
    return factories.make_user("e2e-shift")


def open_scan_page(page: Page, user) -> None:
    browser.log_in(page, user, "/scan/")
    expect(page.locator("#scan-input")).to_be_focused()


def warning(page: Page):
    return page.locator("#session-warning")


def test_no_warning_with_a_whole_session_ahead(page, dispatcher):
    open_scan_page(page, dispatcher)

    expect(warning(page)).to_be_hidden()


def test_an_idle_session_near_its_end_shows_the_warning(page, dispatcher, settings):
    settings.SESSION_IDLE_TIMEOUT_MINUTES = 3
    settings.SESSION_WARNING_MINUTES = 10

    open_scan_page(page, dispatcher)

    expect(warning(page)).to_be_visible()
    expect(warning(page)).to_have_text("Your session ends in 3 min. Scan anything to stay logged in.")
    expect(warning(page)).to_have_attribute("data-kind", "idle")


def test_the_end_of_the_shift_session_is_announced_with_its_time(page, dispatcher, settings):
    settings.SESSION_IDLE_TIMEOUT_MINUTES = 24 * 60  # so the absolute timeout (8 h) comes first
    settings.SESSION_WARNING_MINUTES = 9 * 60

    open_scan_page(page, dispatcher)

    expect(warning(page)).to_be_visible()
    expect(warning(page)).to_have_text(
        re.compile(r"^Your shift session ends at \d\d:\d\d; log in again after that\. Waiting scans are kept\.$")
    )
    expect(warning(page)).to_have_attribute("data-kind", "absolute")


def test_the_warning_comes_when_the_page_sits_idle_and_a_scan_puts_it_off(page, dispatcher, settings):
    settings.SESSION_IDLE_TIMEOUT_MINUTES = 10
    settings.SESSION_WARNING_MINUTES = 5
    page.clock.install()  # the page's clock only: the server still sees a fresh session
    open_scan_page(page, dispatcher)
    expect(warning(page)).to_be_hidden()

    page.clock.fast_forward("06:00")

    expect(warning(page)).to_have_text("Your session ends in 4 min. Scan anything to stay logged in.")

    scan(page, "SB12345")

    expect(page.locator("#parent-code")).to_have_text("SB12345")
    expect(warning(page)).to_be_hidden()


def test_a_session_that_ended_is_told_once_with_the_way_to_log_in_again(page, context, dispatcher):
    open_scan_page(page, dispatcher)
    scan(page, "SB12345")
    expect(page.locator("#scan-status")).to_have_attribute("data-state", "ok")  # the parent is open
    context.clear_cookies()  # the session ended (idle, or logged out in another tab)

    scan(page, "C9000001")

    banner = page.locator("#session-banner")
    expect(banner).to_have_text("Your session ended. Log in again to send 1 waiting scan.")
    expect(banner.get_by_role("link", name="Log in again")).to_be_visible()
    expect(page.locator("#scan-status")).to_have_attribute("data-state", "waiting")
    expect(page.locator("#scan-status-text")).to_have_text("1 scan waiting")
    assert page.locator("body").inner_text().lower().count("session ended") == 1
