"""The dashboard in a real browser: the figures, the chart and the latest scans refresh by themselves, without
a reload, while a dispatcher scans on the scan page in another tab; and the search page leads to a bag's page.

Transactional (the live server answers from its own thread); serialized_rollback restores the products.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from bags.models import Link
from scanning.models import Scan
from tests import factories
from tests.e2e import browser
from tests.e2e.browser import scan

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def quick_refresh(settings):
    """The page polls every second and every poll computes fresh figures (the defaults are 5 s and 2 s)."""
    settings.DASHBOARD_REFRESH_SECONDS = 1
    settings.DASHBOARD_FRESH_SECONDS = 0


def test_the_dashboard_updates_without_a_reload_after_a_scan(context, page, quick_refresh):
    dispatcher = factories.make_user("e2e-dash")
    browser.log_in(page, dispatcher, "/dashboard/")
    today = page.locator('[data-stat="today.scans"]')
    expect(today).to_have_text("0")
    expect(page.locator("#dashboard-chart rect")).to_have_count(24)
    page.evaluate("() => { window.__notReloaded = true; }")

    scanner = context.new_page()
    scanner.goto("/scan/")
    expect(scanner.locator("#scan-input")).to_be_focused()
    scan(scanner, "SB12345")
    expect(scanner.locator("#parent-code")).to_have_text("SB12345")
    scan(scanner, "C1000001")
    expect(scanner.locator("#parent-count")).to_have_text("1 / 30")
    assert Link.objects.filter(child__qr_id="C1000001").exists()

    expect(today).to_have_text("2")
    expect(page.locator('[data-stat="totals.linked"]')).to_have_text("1")
    expect(page.locator('[data-stat="totals.parents"]')).to_have_text("1")
    expect(page.locator("#dashboard-recent li").first).to_contain_text("C1000001")
    expect(page.locator("#dashboard-top")).to_contain_text("e2e-dash")
    expect(page.locator("#dashboard-updated")).to_have_attribute("data-state", "ok")
    tallest = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('#dashboard-chart rect')].map(r => +r.getAttribute('height')))"
    )
    assert tallest > 0
    assert page.evaluate("() => window.__notReloaded") is True


def test_the_dashboard_says_when_it_cannot_refresh(context, page, quick_refresh):
    browser.log_in(page, factories.make_user("e2e-offline"), "/dashboard/")
    expect(page.locator('[data-stat="today.scans"]')).to_have_text("0")

    context.set_offline(True)

    expect(page.locator("#dashboard-updated")).to_have_attribute("data-state", "stale")
    expect(page.locator('[data-stat="today.scans"]')).to_have_text("0")  # the last figures stay
    context.set_offline(False)
    expect(page.locator("#dashboard-updated")).to_have_attribute("data-state", "ok")


def test_search_leads_to_the_bags_page(page):
    dispatcher = factories.make_user("e2e-search")
    parent = factories.make_parent("SB54321", dispatch_area=dispatcher.dispatch_area)
    factories.link(parent, factories.make_child("C5432101", dispatch_area=dispatcher.dispatch_area))
    browser.log_in(page, dispatcher, "/search/")

    page.fill("input[name=q]", "sb543")
    page.keyboard.press("Enter")
    page.click("#results-bags a:text('SB54321')")

    page.wait_for_url("**/bags/SB54321/")
    expect(page.locator("#bag-title")).to_have_text("SB54321")
    page.click("a:text('C5432101')")
    expect(page.locator("#parent-title + p")).to_contain_text("SB54321")


@pytest.mark.parametrize(("path", "shot"), [("/dashboard/", "dashboard-375.png"), ("/search/?q=SB", "search-375.png")])
def test_the_dashboard_and_search_fit_a_375px_phone(page, artifacts, path, shot):
    biller = factories.make_user("e2e-phone", role="biller")
    area = factories.make_area("Loading bay 7")
    for n in range(3):
        factories.make_parent(f"SB1000{n}", dispatch_area=area)
    factories.make_bill(biller, bill_number="INV-375")
    for hours_ago in (0, 1, 1, 3, 5, 5, 5, 9, 20):
        Scan.objects.create(
            user=biller,
            action="open_parent",
            bag_qr="SB10000",
            parent_qr="SB10000",
            created_at=timezone.now() - timedelta(hours=hours_ago),
        )
    browser.log_in(page, biller, path.split("?")[0])
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(path)

    page.screenshot(path=str(artifacts / shot), full_page=True)

    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    for element in page.locator("main a, main button, main input, main select, main summary").all():
        box = element.bounding_box()
        if box is not None and box["width"] > 0:  # the closed filters' fields are hidden
            assert box["height"] >= 44, f"{element.evaluate('e => e.outerHTML')[:80]} is {box['height']}px tall"


def test_the_dashboard_says_when_its_session_has_ended_and_stops_asking(context, page, quick_refresh):
    page.clock.install()  # the page's timers run when the test moves its clock, not by the wall clock
    browser.log_in(page, factories.make_user("e2e-ended"), "/dashboard/")
    updated = page.locator("#dashboard-updated")
    expect(updated).to_have_attribute("data-state", "ok")
    asked = []
    page.on("request", lambda request: asked.append(request.url) if "/api/dashboard" in request.url else None)
    with page.expect_request("**/api/dashboard"):  # the page polls on its clock: a second, one refresh
        page.clock.run_for(1_000)
    expect(updated).to_have_attribute("data-state", "ok")

    context.clear_cookies()  # logged out, as the idle timeout does
    page.clock.run_for(1_000)

    expect(updated).to_have_text("Your session has ended: log in again to see new figures.")
    count = len(asked)
    page.clock.run_for(10_000)  # ten more refresh intervals
    # A request of the test's own, made after them: once it is seen, so is any the page made before it.
    with page.expect_request("**/api/dashboard?probe=1"):
        page.evaluate("() => { fetch('/api/dashboard?probe=1'); }")
    assert asked[count:] == [f"{page.url.split('/dashboard/')[0]}/api/dashboard?probe=1"]
