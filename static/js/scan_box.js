// The scan box of the biller's pages (the bill page, bill_scan.js, and the return ticket page,
// return_scan.js): parent codes read by a keyboard-wedge scanner (wedge.js keeps the input focused and
// cleans each read), sent one at a time, in order, never the same request twice in the queue; every answer
// gets a tone and a vibration (feedback.js) and the server's own sentence, in red for a refusal. Each answer
// carries the whole document (the bill, the ticket), which the page redraws with its render().

import { signalRefusal, signalSuccess, unlockAudio } from "./feedback.js";
import { attachCamera } from "./camera.js";
import { csrfToken, keepScannerInput } from "./wedge.js";
import { gettext, interpolate } from "./i18n.js";

const REQUEST_TIMEOUT_MS = 10000;
const SESSION_CODES = new Set(["not_logged_in", "csrf_failed"]);
const NEW_ROW_MS = 2500;
// What a command barcode read here says (in one place for translation): commands drive the Scan page only.
const COMMAND_HERE_TEXT = (code) => `${code} is a command barcode for the Scan page. It does nothing here: scan a parent bag.`;

// Plain http on a LAN is not a secure context, so crypto.randomUUID may be missing there.
export function newClientId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  const bytes = new Uint8Array(16);
  if (window.crypto && window.crypto.getRandomValues) window.crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// In the warehouse's time zone (the server's TIME_ZONE), as the server draws it, whatever the device says.
export function timeText(iso, zone) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  try {
    const options = { timeZone: zone || undefined };
    const day = when.toLocaleDateString("en-GB", { day: "numeric", month: "short", ...options });
    const time = when.toLocaleTimeString("en-GB", { hourCycle: "h23", hour: "2-digit", minute: "2-digit", ...options });
    return `${day}, ${time}`;
  } catch {
    return when.toLocaleString(); // an unknown zone name
  }
}

export function cell(text, className = "") {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

// The remove form the server draws (templates/bills/remove_parent.html; posting works without JavaScript
// too); submitting it is caught by scanBox.
function removeForm(action, code) {
  const form = document.createElement("form");
  form.method = "post";
  form.action = action;
  form.className = "tt-remove-form";
  const token = document.createElement("input");
  token.type = "hidden";
  token.name = "csrfmiddlewaretoken";
  token.value = csrfToken();
  const codeInput = document.createElement("input");
  codeInput.type = "hidden";
  codeInput.name = "code";
  codeInput.value = code;
  const button = document.createElement("button");
  button.type = "submit";
  button.className = "btn btn-outline-danger btn-sm";
  button.textContent = gettext("Remove");
  form.append(token, codeInput, button);
  return form;
}

// The row just scanned is marked for a moment.
function markNewRow(rows) {
  window.setTimeout(() => {
    const row = rows.querySelector("tr.tt-row-new");
    if (row) row.classList.remove("tt-row-new");
  }, NEW_ROW_MS);
}

// The scan box and parents table of a page whose ids start with prefix (templates/bills/scan_box.html draws
// them: bill-scan-input, ticket-scan-input, ...).
export function scanElements(prefix) {
  const byId = (suffix) => document.getElementById(`${prefix}-${suffix}`);
  return {
    input: byId("scan-input"),
    form: byId("scan-form"),
    status: byId("scan-status"),
    statusText: byId("scan-status-text"),
    statusNote: byId("scan-status-note"),
    ignored: byId("scan-ignored"),
    rows: byId("parents-body"),
  };
}

// Redraws the parents table from the document an answer carries, as the server draws it: last scanned first
// (the one just scanned on top, marked), numbered in scan order like the printed sheet, a draft's rows ending
// in the remove form. cells(parent) gives a row's cells after its number; empty is the text of no parents.
export function drawParents(rows, parents, { cells, draft, removeUrl, highlight = "", empty }) {
  const drawn = parents
    .map((parent, index) => {
      const tr = document.createElement("tr");
      tr.dataset.code = parent.qr_id;
      tr.append(cell(String(index + 1)), ...cells(parent));
      if (draft) {
        const td = cell("", "text-end");
        td.append(removeForm(removeUrl, parent.qr_id));
        tr.append(td);
      }
      if (parent.qr_id === highlight) tr.classList.add("tt-row-new");
      return tr;
    })
    .reverse();
  if (!drawn.length) {
    const tr = document.createElement("tr");
    tr.className = "tt-bill-empty";
    const td = cell(empty);
    td.colSpan = 7;
    tr.append(td);
    drawn.push(tr);
  }
  rows.replaceChildren(...drawn);
  if (highlight) markNewRow(rows);
}

// scanBox's send for a document's parents API: POST {code, ...more(item)} to add, DELETE <url>/<code> to remove.
export function parentRequests(parentsUrl, more = () => ({})) {
  return (item) =>
    item.kind === "add"
      ? sendJson(parentsUrl, "POST", { code: item.code, ...more(item) })
      : sendJson(`${parentsUrl}/${encodeURIComponent(item.code)}`, "DELETE");
}

// One JSON request; {outcome: "answer", answer} for any answer in the API's shape, else "network" (no
// answer, an HTML error page, a proxy's page) or "session" (logged out, CSRF token gone).
export async function sendJson(url, method, body) {
  const abort = new AbortController();
  const timer = window.setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  try {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: abort.signal,
    });
    let answer = null;
    try {
      answer = await response.json();
    } catch {
      answer = null;
    }
    if (!answer || typeof answer.ok !== "boolean") return { outcome: "network" };
    if (response.status === 401 || SESSION_CODES.has(answer.code)) return { outcome: "session" };
    return { outcome: "answer", answer };
  } catch {
    return { outcome: "network" };
  } finally {
    window.clearTimeout(timer);
  }
}

