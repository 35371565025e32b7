"""The dispatcher's scan page in a real browser: a keyboard-wedge scanner types codes and presses Enter
into the page, which must already have focus; the database is checked after each story.

Transactional (the live server answers from its own thread); serialized_rollback restores the
products that the data migration made, which each test's flush would otherwise remove.
"""

import re
import time

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Role
from bags.models import Bag, Link
from scanning.models import Scan
from tests import factories
from tests.e2e import browser
from tests.e2e.browser import GREEN, READABILITY, RED, scan

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def log_in(page: Page, user, *, navigate: bool = True) -> None:
    browser.log_in(page, user, "/scan/", navigate=navigate)
    expect(page.locator("#scan-input")).to_be_focused()


def status(page: Page):
    return page.locator("#scan-status")


def entries(page: Page, state: str):
    return page.locator(f"#recent-list li[data-state={state}]")


# The queue as static/js/scan_queue.js keeps it in IndexedDB: the user's rows, in the order they were scanned.
READ_QUEUE = """
(userId) => new Promise((resolve, reject) => {
  const open = indexedDB.open("traitortrack");
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const range = IDBKeyRange.bound([userId, -Infinity], [userId, Infinity]);
    const rows = open.result.transaction("scan_queue").objectStore("scan_queue").index("by_user").getAll(range);
    rows.onsuccess = () => { open.result.close(); resolve(rows.result); };
  };
})
"""


def stored_queue(page: Page, user, count: int | None = None) -> list[dict]:
    """The user's stored queue; with ``count``, once it has that many rows (the page writes after it draws)."""
    deadline = time.monotonic() + 5
    rows = page.evaluate(READ_QUEUE, user.pk)
    while count is not None and len(rows) != count and time.monotonic() < deadline:
        page.wait_for_timeout(50)
        rows = page.evaluate(READ_QUEUE, user.pk)
    return rows


def links_in(parent_qr: str) -> list[str]:
    return sorted(Link.objects.filter(parent__qr_id=parent_qr).values_list("child__qr_id", flat=True))


@pytest.fixture
def dispatcher():
    return factories.make_user("e2e-dispatcher")


@pytest.fixture
def signals(context, page):
    """Record the page's vibrations and tones (headless Chromium has neither a motor nor a speaker).
    Requested before the page opens the scan page, so the recorders are in place on its first load."""
    context.add_init_script(browser.RECORD_FEEDBACK)

    def recorded() -> tuple[list, list]:
        return page.evaluate("() => [window.__vibrations, window.__tones]")

    return recorded


@pytest.fixture
def scan_page(page, dispatcher) -> Page:
    log_in(page, dispatcher)
    return page


def open_parent(page: Page, code: str = "SB12345") -> None:
    scan(page, code)
    expect(page.locator("#parent-code")).to_have_text(code)
    expect(page.locator("#parent-count")).to_have_text("0 / 30")
    expect(status(page)).to_have_attribute("data-state", "ok")


def test_parent_then_children_fill_the_parent(signals, scan_page):
    page = scan_page
    expect(page.locator("#mode-prompt")).to_have_text("Scan a parent bag")

    open_parent(page, "SB12345")
    scan(page, "C1000001")
    scan(page, "c1000002")
    # A scanner that sends a GS1 group separator and spaces around the code, and ends with Tab.
    page.keyboard.insert_text("\x1d C1000003 ")
    page.keyboard.press("Tab")

    expect(page.locator("#parent-count")).to_have_text("3 / 30")
    expect(page.locator("#parent-progress")).to_have_js_property("value", 3)
    expect(page.locator("#parent-progress")).to_have_js_property("max", 30)
    expect(status(page)).to_have_attribute("data-state", "ok")
    expect(status(page)).to_have_css("background-color", GREEN)
    expect(entries(page, "ok")).to_have_count(4)  # the parent and its three children
    assert links_in("SB12345") == ["C1000001", "C1000002", "C1000003"]
    assert Bag.objects.get(qr_id="SB12345").child_count == 3
    expect(page.locator("#scan-input")).to_be_focused()
    expect(page.locator("#scan-input")).to_have_value("")
    vibrations, tones = signals()
    assert vibrations == [60, 60, 60, 60]  # one short buzz per scan: the parent and three children
    assert tones == [1760, 1760, 1760, 1760]


