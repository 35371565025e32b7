"""The dashboard in a real browser: the figures, the chart and the latest scans refresh by themselves, without
a reload, while a dispatcher scans on the scan page in another tab; the chart (uPlot) fills its width on a phone
and a desktop; and the search page leads to a bag's page.

Transactional (the live server answers from its own thread); serialized_rollback restores the products.
"""

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from bags.models import Link
from scanning.models import Scan
from tests import factories
from tests.e2e import browser
from tests.e2e.browser import scan

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


# What the chart drew, read from its canvas: the plot area (uPlot's .u-over) and the columns and top of the
# pixels in the bars' colour (--tt-ok as the canvas paints it), in CSS px from the canvas' left and top edges.
CHART = """() => {
    const box = document.getElementById("dashboard-chart");
    const canvas = box.querySelector("canvas");
    const frame = canvas.getBoundingClientRect();
    const over = box.querySelector(".u-over").getBoundingClientRect();
    const probe = document.createElement("canvas").getContext("2d");
    probe.fillStyle = getComputedStyle(box).getPropertyValue("--tt-ok").trim();
    probe.fillRect(0, 0, 1, 1);
    const bar = probe.getImageData(0, 0, 1, 1).data;
    const { data, width, height } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    let left = Infinity, right = -Infinity, top = Infinity;
    for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
            const i = (y * width + x) * 4;
            if ([0, 1, 2].every((c) => Math.abs(data[i + c] - bar[c]) <= 8) && data[i + 3] > 200) {
                left = Math.min(left, x); right = Math.max(right, x + 1); top = Math.min(top, y);
            }
        }
    }
    const px = canvas.width / frame.width;
    return {
        box: box.clientWidth,
        canvas: frame.width,
        plot: { left: over.left - frame.left, right: over.right - frame.left, top: over.top - frame.top },
        bars: left === Infinity ? null : { left: left / px, right: right / px, top: top / px },
        summary: document.getElementById("dashboard-chart-summary").textContent,
    };
}"""


@pytest.fixture
def mid_hour():
    """Python's clock (the server's) moved to the middle of this hour and left running, so that no hour turns
    between the scans the test makes and the page that shows them. At most 30 minutes off: the browser,
    on the real clock, keeps the session cookies."""
    now = timezone.localtime()
    with time_machine.travel(now.replace(minute=30, second=0, microsecond=0), tick=True):
        yield


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
    expect(page.locator("#dashboard-chart canvas")).to_be_visible()
    assert page.evaluate(CHART)["bars"] is None  # no scans, no bars
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
    chart = page.evaluate(CHART)
    assert chart["bars"] is not None, "the chart shows this hour's scans"
    assert chart["plot"]["right"] - chart["bars"]["right"] < (chart["plot"]["right"] - chart["plot"]["left"]) / 24
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


@pytest.fixture
def busy_day(mid_hour):
    """A biller, three parents, two bills, and scans over the last 24 hours: the first hour and this one too."""
    biller = factories.make_user("e2e-phone", role="biller")
    area = factories.make_area("Loading bay 7")
    for n in range(3):
        factories.make_parent(f"SB1000{n}", dispatch_area=area)
    factories.make_bill(biller, bill_number="INV-375")
    for hours_ago, times in ((0, 2), (1, 2), (3, 1), (5, 53), (9, 1), (20, 1), (23, 4)):
        Scan.objects.bulk_create(
            Scan(
                user=biller,
                action="open_parent",
                bag_qr="SB10000",
                parent_qr="SB10000",
                created_at=timezone.now() - timedelta(hours=hours_ago, seconds=n),
            )
            for n in range(times)
        )
    return biller


def assert_it_fits_a_phone(page) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    for element in page.locator("main a, main button, main input, main select, main summary").all():
        box = element.bounding_box()
        if box is not None and box["width"] > 0:  # the closed filters' fields are hidden
            assert box["height"] >= 44, f"{element.evaluate('e => e.outerHTML')[:80]} is {box['height']}px tall"


def assert_the_chart_fills_its_box(page, largest: int) -> None:
    chart = page.evaluate(CHART)
    assert abs(chart["canvas"] - chart["box"]) <= 3, chart
    plot, bars = chart["plot"], chart["bars"]
    slot = (plot["right"] - plot["left"]) / 24
    assert plot["right"] - plot["left"] > chart["canvas"] * 0.75, chart  # the axes take a little of it
    assert bars["left"] - plot["left"] < slot, chart  # the first hour's bar at the left edge of the plot
    assert plot["right"] - bars["right"] < slot, chart  # this hour's at the right
    assert bars["top"] >= plot["top"] - 1, chart  # the tallest bar is inside the plot
    top_tick = int(re.search(r"scale goes from 0 to ([\d,]+)", chart["summary"])[1].replace(",", ""))
    assert top_tick >= largest, chart


def test_the_dashboard_chart_fills_a_phone_and_a_desktop(page, artifacts, busy_day):
    errors = []  # besides the page fixture's uncaught exceptions: failed loads, uPlot's complaints

    def on_console(message) -> None:
        if message.type == "error":
            errors.append(f"{message.text} ({message.location['url']})")

    page.on("console", on_console)
    browser.log_in(page, busy_day, "/dashboard/")
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto("/dashboard/")
    expect(page.locator('[data-stat="today.scans"]')).not_to_have_text("0")

    assert_it_fits_a_phone(page)
    assert_the_chart_fills_its_box(page, largest=53)
    page.evaluate(
        "() => document.getElementById('chart-title').scrollIntoView({ behavior: 'instant' })"
    )  # clear of the bottom bar
    page.screenshot(path=str(artifacts / "dashboard-375.png"))

    page.set_viewport_size({"width": 1280, "height": 800})  # the same page: the chart follows its box
    page.wait_for_function("() => document.querySelector('#dashboard-chart canvas').clientWidth > 1000")
    assert_the_chart_fills_its_box(page, largest=53)
    page.evaluate("() => window.scrollTo({ top: 0, behavior: 'instant' })")
    page.screenshot(path=str(artifacts / "dashboard-1280.png"))
    assert not errors


def test_search_fits_a_375px_phone(page, artifacts, busy_day):
    browser.log_in(page, busy_day, "/search/")
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto("/search/?q=SB")

    page.screenshot(path=str(artifacts / "search-375.png"), full_page=True)

    assert_it_fits_a_phone(page)


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
