// The bill page: a biller scans parent bags onto a draft bill. Same scanner conventions as the
// dispatcher's scan page (static/js/scan.js), shared in wedge.js and feedback.js: one always-focused
// input fed by a keyboard-wedge scanner (Enter or Tab ends a read), a double read of the same code within
// a second ignored, a tone and a vibration for every answer, and the server's own sentence shown, in red
// for a refusal.
//
// Adding a parent is idempotent by nature (a repeat is refused as already_on_this_bill), so there is no
// offline queue here: reads are sent one at a time, in order, and a code already waiting is not sent twice.
// Every answer carries the whole bill, so the totals and the table are redrawn from it.

import { signalRefusal, signalSuccess, unlockAudio } from "./feedback.js";
import { csrfToken, keepScannerInput } from "./wedge.js";

const REQUEST_TIMEOUT_MS = 10000;
const NEW_ROW_MS = 2500;
const SESSION_CODES = new Set(["not_logged_in", "csrf_failed"]);

const config = JSON.parse(document.getElementById("bill-config").textContent);

const el = {
  input: document.getElementById("bill-scan-input"),
  form: document.getElementById("bill-scan-form"),
  status: document.getElementById("bill-scan-status"),
  statusText: document.getElementById("bill-scan-status-text"),
  statusNote: document.getElementById("bill-scan-status-note"),
  ignored: document.getElementById("bill-scan-ignored"),
  rows: document.getElementById("bill-parents-body"),
  parents: document.getElementById("total-parents"),
  children: document.getElementById("total-children"),
  actual: document.getElementById("total-actual"),
  expected: document.getElementById("total-expected"),
  difference: document.getElementById("total-difference"),
  differenceBox: document.getElementById("total-difference-box"),
  differenceNote: document.getElementById("total-difference-note"),
};

const state = {
  queue: [], // {kind: "add" | "remove", code}, sent one at a time
  sending: false,
};

// ---------------------------------------------------------------------------------------------------
// Small helpers

// The server sends weights as strings with three decimals; a difference gets its sign, as on the page.
function signed(kg) {
  return Number(kg) > 0 ? `+${kg}` : kg;
}

// In the warehouse's time zone (the server's TIME_ZONE), as the server draws it, whatever the device says.
function addedText(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  const zone = config.time_zone || undefined;
  try {
    const day = when.toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: zone });
    const time = when.toLocaleTimeString("en-GB", { hourCycle: "h23", hour: "2-digit", minute: "2-digit", timeZone: zone });
    return `${day}, ${time}`;
  } catch {
    return when.toLocaleString(); // an unknown zone name
  }
}

// ---------------------------------------------------------------------------------------------------
// Rendering

function setStatus(kind, text, note = "") {
  if (!el.status) return;
  el.status.className = `tt-status tt-status-${kind}`;
  el.status.dataset.state = kind;
  el.statusText.textContent = text;
  el.statusNote.textContent = note || "";
}

function cell(text, className = "") {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

function removeForm(code) {
  // The same form the server draws (posting works without JavaScript too); submitting it is caught below.
  const form = document.createElement("form");
  form.method = "post";
  form.action = config.remove_form_url;
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
  button.textContent = "Remove";
  form.append(token, codeInput, button);
  return form;
}

function renderBill(bill, highlight = "") {
  el.parents.textContent = String(bill.parent_count);
  el.children.textContent = String(bill.child_count);
  el.actual.textContent = bill.actual_weight_kg;
  el.expected.textContent = bill.expected_weight_kg;
  el.difference.textContent = signed(bill.difference_kg);
  el.differenceBox.className = `tt-total tt-diff tt-diff-${bill.weight_state}`;
  el.differenceBox.dataset.state = bill.weight_state;
  el.differenceNote.textContent =
    bill.weight_state === "short" ? "short of expected" : bill.weight_state === "over" ? "over expected" : "as expected";

  const draft = bill.status === "draft";
  // Last scanned first (the one just scanned is on top), numbered in scan order like the manifest.
  const rows = bill.parents
    .map((parent, index) => {
      const tr = document.createElement("tr");
      tr.dataset.code = parent.qr_id;
      tr.append(
        cell(String(index + 1)),
        cell(parent.qr_id, "fw-bold"),
        cell(parent.product),
        cell(`${parent.child_count} / ${parent.capacity}`, "text-end"),
        cell(parent.weight_kg, "text-end"),
        cell(addedText(parent.added_at)),
      );
      if (draft) {
        const td = cell("", "text-end");
        td.append(removeForm(parent.qr_id));
        tr.append(td);
      }
      if (parent.qr_id === highlight) tr.classList.add("tt-row-new");
      return tr;
    })
    .reverse();
  if (!rows.length) {
    const tr = document.createElement("tr");
    tr.className = "tt-bill-empty";
    const td = cell("No parent bags on this bill yet.");
    td.colSpan = 7;
    tr.append(td);
    rows.push(tr);
  }
  el.rows.replaceChildren(...rows);
  if (highlight) {
    window.setTimeout(() => {
      const row = el.rows.querySelector("tr.tt-row-new");
      if (row) row.classList.remove("tt-row-new");
    }, NEW_ROW_MS);
  }
}

// ---------------------------------------------------------------------------------------------------
// Sending

async function send(item) {
  const url = item.kind === "add" ? config.parents_url : `${config.parents_url}/${encodeURIComponent(item.code)}`;
  const abort = new AbortController();
  const timer = window.setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  try {
    const response = await fetch(url, {
      method: item.kind === "add" ? "POST" : "DELETE",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: item.kind === "add" ? JSON.stringify({ code: item.code }) : undefined,
      signal: abort.signal,
    });
    let answer = null;
    try {
      answer = await response.json();
    } catch {
      answer = null; // an HTML error page, a proxy's page
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

function handleResult(item, result) {
  const verb = item.kind === "add" ? "added" : "removed";
  if (result.outcome === "network") {
    setStatus("refused", `No answer from the server: ${item.code} was not ${verb}. Scan it again.`);
    signalRefusal();
    return;
  }
  if (result.outcome === "session") {
    setStatus("refused", `Your session has ended: ${item.code} was not ${verb}. Log in again, then scan it again.`);
    signalRefusal();
    return;
  }
  const { answer } = result;
  if (answer.bill) renderBill(answer.bill, answer.ok && item.kind === "add" ? item.code : "");
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
      setStatus("sending", item.kind === "add" ? `Adding ${item.code}…` : `Removing ${item.code}…`);
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
  state.queue.push(item);
  flush();
}

// ---------------------------------------------------------------------------------------------------
// Wiring

// Finalise and reopen ask first (the confirmation text is on the form).
for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}

if (el.input) {
  // The input holds the keyboard (no letTabLeave): Tab always ends a read, any blur is taken back.
  const { refocus } = keepScannerInput({
    form: el.form,
    input: el.input,
    onRead: (code) => enqueue({ kind: "add", code }),
    ignoredEl: el.ignored,
  });
  el.rows.addEventListener("submit", (event) => {
    const form = event.target.closest("form.tt-remove-form");
    if (!form) return;
    event.preventDefault();
    unlockAudio();
    enqueue({ kind: "remove", code: form.elements.code.value });
  });
  refocus();
}