def test_refused_scans_show_the_servers_sentence_in_red_and_change_nothing(signals, scan_page, dispatcher):
    page = scan_page
    other = factories.make_parent("SB00001", dispatch_area=dispatcher.dispatch_area)
    factories.link(other, factories.make_child("C2000001", dispatch_area=dispatcher.dispatch_area))
    open_parent(page, "SB12345")

    scan(page, "C2000001")

    expect(status(page)).to_have_attribute("data-state", "refused")
    expect(status(page)).to_have_css("background-color", RED)
    expect(page.locator("#scan-status-text")).to_have_text(
        "C2000001 is already in parent SB00001. It was not added to SB12345."
    )
    expect(entries(page, "refused")).to_have_count(1)
    vibrations, tones = signals()
    assert vibrations == [60, [200, 100, 200]]  # the parent opened, then the refusal
    assert tones == [1760, 220, 220]  # a high beep, then two low ones

    scan(page, "C-12")  # a misread label

    expect(page.locator("#scan-status-text")).to_contain_text("C-12")
    expect(status(page)).to_have_attribute("data-state", "refused")
    expect(entries(page, "refused")).to_have_count(2)
    assert links_in("SB00001") == ["C2000001"]
    assert links_in("SB12345") == []
    assert not Bag.objects.filter(qr_id="C-12").exists()
    # Still filling SB12345: a refusal does not throw the dispatcher out of the parent.
    expect(page.locator("#parent-code")).to_have_text("SB12345")


def test_undo_takes_the_last_child_out(scan_page):
    page = scan_page
    open_parent(page)
    scan(page, "C1000001")
    scan(page, "C1000002")
    expect(page.locator("#parent-count")).to_have_text("2 / 30")

    page.click("#undo-button")

    expect(page.locator("#parent-count")).to_have_text("1 / 30")
    expect(page.locator("#scan-status-text")).to_contain_text("Undone: C1000002")
    expect(page.locator("#recent-list li[data-state=undone][data-code=C1000002]")).to_have_count(1)
    # The undo's own line, as a warehouse person says it.
    expect(page.locator("#recent-list li").first).to_contain_text("Took C1000002 out of SB12345")
    assert links_in("SB12345") == ["C1000001"]
    # The tap on the button must not leave the scanner typing into nowhere.
    expect(page.locator("#scan-input")).to_be_focused()


def test_scans_made_offline_are_sent_once_when_the_network_is_back(context, page, dispatcher):
    # Plain http on a LAN has no crypto.randomUUID; the page must make its ids without it.
    context.add_init_script("Object.defineProperty(Crypto.prototype, 'randomUUID', {value: undefined});")
    log_in(page, dispatcher)
    open_parent(page)

    context.set_offline(True)
    children = [f"C30000{n:02d}" for n in range(1, 6)]
    for code in children:
        scan(page, code)

    expect(entries(page, "waiting")).to_have_count(5)
    expect(page.locator("#waiting-banner")).to_have_text("5 scans waiting — will send when the network is back")
    expect(page.locator("#parent-pending")).to_have_text("(+5 waiting)")
    assert links_in("SB12345") == []
    # Kept on the phone, per user, so a reload or a new login finds them; ids made without randomUUID.
    queued = stored_queue(page, dispatcher, count=5)
    assert [item["code"] for item in queued] == children
    assert all(re.fullmatch(r"[0-9a-f]{32}", item["id"]) for item in queued)

    context.set_offline(False)

    expect(entries(page, "ok")).to_have_count(6)
    expect(entries(page, "waiting")).to_have_count(0)
    expect(page.locator("#waiting-banner")).to_be_hidden()
    expect(page.locator("#parent-count")).to_have_text("5 / 30")
    assert links_in("SB12345") == children
    assert Scan.objects.filter(action="link").count() == 5