// Wires the page's scan box. el: {form, input, status, statusText, statusNote, ignored, rows}.
//   send(item)          -> a sendJson promise; item is {kind: "add" | "remove", code, id} (id: a new client id)
//   render(answer, item) redraw from a change's answer (its ok, and the document it carries)
export function scanBox({ el, send, render }) {
  const state = { queue: [], sending: false };

  function setStatus(kind, text, note = "") {
    if (!el.status) return;
    el.status.className = `tt-status tt-status-${kind}`;
    el.status.dataset.state = kind;
    el.statusText.textContent = text;
    el.statusNote.textContent = note || "";
  }

  function handleResult(item, result) {
    const adding = item.kind === "add";
    if (result.outcome === "network") {
      const text = adding
        ? gettext("No answer from the server: %(code)s was not added. Scan it again.")
        : gettext("No answer from the server: %(code)s was not removed. Scan it again.");
      setStatus("refused", interpolate(text, { code: item.code }));
      signalRefusal();
      return;
    }
    if (result.outcome === "session") {
      const text = adding
        ? gettext("Your session has ended: %(code)s was not added. Log in again, then scan it again.")
        : gettext("Your session has ended: %(code)s was not removed. Log in again, then scan it again.");
      setStatus("refused", interpolate(text, { code: item.code }));
      signalRefusal();
      return;
    }
    const { answer } = result;
    render(answer, item);
    if (answer.ok) {
      setStatus("ok", answer.message, answer.warning);
      signalSuccess();
    } else {
      setStatus("refused", answer.message);
      signalRefusal();
    }
  }

  async function flush() {
    if (state.sending) return;
    state.sending = true;
    try {
      while (state.queue.length) {
        const item = state.queue[0];
        setStatus(
          "sending",
          interpolate(item.kind === "add" ? gettext("Adding %(code)s…") : gettext("Removing %(code)s…"), { code: item.code }),
        );
        const result = await send(item);
        state.queue.shift();
        handleResult(item, result);
      }
    } finally {
      state.sending = false;
    }
  }

  function enqueue(item) {
    // Never the same request twice in the queue: a second press or read while the first is on its way.
    if (state.queue.some((queued) => queued.kind === item.kind && queued.code === item.code)) {
      if (el.ignored) el.ignored.textContent = `${item.code} is already being sent.`;
      return;
    }
    state.queue.push({ ...item, id: newClientId() });
    flush();
  }

  if (el.input) {
    // The input holds the keyboard (no letTabLeave): Tab always ends a read, any blur is taken back.
    const { refocus, read } = keepScannerInput({
      form: el.form,
      input: el.input,
      onRead: (code) => {
        const commandPrefix = el.form.dataset.commandPrefix;
        if (commandPrefix && code.startsWith(commandPrefix)) {
          setStatus("refused", COMMAND_HERE_TEXT(code));
          signalRefusal();
          return;
        }
        enqueue({ kind: "add", code });
      },
      ignoredEl: el.ignored,
    });
    attachCamera(read); // camera reads go the wedge's way
    el.rows.addEventListener("submit", (event) => {
      const form = event.target.closest("form.tt-remove-form");
      if (!form) return;
      event.preventDefault();
      unlockAudio();
      enqueue({ kind: "remove", code: form.elements.code.value });
    });
    refocus();
  }
}

// Forms that change a whole document (finalise, reopen, commit, cancel) ask first; the question is on the form.
export function confirmForms() {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
}
