"""The scan page's offline app shell in a real Chromium: the service worker opens the page with no network
(after a reload, after the browser was closed), the IndexedDB queue is sent exactly once and in order when
the network is back, two tabs share it, the old localStorage queue is moved over once, nobody gets the
last user's page after a logout, and a new release replaces the caches.

"Browser closed" is a persistent Chromium profile closed and opened again: Playwright's storage_state
carries no service worker or cache, a profile carries them all, as a phone does.
"""

import time
import uuid

import pytest
from playwright.sync_api import Page, expect

from bags.models import Link
from scanning import shell
from scanning.models import Scan
from tests import factories
from tests.e2e import browser as e2e
from tests.e2e.browser import scan
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.test_scan_page import entries, log_in, open_parent, stored_queue

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# True once the service worker controls the page and keeps the scan page in its cache.
SHELL_READY = """
async () => {
  if (!navigator.serviceWorker.controller) return false;
  for (const name of await caches.keys()) {
    if (name.startsWith("tt-page-") && (await (await caches.open(name)).match("/scan/"))) return true;
  }
  return false;
}
"""


def wait_for(page: Page, script: str, *args, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not page.evaluate(script, *args):
        assert time.monotonic() < deadline, f"never true: {script}"
        page.wait_for_timeout(100)


def wait_for_shell(page: Page) -> None:
    wait_for(page, SHELL_READY)


def scans_in_order(parent_qr: str) -> list[str]:
    """The parent's link events, oldest first: each physical scan once, in the order it was made."""
    return list(Scan.objects.filter(action="link", parent_qr=parent_qr).order_by("id").values_list("bag_qr", flat=True))


@pytest.fixture
def dispatcher():
    return factories.make_user("shell-dispatcher")


@pytest.fixture
def profile(browser, live_server, tmp_path):
    """Opens Chromium on one profile directory, as often as a test closes it (a phone's browser)."""
    opened = []

    def open_browser():
        context = browser.browser_type.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            base_url=live_server.url,
            viewport={"width": 412, "height": 915},
        )
        context.set_default_timeout(10_000)
        opened.append(context)
        return context

    yield open_browser
    for context in opened:
        context.close()


def first_page(context) -> Page:
    page = context.pages[0] if context.pages else context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    return page


def test_the_scan_page_opens_offline_after_a_reload_and_sends_its_scans_once_in_order(context, page, dispatcher):
    log_in(page, dispatcher)
    open_parent(page, "SB12345")
    wait_for_shell(page)

    context.set_offline(True)
    page.reload()
    expect(page.locator("#parent-code")).to_have_text("SB12345")  # the page, its parent, from this phone
    expect(page.locator("#scan-input")).to_be_focused()
    children = [f"C40000{n:02d}" for n in range(1, 8)]
    for code in children:
        scan(page, code)
    expect(entries(page, "waiting")).to_have_count(7)
    page.reload()  # still offline: the waiting scans are still there
    expect(entries(page, "waiting")).to_have_count(7)
    assert Link.objects.count() == 0

    context.set_offline(False)

    expect(entries(page, "waiting")).to_have_count(0)
    expect(page.locator("#parent-count")).to_have_text("7 / 30")
    assert scans_in_order("SB12345") == children
    assert stored_queue(page, dispatcher) == []


def test_a_hindi_page_opened_offline_hours_later_has_its_scripts_and_speaks_hindi(context, page, dispatcher):
    dispatcher.language = "hi"
    dispatcher.save(update_fields=["language"])
    log_in(page, dispatcher)
    open_parent(page, "SB12346")
    wait_for_shell(page)
    # Hours later: the browser's own cache has let the first load's files go; only the worker's copies remain.
    context.new_cdp_session(page).send("Network.clearBrowserCache")

    context.set_offline(True)
    page.reload()
    expect(page.locator("#scan-input")).to_be_focused()
    scan(page, "C4100001")

    expect(page.locator("#parent-pending")).to_have_text("(+1 बाकी)")  # scan.js, with its words in Hindi
    context.set_offline(False)
    expect(page.locator("#parent-pending")).to_have_text("", timeout=15_000)  # the next try, under load too
    assert scans_in_order("SB12346") == ["C4100001"]