def test_a_parent_scanned_offline_takes_its_children(context, scan_page):
    page = scan_page
    context.set_offline(True)

    scan(page, "SB54321")
    expect(page.locator("#parent-code")).to_have_text("SB54321")
    scan(page, "C4000001")
    scan(page, "C4000002")
    scan(page, "SB11111")  # a parent where a child is expected: refused on the spot, never queued
    expect(status(page)).to_have_attribute("data-state", "refused")
    expect(entries(page, "waiting")).to_have_count(3)

    context.set_offline(False)

    expect(page.locator("#parent-count")).to_have_text("2 / 30")
    expect(entries(page, "waiting")).to_have_count(0)
    assert links_in("SB54321") == ["C4000001", "C4000002"]
    assert not Bag.objects.filter(qr_id="SB11111").exists()


def test_refusals_of_waiting_scans_are_shown_when_they_are_sent(context, scan_page, dispatcher):
    page = scan_page
    other = factories.make_parent("SB00001", dispatch_area=dispatcher.dispatch_area)
    factories.link(other, factories.make_child("C2000001", dispatch_area=dispatcher.dispatch_area))
    open_parent(page)
    context.set_offline(True)

    scan(page, "C2000001")
    scan(page, "C2000002")
    expect(entries(page, "waiting")).to_have_count(2)
    context.set_offline(False)

    expect(page.locator("#replay-banner")).to_contain_text("1 waiting scan was refused on sending: C2000001")
    expect(page.locator("#recent-list li[data-state=refused][data-code=C2000001]")).to_have_count(1)
    expect(page.locator("#recent-list li[data-state=ok][data-code=C2000002]")).to_have_count(1)
    assert links_in("SB12345") == ["C2000002"]


def test_a_double_fired_read_makes_one_link_and_no_error(scan_page):
    page = scan_page
    open_parent(page)

    page.keyboard.type("C5000001\n")
    page.keyboard.type("C5000001\n")  # the scanner fired twice within a second

    expect(page.locator("#parent-count")).to_have_text("1 / 30")
    expect(page.locator("#scan-ignored")).to_have_text("Ignored duplicate read of C5000001.")
    expect(status(page)).to_have_attribute("data-state", "ok")
    expect(entries(page, "refused")).to_have_count(0)
    assert links_in("SB12345") == ["C5000001"]
    assert Scan.objects.filter(action="link").count() == 1


def test_a_full_parent_sends_the_page_back_to_scanning_a_parent(scan_page, dispatcher):
    page = scan_page
    parent = factories.make_parent("SB12345", dispatch_area=dispatcher.dispatch_area)
    for n in range(29):
        factories.link(parent, factories.make_child(f"C60000{n:02d}", dispatch_area=dispatcher.dispatch_area))
    scan(page, "SB12345")
    expect(page.locator("#parent-count")).to_have_text("29 / 30")

    scan(page, "C6000099")

    expect(page.locator("#scan-status-note")).to_have_text("SB12345 is full — scan the next parent.")
    expect(page.locator("#mode-prompt")).to_have_text("Scan a parent bag")
    expect(page.locator("#parent-details")).to_be_hidden()
    assert len(links_in("SB12345")) == 30


def test_done_and_change_parent_buttons(scan_page):
    page = scan_page
    open_parent(page, "SB12345")
    scan(page, "C7000001")
    expect(page.locator("#parent-count")).to_have_text("1 / 30")

    page.click("#change-button")
    expect(page.locator("#mode-prompt")).to_have_text("Scan a parent bag")
    expect(page.locator("#scan-input")).to_be_focused()  # the tap did not take the scanner's focus
    open_parent(page, "SB22222")
    page.reload()  # the current parent survives a reload
    expect(page.locator("#parent-code")).to_have_text("SB22222")
    expect(page.locator("#scan-input")).to_be_focused()

    page.click("#done-button")

    expect(page.locator("#scan-status-text")).to_contain_text("SB22222")
    expect(status(page)).to_have_attribute("data-state", "ok")
    expect(page.locator("#mode-prompt")).to_have_text("Scan a parent bag")
    assert Bag.objects.get(qr_id="SB22222").completed_at is not None
    assert Bag.objects.get(qr_id="SB12345").completed_at is None


