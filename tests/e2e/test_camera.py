"""The "Use camera" button of the scanner pages in a real browser with a fake camera: Chromium plays a video
this test makes (a Y4M file of segno QR codes, one after another) as the phone's rear camera. The reads go the
wedge's way (its double-read guard, queue and feedback), a label in view for seconds is read once, and the
database holds each scan exactly once. Without a camera (or without permission) the page says so in a
sentence and the wedge scanner still works.

Chromium on Linux has no BarcodeDetector, so the scan page here runs on the vendored zxing-wasm; the
BarcodeDetector path is driven by a stand-in detector (the browser API's shape, decoding with zxing-wasm) put
in the page before it loads.

Transactional (the live server answers from its own thread); serialized_rollback restores the products.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import segno
from playwright.sync_api import Page, expect

from accounts.models import Role
from bags.models import Bag, Link
from bills import services as bills
from bills.models import BillBag
from returns.models import ReturnTicketBag
from scanning.models import Scan
from tests import factories
from tests.bills.data import parent_with
from tests.e2e.browser import log_in, scan
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WIDTH, HEIGHT, FPS = 320, 240, 10
WHITE, BLACK = 235, 16  # video-range luma

# Every stream the page opens, to check that its tracks end when the page is hidden.
KEEP_STREAMS = """
    window.__streams = [];
    const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (constraints) => {
        const stream = await getUserMedia(constraints);
        window.__streams.push(stream);
        return stream;
    };
"""
# The zxing-wasm path on purpose, whatever a later Chromium may add.
NO_BARCODE_DETECTOR = "delete window.BarcodeDetector;"
# The browser API's shape (getSupportedFormats, detect -> [{rawValue}]), decoding with the vendored zxing-wasm;
# __detections counts the page's calls, which only the BarcodeDetector path makes.
STAND_IN_BARCODE_DETECTOR = """
    window.__detections = 0;
    window.BarcodeDetector = class {
        static async getSupportedFormats() { return ["qr_code", "ean_13"]; }
        constructor(options) { this.formats = options.formats; }
        async detect(video) {
            window.__detections += 1;
            const zxing = await import("/static/vendor/zxing-wasm-3.1.6/es/reader/index.js");
            await zxing.prepareZXingModule({
                overrides: { locateFile: () => "/static/vendor/zxing-wasm-3.1.6/reader/zxing_reader.wasm" },
                fireImmediately: true,
            });
            if (!video.videoWidth) return [];
            const canvas = new OffscreenCanvas(video.videoWidth, video.videoHeight);
            const context = canvas.getContext("2d");
            context.drawImage(video, 0, 0);
            const image = context.getImageData(0, 0, canvas.width, canvas.height);
            const found = await zxing.readBarcodesFromImageData(image, { formats: ["QRCode"] });
            return found.map((result) => ({ rawValue: result.text, format: "qr_code" }));
        }
    };
