"""The reports page in a real browser: its two charts (uPlot) draw the days' and the hours' scans on a 375 px
phone and a 1280 px desktop, the tables hold the same figures, and the screenshots go to the test artefacts.

Transactional (the live server answers from its own thread); serialized_rollback restores the products.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from scanning.choices import ScanAction
from scanning.models import Scan
from tests import factories
from tests.e2e import browser
from tests.e2e.test_dashboard import assert_it_fits_a_phone

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# The bars drawn in a chart: the columns of pixels in the bars' colour, left to right, in CSS px.
BARS = """(id) => {
    const box = document.getElementById(id);
    const canvas = box.querySelector("canvas");
    const probe = document.createElement("canvas").getContext("2d");
    probe.fillStyle = getComputedStyle(box).getPropertyValue("--tt-ok").trim();
    probe.fillRect(0, 0, 1, 1);
    const bar = probe.getImageData(0, 0, 1, 1).data;
    const { data, width, height } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    let left = Infinity, right = -Infinity;
    for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
            const i = (y * width + x) * 4;
            if ([0, 1, 2].every((c) => Math.abs(data[i + c] - bar[c]) <= 8) && data[i + 3] > 200) {
                left = Math.min(left, x); right = Math.max(right, x + 1);
            }
        }
    }
    const px = canvas.width / canvas.getBoundingClientRect().width;
    return {
        // The canvas inside its box (without uPlot's stylesheet it spills over what follows).
        inside: canvas.getBoundingClientRect().bottom <= box.getBoundingClientRect().bottom + 1,
        box: box.clientWidth,
        canvas: canvas.getBoundingClientRect().width,
        bars: left === Infinity ? null : { left: left / px, right: right / px },
        summary: document.getElementById(`${id}-summary`).textContent,
    };
}"""


@pytest.fixture
def week_of_scans():
    """A dispatcher's scans on each of the last seven days, the most (12) six days ago and today."""
    dispatcher = factories.make_user("e2e-reports-dispatcher")
    parent = factories.make_parent("SB82001")
    now = timezone.now()
    per_day = [12, 3, 5, 7, 2, 9, 12]
    Scan.objects.bulk_create(
        Scan(
            user=dispatcher,
            action=ScanAction.LINK,
            bag_qr=f"C82{day}{n:03}",
            parent=parent,
            parent_qr=parent.qr_id,
            dispatch_area=dispatcher.dispatch_area,
            created_at=now - timedelta(days=6 - day, minutes=n),
        )
        for day, count in enumerate(per_day)
        for n in range(count)
    )
    return sum(per_day)


def test_the_reports_page_draws_its_charts_on_a_phone_and_a_desktop(page, artifacts, week_of_scans):
    biller = factories.make_user("e2e-rb", role=Role.BILLER)
    browser.log_in(page, biller, "/")
    page.get_by_role("link", name="Reports").click()
    expect(page.locator("#report-range")).to_contain_text(f"{week_of_scans} scans")
    expect(page.locator("#table-dispatchers")).to_contain_text("e2e-reports-dispatcher")

    page.set_viewport_size({"width": 375, "height": 740})
    page.reload()
    expect(page.locator("#report-days-chart canvas")).to_be_visible()
    assert_it_fits_a_phone(page)
    for chart_id in ("report-days-chart", "report-hours-chart"):
        drawn = page.evaluate(BARS, chart_id)
        assert abs(drawn["canvas"] - drawn["box"]) <= 3, drawn
        assert drawn["inside"], drawn
        assert drawn["bars"] is not None, drawn
    days = page.evaluate(BARS, "report-days-chart")
    assert "the most was 12" in days["summary"], days
    # Seven days with scans: the bars span the plot from the first day to the last.
    assert days["bars"]["right"] - days["bars"]["left"] > days["canvas"] * 0.6, days
    page.evaluate("() => document.getElementById('days-chart-title').scrollIntoView({ behavior: 'instant' })")
    page.screenshot(path=str(artifacts / "reports-375.png"))

    page.set_viewport_size({"width": 1280, "height": 800})
    page.wait_for_function("() => document.querySelector('#report-days-chart canvas').clientWidth > 500")
    for chart_id in ("report-days-chart", "report-hours-chart"):
        drawn = page.evaluate(BARS, chart_id)
        assert abs(drawn["canvas"] - drawn["box"]) <= 3, drawn
        assert drawn["inside"], drawn
    page.evaluate("() => window.scrollTo({ top: 0, behavior: 'instant' })")
    page.screenshot(path=str(artifacts / "reports-1280.png"))