def test_scan_page_fits_a_375px_phone(context, scan_page, artifacts):
    page = scan_page
    page.set_viewport_size({"width": 375, "height": 812})
    open_parent(page)
    scan(page, "C8000001")
    expect(page.locator("#parent-count")).to_have_text("1 / 30")

    page.screenshot(path=str(artifacts / "scan-page-375.png"))  # what the phone shows, bar included

    for selector in ("#scan-input", "#done-button", "#undo-button", "#change-button", ".tt-bottom-link"):
        for element in page.locator(selector).all():
            box = element.bounding_box()
            assert box["height"] >= 44, f"{selector} is {box['height']}px tall"
            assert box["x"] >= 0 and box["x"] + box["width"] <= 375, f"{selector} leaves the screen"
    body_font = page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")
    assert body_font >= 18
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    # The fixed bar hides nothing: scrolled to the end, the last list entry ends above the bar.
    bar = page.locator(".tt-bottom-bar")
    assert bar.bounding_box()["y"] + bar.bounding_box()["height"] == 812  # at the foot of the screen
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    assert bar.bounding_box()["y"] + bar.bounding_box()["height"] == 812  # and it stays there (fixed)
    bar_top = bar.bounding_box()["y"]
    last_bottom = page.evaluate("() => document.querySelector('main').getBoundingClientRect().bottom")
    assert last_bottom <= bar_top


def assert_readable(page: Page, when: str) -> None:
    """Text at least 18 px and WCAG AA contrast (4.5:1; all of it is 18 px or more, so large text's 3:1 is
    only allowed from 24 px)."""
    texts = page.evaluate(READABILITY)
    assert len(texts) > 10, when
    for text in texts:
        assert text["px"] >= 18, f"{when}: {text}"
        assert text["contrast"] >= (3 if text["px"] >= 24 else 4.5), f"{when}: {text}"


def test_every_text_on_the_scan_page_is_18px_and_aa_contrast_in_every_state(context, scan_page, dispatcher):
    page = scan_page
    page.set_viewport_size({"width": 375, "height": 812})
    other = factories.make_parent("SB00001", dispatch_area=dispatcher.dispatch_area)
    factories.link(other, factories.make_child("C2000001", dispatch_area=dispatcher.dispatch_area))
    assert_readable(page, "ready")
    open_parent(page)
    scan(page, "C1000001")
    expect(page.locator("#parent-count")).to_have_text("1 / 30")
    assert_readable(page, "linked")
    scan(page, "C1000001")
    scan(page, "C1000001")  # a double read, shown as ignored
    expect(page.locator("#scan-ignored")).to_be_visible()
    assert_readable(page, "duplicate")
    scan(page, "C2000001")
    expect(status(page)).to_have_attribute("data-state", "refused")
    assert_readable(page, "refused")

    context.set_offline(True)
    scan(page, "C3000001")
    scan(page, "C2000001")  # refused when it is sent
    expect(page.locator("#waiting-banner")).to_be_visible()
    assert_readable(page, "waiting")
    context.set_offline(False)
    expect(page.locator("#replay-banner")).to_be_visible()
    assert_readable(page, "refused on sending")
    assert page.locator("#replay-dismiss").bounding_box()["height"] >= 44