"""


def qr_frame(code: str | None) -> bytes:
    """One I420 frame: white, with the code's QR in the middle (None: an empty view)."""
    luma = bytearray([WHITE]) * (WIDTH * HEIGHT)
    if code:
        matrix = segno.make(code, error="m").matrix
        size = len(matrix) + 8  # the quiet zone
        scale = (HEIGHT - 20) // size
        top, left = (HEIGHT - size * scale) // 2, (WIDTH - size * scale) // 2
        for row_index, row in enumerate(matrix):
            for col_index, dark in enumerate(row):
                if not dark:
                    continue
                for y in range(scale):
                    start = (top + (row_index + 4) * scale + y) * WIDTH + left + (col_index + 4) * scale
                    luma[start : start + scale] = bytes([BLACK]) * scale
    chroma = bytes([128]) * (WIDTH * HEIGHT // 2)
    return b"FRAME\n" + bytes(luma) + chroma


def write_video(path: Path, scenes: list[tuple[str | None, float]]) -> Path:
    """A Y4M video of scenes (code or None, seconds); Chromium plays it as the camera, from the start each
    time the camera opens, looping at the end (so the last scene is long and empty)."""
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for code, seconds in scenes:
            frame = qr_frame(code)
            for _ in range(round(seconds * FPS)):
                video.write(frame)
    return path


@pytest.fixture
def camera_page(browser, live_server, tmp_path) -> Iterator[Callable[..., Page]]:
    """camera_page(scenes, *init_scripts) -> a page in a Chromium whose camera plays those scenes (a browser
    of its own: the fake camera is a launch argument). The camera permission prompt is answered yes, or with
    allowed=False, no (nobody answers it: Playwright's browser refuses what it was not granted)."""
    opened = []

    def open_page(scenes: list[tuple[str | None, float]], *init_scripts: str, allowed: bool = True) -> Page:
        video = write_video(tmp_path / "camera.y4m", scenes)
        camera_browser = browser.browser_type.launch(
            executable_path=CHROMIUM,
            args=[
                *CHROMIUM_ARGS,
                "--use-fake-device-for-media-stream",
                *(["--use-fake-ui-for-media-stream"] if allowed else []),
                f"--use-file-for-fake-video-capture={video}",
            ],
        )
        opened.append(camera_browser)
        context = camera_browser.new_context(base_url=live_server.url, viewport={"width": 375, "height": 740})
        context.set_default_timeout(15_000)
        for script in (KEEP_STREAMS, *init_scripts):
            context.add_init_script(script)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.js_errors = errors
        return page

    yield open_page
    for camera_browser in opened:
        camera_browser.close()


def played(page: Page, seconds: float) -> None:
    """Wait until the camera has played past ``seconds`` of its video (the page's video element's clock
    starts with the capture, so it never runs ahead of the file)."""
    clock = "(seconds) => document.querySelector('[data-camera-video]').currentTime > seconds"
    page.wait_for_function(clock, arg=seconds)  # a function, not a string: the page's CSP refuses eval


def posts_to(page: Page, fragment: str) -> list[str]:
    """The POST requests the page makes to URLs containing fragment, as they happen."""
    seen: list[str] = []

    def on_request(request) -> None:
        if request.method == "POST" and fragment in request.url:
            seen.append(request.url)

    page.on("request", on_request)
    return seen


def test_a_dispatcher_scans_a_parent_and_a_child_with_the_camera(camera_page, artifacts):
    dispatcher = factories.make_user("e2e-camera")
    # Each label stays in view for 2.5 s (some 20 decoded frames): each must be read once.
    page = camera_page([(None, 1), ("SB00321", 2.5), (None, 2), ("CAM00001", 2.5), (None, 40)], NO_BARCODE_DETECTOR)
    parent_posts, child_posts = posts_to(page, "/api/scan/parent"), posts_to(page, "/api/scan/child")
    log_in(page, dispatcher, "/scan/")
    assert page.evaluate("'BarcodeDetector' in window") is False
    button = page.get_by_role("button", name="Use camera")

    button.click()

    expect(page.locator("[data-camera-video]")).to_be_visible()
    expect(page.get_by_role("button", name="Stop camera")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#parent-code")).to_have_text("SB00321")
    expect(page.locator("#scan-status")).to_have_attribute("data-state", "ok")
    expect(page.locator("#recent-list li[data-state=ok]", has_text="CAM00001")).to_have_count(1)
    status_box = page.locator("#scan-status").bounding_box()
    assert status_box["y"] + status_box["height"] <= 740  # the answer stays on screen above the camera's view
    page.screenshot(path=str(artifacts / "camera-scan-375x740.png"))
    played(page, 9)  # past the end of the child's scene: still one read of each
    assert (len(parent_posts), len(child_posts)) == (1, 1)
    assert list(Link.objects.values_list("parent__qr_id", "child__qr_id")) == [("SB00321", "CAM00001")]
    assert Scan.objects.filter(bag_qr="CAM00001").count() == 1
    expect(page.locator("#scan-input")).to_be_focused()  # the wedge keeps the keyboard meanwhile

    # Hidden (the phone locked, another app opened): the camera is closed, not left running.
    page.evaluate("""() => {
        Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
        Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    expect(page.locator("[data-camera-video]")).to_be_hidden()
    expect(page.locator("[data-camera-message]")).to_have_text(
        "The camera was closed when the page was hidden. Tap Use camera to start it again."
    )
    assert page.evaluate("window.__streams.flatMap((s) => s.getTracks()).map((t) => t.readyState)") == ["ended"]
    expect(button).to_be_visible()
    assert not page.js_errors


def test_a_biller_adds_a_parent_to_a_bill_with_the_browsers_barcode_detector(camera_page, artifacts):
    biller = factories.make_user("e2e-camera-biller", role=Role.BILLER)
    bill = factories.make_bill(biller, bill_number="INV-CAM", expected_parents=2)
    parent_with(4, "SB00777")
    # The label in view for 3 s, out of view for 2.5 s, then shown again.
    page = camera_page([(None, 1), ("SB00777", 3), (None, 2.5), ("SB00777", 2), (None, 40)], STAND_IN_BARCODE_DETECTOR)
    adds = posts_to(page, f"/api/bills/{bill.pk}/parents")
    log_in(page, biller, f"/bills/{bill.pk}/")

    page.get_by_role("button", name="Use camera").click()

    expect(page.locator("#bill-parents-body tr[data-code=SB00777]")).to_have_count(1)
    expect(page.locator("#bill-scan-status-text")).to_have_text("SB00777 added to INV-CAM: 1 of 2 parents.")
    played(page, 5.5)  # its first scene is over: one read
    assert len(adds) == 1
    # Shown again after leaving the view: read again, and refused as a repeat, as a wedge's second read is.
    expect(page.locator("#bill-scan-status")).to_have_attribute("data-state", "refused")
    expect(page.locator("#bill-scan-status-text")).to_contain_text("already on")
    played(page, 9)
    assert len(adds) == 2
    assert page.evaluate("window.__detections") > 5  # the page asked the browser's detector, frame by frame
    assert list(BillBag.objects.values_list("parent_bag__qr_id", flat=True)) == ["SB00777"]
    assert not page.js_errors


def test_a_biller_scans_a_returned_parent_with_the_camera(camera_page):
    biller = factories.make_user("e2e-camera-returns", role=Role.BILLER)
    bill = factories.make_bill(biller, bill_number="INV-RTN", expected_parents=1)
    bills.add_parent(user=biller, bill_id=bill.pk, raw_code=parent_with(3, "SB00888").qr_id)
    bills.finalise_bill(user=biller, bill_id=bill.pk)
    ticket = factories.make_return_ticket(biller)
    page = camera_page([(None, 1), ("SB00888", 3), (None, 40)], NO_BARCODE_DETECTOR)
    log_in(page, biller, f"/returns/{ticket.pk}/")

    page.get_by_role("button", name="Use camera").click()

    expect(page.locator("#ticket-parents-body tr[data-code=SB00888]")).to_have_count(1)
    played(page, 4.5)
    assert list(ReturnTicketBag.objects.values_list("parent_bag__qr_id", flat=True)) == ["SB00888"]

    # The phone takes the camera back (a call, another app): the track ends, and the page says so.
    page.evaluate("window.__streams[0].getVideoTracks()[0].dispatchEvent(new Event('ended'))")
    expect(page.locator("[data-camera-message]")).to_have_text(
        "The camera stopped (another app may be using it). Tap Use camera to start it again."
    )
    expect(page.locator("[data-camera-video]")).to_be_hidden()
    assert not page.js_errors


def test_other_pages_may_not_use_the_camera(camera_page):
    # Permissions-Policy camera=() there: even with the permission prompt answered yes, the browser refuses.
    page = camera_page([(None, 5)])
    log_in(page, factories.make_user("e2e-camera-lookup"), "/scan/lookup/")

    refused = page.evaluate(
        "navigator.mediaDevices.getUserMedia({video: true}).then(() => 'opened', (error) => error.name)"
    )

    assert refused == "NotAllowedError"
    assert page.locator("[data-camera]").count() == 0


def test_a_refused_camera_is_explained_and_the_wedge_still_scans(camera_page):
    page = camera_page([("SB00655", 5)], allowed=False)
    log_in(page, factories.make_user("e2e-camera-refused"), "/scan/")

    page.get_by_role("button", name="Use camera").click()

    expect(page.locator("[data-camera-message]")).to_have_text(
        "The camera is not allowed for this site. Allow it in the browser settings, or use the scanner."
    )
    expect(page.locator("[data-camera-video]")).to_be_hidden()
    expect(page.get_by_role("button", name="Use camera")).to_be_enabled()
    scan(page, "SB00655")
    expect(page.locator("#scan-status")).to_have_attribute("data-state", "ok")
    assert Bag.objects.filter(qr_id="SB00655").exists()
    assert not page.js_errors


def test_without_a_camera_the_page_says_so_and_the_wedge_still_scans(page):
    # The usual test browser: no camera device at all.
    log_in(page, factories.make_user("e2e-no-camera"), "/scan/")

    page.get_by_role("button", name="Use camera").click()

    expect(page.locator("[data-camera-message]")).to_have_text("No camera was found on this device. Use the scanner.")
    expect(page.locator("[data-camera-video]")).to_be_hidden()
    scan(page, "SB00654")
    expect(page.locator("#parent-code")).to_have_text("SB00654")
    expect(page.locator("#scan-status")).to_have_attribute("data-state", "ok")  # the server's answer
    assert Bag.objects.filter(qr_id="SB00654").exists()
