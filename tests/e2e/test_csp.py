"""The Content-Security-Policy in a real browser: our pages and the admin screens we use run under it with
no violation (no inline script, style or event handler), and the scan page still scans, buzzes and beeps.

Transactional (the live server answers from its own thread); serialized_rollback restores the
products that the data migration made, which each test's flush would otherwise remove.
"""

import base64
import re

import pytest
from django.conf import settings
from django_otp.oath import totp
from playwright.sync_api import Page, expect

from accounts.models import Role
from bags.models import Link
from tests import factories
from tests.e2e import browser
from tests.e2e.browser import THEME_GREEN, scan
from tests.e2e.test_theme import assert_aa_contrast

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Chromium fires securitypolicyviolation in the document; report it to the test, across navigations.
REPORT_VIOLATIONS = """
    document.addEventListener("securitypolicyviolation", (event) => {
        window.reportViolation(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
            + ` at ${event.sourceFile}:${event.lineNumber} on ${document.location.pathname}`);
    });
"""


@pytest.fixture
def violations(context, page) -> list[str]:
    """Every CSP violation and policy complaint the browser reports while the test runs."""
    found: list[str] = []
    context.expose_function("reportViolation", lambda text: found.append(text))
    context.add_init_script(REPORT_VIOLATIONS)

    def on_console(message) -> None:
        if "Content Security Policy" in message.text or "Permissions-Policy" in message.text:
            found.append(f"console {message.type}: {message.text}")

    page.on("console", on_console)
    return found


@pytest.fixture
def admin():
    return factories.make_user("e2e-admin", role=Role.ADMIN)


# The scanner pages' policy also lets zxing-wasm compile (their camera, tests/e2e/test_camera.py).
CAMERA_PAGES = re.compile(r"/(scan|bills/\d+|returns/\d+)/")


def visit(page: Page, path: str) -> None:
    response = page.goto(path)
    assert response.ok, f"{path} answered {response.status}"
    camera = CAMERA_PAGES.fullmatch(path)
    expected = settings.CAMERA_PAGE_CONTENT_SECURITY_POLICY if camera else settings.CONTENT_SECURITY_POLICY
    assert response.headers["content-security-policy"] == expected


def log_in(page: Page, user, next_url: str) -> None:
    """Log an admin in as on their first day: password, then enrolling an authenticator app (the 2FA pages
    run under the policy too; the QR code is a data: image), then the recovery codes."""
    visit(page, f"/accounts/login/?next={next_url}")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/accounts/2fa/setup/**")
    expect(page.locator("img[src^='data:image/svg+xml']")).to_be_visible()
    secret = page.locator("#otp-secret").inner_text().replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    page.fill("#otp-token", f"{totp(key):06d}")
    page.click("main button[type=submit]")
    page.wait_for_url("**/accounts/2fa/recovery-codes/**")
    page.click("text=I have saved them")
    page.wait_for_url(f"**{next_url}")


def test_pages_and_admin_run_without_a_policy_violation(context, page, violations, admin):
    context.add_init_script(browser.RECORD_FEEDBACK)
    bill = factories.make_bill(admin, bill_number="INV-CSP", expected_parents=2)
    factories.make_area("Godown CSP")

    log_in(page, admin, "/scan/")
    page.locator("#area-select").select_option(label="Godown CSP")  # an admin's new parent needs an area
    expect(page.locator("#scan-input")).to_be_focused()
    scan(page, "SB12345")
    expect(page.locator("#parent-code")).to_have_text("SB12345")
    scan(page, "C1000001")
    expect(page.locator("#parent-count")).to_have_text("1 / 30")
    expect(page.locator("#scan-status")).to_have_attribute("data-state", "ok")
    assert list(Link.objects.values_list("parent__qr_id", "child__qr_id")) == [("SB12345", "C1000001")]
    vibrations, tones = page.evaluate("() => [window.__vibrations, window.__tones]")
    assert vibrations == [60, 60]
    assert tones == [1760, 1760]

    visit(page, "/bills/")
    expect(page.get_by_text("INV-CSP")).to_be_visible()
    visit(page, f"/bills/{bill.pk}/")
    scan(page, "SB12345")
    expect(page.locator("#bill-parents-body")).to_contain_text("SB12345")
    visit(page, f"/bills/{bill.pk}/manifest/")
    visit(page, "/scan/lookup/?code=SB12345")
    expect(page.locator("main")).to_contain_text("C1000001")
    visit(page, "/bags/C1000001/")
    expect(page.locator("main")).to_contain_text("SB12345")
    page.click("#as-of-form button")  # the story's date-time field: where was it now
    expect(page.locator("#as-of")).to_contain_text("SB12345")
    page.goto("/bags/SB12345/delete/")  # on a bill: the confirm page says why not (409)
    expect(page.locator("main")).to_contain_text("INV-CSP")
    visit(page, "/search/?q=SB&kind=parent")
    expect(page.locator("#results-bags")).to_contain_text("SB12345")
    visit(page, "/bags/?sort=code")  # the bag list, with the admins' tick boxes
    expect(page.locator("#bag-list")).to_contain_text("C1000001")
    visit(page, "/dashboard/")
    expect(page.locator("#dashboard-chart canvas")).to_be_visible()  # uPlot drew under the policy
    expect(page.locator("#dashboard-recent")).to_contain_text("C1000001")
    visit(page, "/system/")
    expect(page.locator("#workers")).to_be_visible()

    visit(page, "/admin/")
    visit(page, "/admin/bags/bag/")
    expect(page.locator("#result_list")).to_contain_text("SB12345")
    page.click("#result_list a:text('SB12345')")  # a change form, with the admin's widgets
    expect(page.locator("#content h1")).to_be_visible()
    visit(page, "/admin/bills/bill/?q=INV")
    visit(page, f"/admin/accounts/user/{admin.pk}/change/")
    visit(page, "/admin/audit/auditlog/")
    visit(page, "/admin/bags/bag/import/")  # django-import-export's pages, as the bulk import uses them
    visit(page, "/admin/bags/bag/export/")
    visit(page, "/exports/")

    assert violations == []


def test_the_admin_wears_the_theme_from_a_static_file_with_aa_contrast(page, violations, admin, artifacts):
    log_in(page, admin, "/admin/")

    expect(page.locator("link[href$='css/admin.css']")).to_have_count(1)
    expect(page.locator("#header")).to_have_css("background-color", THEME_GREEN)
    expect(page.locator(".theme-toggle")).to_have_count(0)  # one light theme: no dark mode to switch to
    assert_aa_contrast(page)
    page.screenshot(path=str(artifacts / "admin-index.png"))
    visit(page, "/admin/bags/bag/")
    assert_aa_contrast(page)
    assert violations == []


def test_an_inline_script_is_refused_and_reported(page, violations, admin):
    """The listener above is what proves the pages clean, so check that it hears a real violation."""
    log_in(page, admin, "/scan/")

    # Resolved by the violation event itself, which comes after the refusal; the listener above heard it
    # first (it was added first), and Playwright hands its report over before this answer.
    refused = page.evaluate("""() => new Promise((resolve) => {
        document.addEventListener("securitypolicyviolation", (event) => resolve(event.violatedDirective));
        const script = document.createElement("script");
        script.textContent = "window.__ran = true";
        document.body.append(script);
    })""")

    assert refused.startswith("script-src")
    assert page.evaluate("() => window.__ran") is None
    assert any("script-src" in found for found in violations), violations