def test_the_last_ten_scans_are_listed_newest_first_and_after_a_reload(scan_page):
    page = scan_page
    open_parent(page)
    children = [f"C11000{n:02d}" for n in range(1, 12)]
    for code in children:
        scan(page, code)
    expect(page.locator("#parent-count")).to_have_text("11 / 30")

    listed = page.locator("#recent-list li")
    expect(listed).to_have_count(10)
    assert [item.get_attribute("data-code") for item in listed.all()] == children[::-1][:10]
    page.reload()
    expect(listed).to_have_count(10)
    assert [item.get_attribute("data-code") for item in listed.all()] == children[::-1][:10]


def test_a_tap_anywhere_gives_the_focus_back_to_the_scan_input(scan_page):
    page = scan_page
    open_parent(page)
    scan(page, "C1000001")

    for target in ("#scan-status", "#parent-card", "#recent-list li", ".tt-recent-title", "main"):
        page.click(target, position={"x": 2, "y": 2})
        expect(page.locator("#scan-input")).to_be_focused()
        scan(page, f"C10000{page.locator('#recent-list li').count() + 10}")  # and the scanner's next read lands
    expect(page.locator("#parent-count")).to_have_text("6 / 30")


def test_a_session_that_ended_offline_keeps_the_waiting_scans_until_the_next_login(context, scan_page, dispatcher):
    page = scan_page
    open_parent(page)
    context.set_offline(True)
    context.clear_cookies()  # the session ended while the phone was out of reach

    scan(page, "C9000001")
    scan(page, "C9000002")
    expect(entries(page, "waiting")).to_have_count(2)
    context.set_offline(False)

    banner = page.locator("#session-banner")
    expect(banner).to_have_text("Your session ended. Log in again to send 2 waiting scans.")
    assert links_in("SB12345") == []

    banner.get_by_role("link", name="Log in again").click()
    page.wait_for_url("**/accounts/login/?next=/scan/")
    log_in(page, dispatcher, navigate=False)

    expect(entries(page, "waiting")).to_have_count(0)
    expect(page.locator("#parent-count")).to_have_text("2 / 30")
    expect(page.locator("#session-banner")).to_be_hidden()
    assert links_in("SB12345") == ["C9000001", "C9000002"]


def test_a_child_is_moved_by_scanning_it_then_its_new_parent_and_the_move_undone(signals, scan_page, dispatcher):
    page = scan_page
    area = dispatcher.dispatch_area
    factories.link(
        factories.make_parent("SB00001", dispatch_area=area), factories.make_child("C5000001", dispatch_area=area)
    )
    factories.make_parent("SB00002", dispatch_area=area)
    open_parent(page, "SB00002")  # filling SB00002 (answered, so the feedback below comes in order)

    page.click("#move-button")
    expect(page.locator("#mode-prompt")).to_have_text("Move: scan the child bag to move")
    expect(page.locator("#scan-input")).to_be_focused()
    scan(page, "SB00001")  # a parent where the child to move is expected: refused on the spot
    expect(status(page)).to_have_attribute("data-state", "refused")
    scan(page, "c5000001")
    expect(page.locator("#mode-prompt")).to_have_text("Move C5000001: scan its new parent bag")
    scan(page, "SB00002")

    expect(page.locator("#scan-status-text")).to_have_text("C5000001 moved from SB00001 to SB00002: 1 of 30.")
    expect(status(page)).to_have_css("background-color", GREEN)
    expect(page.locator("#mode-prompt")).to_have_text("Scan child bags into")  # back to filling SB00002
    expect(page.locator("#parent-count")).to_have_text("1 / 30")
    expect(page.locator("#recent-list li[data-code=C5000001]")).to_contain_text("Moved to SB00002")
    assert (links_in("SB00001"), links_in("SB00002")) == ([], ["C5000001"])
    move = Scan.objects.get(action="move")
    assert (move.from_parent_qr, move.parent_qr, move.device_time) == ("SB00001", "SB00002", None)

    page.click("#undo-button")

    expect(page.locator("#scan-status-text")).to_have_text(
        "Undone: C5000001 moved back from SB00002 to SB00001 (1 of 30)."
    )
    expect(page.locator("#parent-count")).to_have_text("0 / 30")
    expect(page.locator("#recent-list li[data-state=undone][data-code=C5000001]")).to_have_count(1)
    assert (links_in("SB00001"), links_in("SB00002")) == (["C5000001"], [])
    expect(page.locator("#scan-input")).to_be_focused()
    vibrations, _ = signals()
    assert vibrations == [60, [200, 100, 200], 60, 60]  # opened, refused on the spot, moved, undone


