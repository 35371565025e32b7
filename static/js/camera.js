// The "Use camera" button of the scanner pages (scan, bill, return ticket), for a phone with no wedge
// scanner: QR codes read from the rear camera go into the same read(code) as the wedge's reads
// (wedge.js keepScannerInput), so they get the same cleaning, double-read guard, queue and feedback.
//
// Decoding: the browser's BarcodeDetector where it has one that reads QR codes (Android Chrome), else
// zxing-wasm, vendored in static/vendor (README, "Camera scanning"), loaded only when the camera starts.
// The template (templates/scanning/camera.html) gives the module and .wasm URLs and the page's sentences.

import { cleanCode } from "./wedge.js";

// A camera sees the same label in frame after frame: a code is read once, then held until it has been
// out of view this long (a missed frame or two while the phone moves does not count as leaving).
export const LEAVE_MS = 1500;
const FRAME_MS = 120;

async function barcodeDetector() {
  if (!("BarcodeDetector" in window)) return null;
  try {
    const formats = await window.BarcodeDetector.getSupportedFormats();
    if (!formats.includes("qr_code")) return null;
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    return async (video) => (await detector.detect(video)).map((found) => found.rawValue);
  } catch {
    return null; // a BarcodeDetector that cannot read QR codes here: zxing-wasm instead
  }
}

async function zxingDecoder(moduleUrl, wasmUrl) {
  const zxing = await import(moduleUrl);
  // The library's default is to fetch its .wasm file from a CDN: the warehouse's copy is used instead.
  await zxing.prepareZXingModule({
    overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? wasmUrl : prefix + path) },
    fireImmediately: true,
  });
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return async (video) => {
    if (!video.videoWidth || !video.videoHeight) return [];
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    context.drawImage(video, 0, 0);
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    const found = await zxing.readBarcodesFromImageData(image, { formats: ["QRCode"], maxNumberOfSymbols: 4 });
    return found.filter((result) => result.isValid).map((result) => result.text);
  };
}

// Wires the page's camera box (templates/scanning/camera.html) to read(code). Returns { stop } or null
// when the page has no camera box.
export function attachCamera(read, box = document.querySelector("[data-camera]")) {
  if (!box) return null;
  const button = box.querySelector("[data-camera-button]");
  const video = box.querySelector("[data-camera-video]");
  const message = box.querySelector("[data-camera-message]");
  const text = box.dataset;
  const lastSeen = new Map(); // code -> when the camera last saw it
  let stream = null;
  let timer = 0;
  let decode = null;

  function say(sentence) {
    message.textContent = sentence || "";
  }

  function showRunning(running) {
    video.hidden = !running;
    button.textContent = running ? text.stopLabel : text.startLabel;
    button.setAttribute("aria-pressed", running ? "true" : "false");
  }

  function stop(sentence = "") {
    window.clearTimeout(timer);
    if (stream) for (const track of stream.getTracks()) track.stop();
    stream = null;
    video.srcObject = null;
    showRunning(false);
    say(sentence);
  }

  function seen(codes) {
    const now = Date.now();
    for (const [code, at] of lastSeen) if (now - at >= LEAVE_MS) lastSeen.delete(code);
    for (const raw of codes) {
      const code = cleanCode(raw);
      if (!code) continue;
      const held = lastSeen.has(code);
      lastSeen.set(code, now);
      if (!held) read(code);
    }
  }

  async function scanFrames() {
    if (!stream) return;
    try {
      seen(await decode(video));
    } catch {
      // A frame the decoder could not take (the video not ready yet): the next one will do.
    }
    if (stream) timer = window.setTimeout(scanFrames, FRAME_MS);
  }

  function failureSentence(error) {
    if (error && (error.name === "NotAllowedError" || error.name === "SecurityError")) return text.denied;
    if (error && (error.name === "NotFoundError" || error.name === "OverconstrainedError")) return text.noCamera;
    return text.failed;
  }

  async function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say(text.unsupported); // plain http on a LAN is not a secure context: no camera there
      return;
    }
    button.disabled = true;
    say(text.starting);
    try {
      const opened = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: "environment" } },
      });
      if (document.hidden) {
        for (const track of opened.getTracks()) track.stop();
        say("");
        return;
      }
      stream = opened;
      // The phone may take the camera back (a call, another app): say so rather than decode a frozen frame.
      for (const track of stream.getVideoTracks()) {
        track.addEventListener("ended", () => {
          if (stream === opened) stop(text.lost);
        });
      }
      video.srcObject = stream;
      showRunning(true);
      await video.play();
      decode = decode || (await barcodeDetector()) || (await zxingDecoder(text.zxingModule, text.zxingWasm));
      if (!stream) return; // stopped while the decoder loaded
      say(text.looking);
      lastSeen.clear();
      scanFrames();
    } catch (error) {
      stop(failureSentence(error));
    } finally {
      button.disabled = false;
    }
  }

  button.hidden = false;
  button.addEventListener("click", () => (stream ? stop() : start()));
  // A camera left on in a hidden tab keeps the phone's camera busy and drains its battery.
  document.addEventListener("visibilitychange", () => {
    if (document.hidden && stream) stop(text.hiddenStopped);
  });
  window.addEventListener("pagehide", () => stop());
  return { stop };
}
