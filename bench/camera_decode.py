"""The camera's QR decoding in Chromium: how long zxing-wasm (static/vendor, as static/js/camera.js loads it)
takes to start, and to decode one camera frame holding a bag label, at the sizes phones' cameras give.

Serves static/ on a local port (no Django needed), opens it in the system's headless Chromium, draws a segno QR
code of a parent code on a canvas of each size (the label about a third of the frame's height, as a loader
holds it), and times readBarcodesFromImageData over that frame. Prints the load time and the median and p95
per frame size; a frame slower than camera.js's 120 ms between frames would make the camera lag behind.

    .venv/bin/python bench/camera_decode.py [--runs 50]
"""

import argparse
import functools
import http.server
import os
import statistics
import threading
from pathlib import Path

import segno
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
ZXING = "/vendor/zxing-wasm-3.1.6"
SIZES = [(640, 480), (1280, 720), (1920, 1080)]

# Runs in the page: load zxing-wasm as camera.js does, then time the decoding of one drawn frame.
TIME_DECODING = """async ({ zxing, matrix, width, height, runs }) => {
    const started = performance.now();
    const module = await import(`${zxing}/es/reader/index.js`);
    await module.prepareZXingModule({
        overrides: { locateFile: () => `${zxing}/reader/zxing_reader.wasm` },
        fireImmediately: true,
    });
    const load = performance.now() - started;
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext("2d");
    context.fillStyle = "#ddd";
    context.fillRect(0, 0, width, height);
    const cell = Math.floor(height / 3 / (matrix.length + 8));
    const left = Math.floor((width - cell * (matrix.length + 8)) / 2);
    const top = Math.floor((height - cell * (matrix.length + 8)) / 2);
    context.fillStyle = "#fff";
    context.fillRect(left, top, cell * (matrix.length + 8), cell * (matrix.length + 8));
    context.fillStyle = "#111";
    matrix.forEach((row, y) => row.forEach((dark, x) => {
        if (dark) context.fillRect(left + (x + 4) * cell, top + (y + 4) * cell, cell, cell);
    }));
    const times = [];
    let text = "";
    for (let run = 0; run < runs; run += 1) {
        const image = context.getImageData(0, 0, width, height);
        const before = performance.now();
        const found = await module.readBarcodesFromImageData(image, { formats: ["QRCode"], maxNumberOfSymbols: 4 });
        times.push(performance.now() - before);
        text = found.length ? found[0].text : "";
    }
    return { load, times, text };
}"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve_static() -> http.server.ThreadingHTTPServer:
    handler = functools.partial(QuietHandler, directory=str(ROOT / "static"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    matrix = [[bool(dark) for dark in row] for row in segno.make("SB01234", error="m").matrix]
    server = serve_static()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        print(f"Chromium {browser.version}, zxing-wasm 3.1.6, {args.runs} frames per size")
        for width, height in SIZES:
            page = browser.new_page()  # a fresh page each time: the load time is a cold start's
            page.goto(f"{base}/vendor/")  # any page of that origin: a folder listing
            result = page.evaluate(
                TIME_DECODING, {"zxing": ZXING, "matrix": matrix, "width": width, "height": height, "runs": args.runs}
            )
            assert result["text"] == "SB01234", result["text"]
            times = sorted(result["times"])
            p95 = times[max(0, round(0.95 * len(times)) - 1)]
            print(
                f"{width}x{height}: load {result['load']:.0f} ms, decode median {statistics.median(times):.1f} ms,"
                f" p95 {p95:.1f} ms"
            )
            page.close()
        browser.close()
    server.shutdown()


if __name__ == "__main__":
    main()