def test_a_move_made_offline_is_sent_with_the_time_it_was_scanned(context, scan_page, dispatcher):
    page = scan_page
    area = dispatcher.dispatch_area
    factories.link(
        factories.make_parent("SB00001", dispatch_area=area), factories.make_child("C5000002", dispatch_area=area)
    )
    factories.make_parent("SB00002", dispatch_area=area)
    context.set_offline(True)

    page.click("#move-button")
    scan(page, "C5000002")
    scan(page, "SB00002")
    expect(entries(page, "waiting")).to_have_count(1)
    expect(page.locator("#recent-list li[data-state=waiting]")).to_contain_text("Move to SB00002")
    assert links_in("SB00002") == []

    context.set_offline(False)

    expect(entries(page, "waiting")).to_have_count(0)
    expect(page.locator("#recent-list li[data-code=C5000002]")).to_contain_text("Moved to SB00002")
    assert links_in("SB00002") == ["C5000002"]
    move = Scan.objects.get(action="move")
    assert move.device_time is not None and move.device_time <= move.created_at


def test_a_move_can_be_cancelled_before_its_parent_is_scanned(scan_page, dispatcher):
    page = scan_page
    page.click("#move-button")
    expect(page.locator("#move-button")).to_have_text("Cancel move")

    page.click("#move-button")

    expect(page.locator("#move-button")).to_have_text("Move a child")
    expect(page.locator("#mode-prompt")).to_have_text("Scan a parent bag")
    expect(page.locator("#scan-input")).to_be_focused()


# --- Command barcodes (bags.qr.Command, printed by the labels' command sheet): the buttons, from the scanner.


def test_command_barcodes_move_undo_and_mark_done_like_the_buttons(signals, scan_page, dispatcher):
    page = scan_page
    area = dispatcher.dispatch_area
    factories.link(
        factories.make_parent("SB00001", dispatch_area=area), factories.make_child("C5000001", dispatch_area=area)
    )
    open_parent(page, "SB00002")
    scan(page, "C5000009")
    expect(page.locator("#parent-count")).to_have_text("1 / 30")

    scan(page, "tt-cmd-move")  # read as the scanner types it: cleaned and upper-cased like a bag code
    expect(page.locator("#mode-prompt")).to_have_text("Move: scan the child bag to move")
    scan(page, "C5000001")
    scan(page, "SB00002")
    expect(page.locator("#scan-status-text")).to_have_text("C5000001 moved from SB00001 to SB00002: 2 of 30.")

    page.keyboard.type("TT-CMD-UNDO\n")
    page.keyboard.type("TT-CMD-UNDO\n")  # the scanner fired twice: one undo
    expect(page.locator("#scan-status-text")).to_have_text(
        "Undone: C5000001 moved back from SB00002 to SB00001 (1 of 30)."
    )
    expect(page.locator("#scan-ignored")).to_have_text("Ignored duplicate read of TT-CMD-UNDO.")
    expect(page.locator("#parent-count")).to_have_text("1 / 30")

    scan(page, "TT-CMD-DONE")
    expect(page.locator("#mode-prompt")).to_have_text("Scan a parent bag")
    expect(status(page)).to_have_attribute("data-state", "ok")

    assert (links_in("SB00001"), links_in("SB00002")) == (["C5000001"], ["C5000009"])
    assert Bag.objects.get(qr_id="SB00002").completed_at is not None
    assert Scan.objects.filter(action="undo").count() == 1
    assert not Bag.objects.filter(qr_id__startswith="TT-CMD-").exists()
    vibrations, _ = signals()
    # opened, linked, MOVE read, moved, undone, marked complete: all short buzzes, no refusal
    assert vibrations == [60] * 6


