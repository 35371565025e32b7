// Reading a keyboard-wedge scanner, for the scanner pages (the scan, bill and return ticket pages). A wedge
// scanner is a keyboard to the phone: it types the code, then Enter (or Tab), into whatever has focus.
// So the page keeps one input focused, takes the focus back after any tap, cleans what was typed and
// ignores a second read of the same code within DOUBLE_FIRE_MS.

import { unlockAudio } from "./feedback.js";
import { gettext, interpolate } from "./i18n.js";

export const DOUBLE_FIRE_MS = 1000;

// What a wedge scanner types: drop control characters (CR, LF, GS, ...), zero-width characters and a
// leading AIM symbology identifier ("]Q1" for QR), then the surrounding white space.
export function cleanCode(raw) {
  let code = String(raw).replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060\ufeff]/g, "");
  code = code.trim().replace(/^\][A-Za-z][0-9A-Za-z]/, "").trim();
  return code.toUpperCase();
}

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// Wires the scan input: Enter (the form's submit) or Tab ends a read; the read is cleaned, a double read
// is shown in ignoredEl and dropped, and onRead(code) gets every other non-empty code. The input keeps
// the focus. The first key or tap unlocks the sound (see feedback.js).
//
//   form, input   the scan form and its input
//   onRead(code)  called with the cleaned code
//   ignoredEl     optional: where "Ignored duplicate read of …" is shown (cleared by the next read)
//   root          optional: a tap on a button inside it does not take the focus from the input
//   letTabLeave   Tab on an empty input moves the focus on as usual, and focus moved to another element
//                 stays there (else the blur would pull it straight back and Tab could never leave);
//                 only focus lost to nothing is taken back. Without it the input holds the keyboard:
//                 Tab always ends a read and any blur is taken back.
//
// Returns { refocus, read }: refocus gives the input the focus at start; read(raw) takes a code read
// another way (the camera, camera.js) through the same cleaning, double-read guard and onRead.
export function keepScannerInput({ form, input, onRead, ignoredEl = null, root = null, letTabLeave = false }) {
  let lastRead = { code: "", at: 0 };

  function read(raw) {
    const code = cleanCode(raw);
    if (!code) return;
    const now = Date.now();
    if (code === lastRead.code && now - lastRead.at < DOUBLE_FIRE_MS) {
      lastRead.at = now;
      if (ignoredEl) ignoredEl.textContent = interpolate(gettext("Ignored duplicate read of %(code)s."), { code });
      return;
    }
    lastRead = { code, at: now };
    if (ignoredEl) ignoredEl.textContent = "";
    onRead(code);
  }

  // Focus: the wedge types into whatever has focus, so the scan input takes it back after any tap.
  function isOtherField(node) {
    if (!node || node === input) return false;
    return node.matches && node.matches("input, textarea, select, [contenteditable=''], [contenteditable='true']");
  }

  function refocus() {
    if (document.activeElement !== input && !isOtherField(document.activeElement)) {
      input.focus({ preventScroll: true });
    }
  }

  function submitInput() {
    const raw = input.value;
    input.value = "";
    read(raw);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitInput();
  });
  input.addEventListener("keydown", (event) => {
    unlockAudio();
    if (event.key === "Tab" && (!letTabLeave || input.value.trim())) {
      // Some scanners end a read with Tab instead of Enter.
      event.preventDefault();
      submitInput();
    }
  });
  if (root) {
    // A tap on one of the page's buttons must not take the focus away from the scan input: the scanner
    // may fire right after it. (The click still happens.)
    root.addEventListener("mousedown", (event) => {
      if (event.target.closest("button")) event.preventDefault();
    });
  }
  input.addEventListener("blur", () =>
    window.setTimeout(() => {
      const lost = !document.activeElement || document.activeElement === document.body;
      if (lost || !letTabLeave) refocus();
    }, 0),
  );
  document.addEventListener("pointerdown", unlockAudio);
  document.addEventListener("click", () => window.setTimeout(refocus, 0));

  return { refocus, read };
}