def test_a_reload_the_moment_after_a_scan_loses_nothing(context, page, dispatcher):
    log_in(page, dispatcher)
    open_parent(page, "SB12345")
    context.set_offline(True)

    for code in ("C4600001", "C4600002", "C4600003"):
        scan(page, code)
    page.reload()  # no wait: the last scan may not be in IndexedDB yet, it is in the journal

    expect(entries(page, "waiting")).to_have_count(3)
    context.set_offline(False)
    expect(page.locator("#parent-count")).to_have_text("3 / 30")
    assert scans_in_order("SB12345") == ["C4600001", "C4600002", "C4600003"]


def test_refusals_of_scans_from_before_a_reload_are_shown_when_they_are_sent(context, page, dispatcher):
    other = factories.make_parent("SB00001", dispatch_area=dispatcher.dispatch_area)
    factories.link(other, factories.make_child("C2000001", dispatch_area=dispatcher.dispatch_area))
    log_in(page, dispatcher)
    open_parent(page, "SB12345")
    wait_for_shell(page)
    context.set_offline(True)
    scan(page, "C2000001")
    scan(page, "C2000002")
    expect(entries(page, "waiting")).to_have_count(2)
    page.reload()  # the tab that scanned them is gone; the reloaded one answers for them

    context.set_offline(False)

    expect(page.locator("#replay-banner")).to_contain_text("1 waiting scan was refused on sending: C2000001")
    expect(page.locator("#recent-list li[data-state=ok][data-code=C2000002]")).to_have_count(1)
    assert scans_in_order("SB12345") == ["C2000002"]


def test_scans_queued_offline_survive_closing_the_browser_and_are_sent_once(profile, dispatcher):
    phone = profile()
    page = first_page(phone)
    log_in(page, dispatcher)
    open_parent(page, "SB12345")
    wait_for_shell(page)
    phone.close()

    phone = profile()  # the browser opened again, still with no network
    phone.set_offline(True)
    page = first_page(phone)
    page.goto("/scan/")
    expect(page.locator("#parent-code")).to_have_text("SB12345")
    children = ["C4100001", "C4100002", "C4100003"]
    for code in children:
        scan(page, code)
    assert [item["code"] for item in stored_queue(page, dispatcher, count=3)] == children
    phone.close()  # closed again before the network came back (a phone restarted)
    assert Link.objects.count() == 0

    phone = profile()
    page = first_page(phone)
    page.goto("/scan/")
    if "/accounts/login/" in page.url:  # the browser dropped its session cookie on closing
        log_in(page, dispatcher, navigate=False)
    expect(page.locator("#parent-count")).to_have_text("3 / 30")
    expect(entries(page, "waiting")).to_have_count(0)
    assert scans_in_order("SB12345") == children
    assert page.errors == []


def test_two_tabs_share_the_queue_and_nothing_is_sent_twice_or_lost(context, page, dispatcher):
    log_in(page, dispatcher)
    open_parent(page, "SB12345")
    other = context.new_page()
    other.goto("/scan/")
    expect(other.locator("#parent-code")).to_have_text("SB12345")

    context.set_offline(True)
    children = [f"C42000{n:02d}" for n in range(1, 11)]
    for index, code in enumerate(children):
        scan(page if index % 2 == 0 else other, code)  # a loader switching tabs between scans
    assert [item["code"] for item in stored_queue(page, dispatcher, count=10)] == children
    expect(other.locator("#waiting-banner")).to_have_text("10 scans waiting — will send when the network is back")

    context.set_offline(False)  # both tabs see the network come back and want to send

    for tab in (page, other):
        expect(tab.locator("#parent-count")).to_have_text("10 / 30")
        expect(entries(tab, "waiting")).to_have_count(0)
    assert scans_in_order("SB12345") == children
    assert Scan.objects.filter(action="link").count() == 10

    # Online, both tabs at once: each scan sent once, none lost.
    more = [f"C43000{n:02d}" for n in range(1, 9)]
    for index, code in enumerate(more):
        scan(page if index % 2 == 0 else other, code)
    expect(page.locator("#parent-count")).to_have_text("18 / 30")
    assert sorted(scans_in_order("SB12345")[10:]) == more
    assert Scan.objects.filter(action="link").count() == 18