def test_command_barcodes_cancel_a_move_and_leave_the_parent(scan_page):
    page = scan_page
    open_parent(page, "SB00002")

    scan(page, "TT-CMD-MOVE")
    scan(page, "TT-CMD-CANCEL")
    expect(page.locator("#move-button")).to_have_text("Move a child")
    expect(page.locator("#mode-prompt")).to_have_text("Scan child bags into")

    scan(page, "TT-CMD-NEW-PARENT")
    expect(page.locator("#mode-prompt")).to_have_text("Scan a parent bag")
    expect(page.locator("#scan-status-note")).to_have_text("Left SB00002; it stays open.")

    scan(page, "TT-CMD-DONE")  # no parent open: refused on the spot, nothing sent
    expect(status(page)).to_have_attribute("data-state", "refused")
    expect(page.locator("#scan-status-text")).to_have_text("No parent bag is open. Scan a parent bag first.")
    assert Bag.objects.get(qr_id="SB00002").completed_at is None
    assert Scan.objects.filter(action="complete").count() == 0


def test_a_command_read_offline_is_sent_once_even_after_a_reload(context, scan_page, dispatcher):
    page = scan_page
    open_parent(page, "SB00002")
    context.set_offline(True)

    scan(page, "C5000010")
    scan(page, "TT-CMD-DONE")
    expect(entries(page, "waiting")).to_have_count(2)
    assert [item["kind"] for item in stored_queue(page, dispatcher, count=2)] == ["child", "complete"]
    context.set_offline(False)
    expect(entries(page, "waiting")).to_have_count(0)
    page.reload()  # a replayed queue is gone from the phone: nothing is sent again
    expect(page.locator("#scan-input")).to_be_focused()
    page.wait_for_timeout(300)

    assert links_in("SB00002") == ["C5000010"]
    assert Scan.objects.filter(action="complete").count() == 1
    assert stored_queue(page, dispatcher) == []


@pytest.fixture
def biller_page(page):
    """A biller on the scan page, with two areas to choose from."""
    areas = {name: factories.make_area(name) for name in ("Godown East", "Godown West")}
    biller = factories.make_user("e2e-biller", role=Role.BILLER)
    log_in(page, biller)
    return page, biller, areas


def test_a_biller_opens_a_new_parent_in_the_area_picked_and_the_page_remembers_it(biller_page):
    page, _, areas = biller_page
    picker = page.locator("#area-select")
    expect(picker).to_have_value("")

    scan(page, "SB77700")  # no area chosen: the server refuses the new parent
    expect(status(page)).to_have_attribute("data-state", "refused")
    expect(page.locator("#scan-status-text")).to_contain_text("choose its dispatch area")
    assert not Bag.objects.filter(qr_id="SB77700").exists()

    picker.select_option(label="Godown West")
    expect(page.locator("#scan-input")).to_be_focused()  # the scanner types into the page again
    open_parent(page, "SB77701")

    assert Bag.objects.get(qr_id="SB77701").dispatch_area == areas["Godown West"]
    expect(page.locator("#scan-status-text")).to_contain_text("Godown West")
    page.reload()
    expect(picker).to_have_value(str(areas["Godown West"].pk))


def test_a_parent_queued_offline_keeps_the_area_picked_when_it_was_scanned(context, biller_page):
    page, biller, areas = biller_page
    page.locator("#area-select").select_option(label="Godown East")
    context.set_offline(True)

    scan(page, "SB77702")
    queued = stored_queue(page, biller, count=1)
    page.locator("#area-select").select_option(label="Godown West")  # changed before the network is back
    context.set_offline(False)

    expect(entries(page, "waiting")).to_have_count(0)
    assert queued[0]["area_id"] == areas["Godown East"].pk
    assert Bag.objects.get(qr_id="SB77702").dispatch_area == areas["Godown East"]