def test_a_queue_left_in_local_storage_is_moved_over_once_and_sent(context, page, dispatcher):
    factories.make_parent("SB12345", dispatch_area=dispatcher.dispatch_area)
    page.goto("/accounts/login/?next=/scan/")
    old_queue = [
        {"id": uuid.uuid4().hex, "kind": "child", "code": code, "parent": "SB12345", "at": "2026-12-03T10:00:00Z"}
        for code in ("C4400001", "C4400002")
    ]
    page.evaluate(
        "([key, queue]) => localStorage.setItem(key, JSON.stringify(queue))",
        [f"tt.scan.{dispatcher.pk}.queue", old_queue],
    )
    e2e.log_in(page, dispatcher, "/scan/", navigate=False)
    other = context.new_page()
    other.goto("/scan/")  # a second tab opening at the same time moves nothing twice

    expect(page.locator("#recent-list li[data-state=ok][data-code=C4400002]")).to_contain_text("Into SB12345")
    assert scans_in_order("SB12345") == ["C4400001", "C4400002"]
    assert page.evaluate(f"() => localStorage.getItem('tt.scan.{dispatcher.pk}.queue')") is None
    # Sent as scans that waited: with the time they were scanned.
    assert all(scan.device_time is not None for scan in Scan.objects.filter(action="link"))


def test_after_a_logout_the_next_user_never_gets_the_last_users_page_or_queue(context, page, dispatcher):
    log_in(page, dispatcher)
    open_parent(page, "SB12345")
    wait_for_shell(page)
    context.set_offline(True)
    context.clear_cookies()  # the session ended out of reach; these two wait for this dispatcher's next login
    scan(page, "C4500001")
    scan(page, "C4500002")
    expect(entries(page, "waiting")).to_have_count(2)
    context.set_offline(False)
    expect(page.locator("#session-banner")).to_be_visible()

    page.goto("/accounts/login/")  # whoever logs in next
    wait_for(page, "async () => !(await caches.keys()).some((name) => name.startsWith('tt-page-'))")
    context.set_offline(True)
    page.goto("/scan/")
    expect(page.locator("h1")).to_have_text("No network")  # not the last user's page
    assert dispatcher.username not in page.content()
    context.set_offline(False)

    colleague = factories.make_user("shell-colleague", area=dispatcher.dispatch_area)
    log_in(page, colleague)
    config = page.evaluate("() => JSON.parse(document.getElementById('scan-config').textContent)")
    assert config["user_id"] == colleague.pk
    expect(page.locator("#recent-list li")).to_have_count(0)  # not the dispatcher's waiting scans
    expect(page.locator("#mode-prompt")).to_have_text("Scan a parent bag")
    page.wait_for_timeout(500)
    assert Link.objects.count() == 0

    e2e.log_out(page)
    log_in(page, dispatcher)  # the dispatcher's own scans go at their next login
    expect(page.locator("#parent-count")).to_have_text("2 / 30")
    assert scans_in_order("SB12345") == ["C4500001", "C4500002"]


def test_a_new_release_replaces_the_caches_at_the_next_load(page, dispatcher, monkeypatch):
    log_in(page, dispatcher)
    wait_for_shell(page)
    before = page.evaluate("() => caches.keys()")
    assert f"tt-static-{shell.version()}" in before

    monkeypatch.setattr(shell, "version", lambda: "next-release")
    page.reload()

    wait_for(page, "async () => (await caches.keys()).includes('tt-static-next-release')")
    wait_for(page, "async () => (await caches.keys()).every((name) => name.endsWith('next-release'))")
    wait_for_shell(page)  # and the page is kept again, in the new release's cache


def test_the_app_is_installable_with_its_manifest_and_icons(profile, dispatcher):
    phone = profile()  # a real profile: Chromium installs nothing from an incognito context
    page = first_page(phone)
    log_in(page, dispatcher)
    wait_for_shell(page)
    cdp = phone.new_cdp_session(page)

    manifest = cdp.send("Page.getAppManifest")
    installability = cdp.send("Page.getInstallabilityErrors")

    assert manifest["errors"] == []
    assert manifest["url"].endswith("/manifest.webmanifest")
    assert installability["installabilityErrors"] == []
