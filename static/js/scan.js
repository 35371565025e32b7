// The dispatcher's scan page: one always-focused input fed by a keyboard-wedge scanner, a queue that
// sends every scan exactly once (each carries a client id; the server answers a repeated id with its
// first answer), and feedback by colour, sound and vibration.
//
// Every scan goes through the queue, kept in IndexedDB per user and shared by the user's tabs
// (scan_queue.js), so nothing is lost when the network drops or the session ends; the queue is sent in
// order, one request at a time, by one tab at a time. A scan that waited in the queue carries the time it
// was scanned (scanned_at), which the server keeps. The service worker (shell.js) opens the page with no
// network.
//
// Move: the Move button, then the child, then its new parent (two reads, one request).
// Command barcodes (bags.qr.Command, their codes in the page's config) do what the buttons do.

import { signalRefusal, signalSuccess } from "./feedback.js";
import { attachCamera } from "./camera.js";
import { csrfToken, keepScannerInput } from "./wedge.js";
import { gettext, interpolate, ngettext } from "./i18n.js";
import { sessionAnswered } from "./session_warning.js";
import { ScanQueue } from "./scan_queue.js";
import { registerShell } from "./shell.js";

const RETRY_MS = 5000;
const REQUEST_TIMEOUT_MS = 10000;
const RECENT_MAX = 10;
// 429 too: a rate-limited scan was not recorded, so it stays queued and is sent again later.
const NETWORK_STATUSES = new Set([429, 502, 503, 504]);
const SESSION_CODES = new Set(["not_logged_in", "csrf_failed"]);

const app = document.getElementById("scan-app");
const config = JSON.parse(document.getElementById("scan-config").textContent);
const urls = {
  parent: app.dataset.parentUrl,
  child: app.dataset.childUrl,
  undo: app.dataset.undoUrl,
  move: app.dataset.moveUrl,
  complete: app.dataset.completeUrl,
  login: app.dataset.loginUrl,
  worker: app.dataset.workerUrl,
};
const storageKeys = {
  queue: `tt.scan.${config.user_id}.queue`, // the queue's journal (scan_queue.js), and where it was kept before
  parent: `tt.scan.${config.user_id}.parent`,
  area: `tt.scan.${config.user_id}.area`, // a biller's or admin's last choice of area for new parents
};
// This tab, on the items it queues: the tab that scanned gives the feedback, whichever tab sends.
const TAB = Math.random().toString(36).slice(2);
// Command barcodes: code -> name ("done", "undo", "new_parent", "move", "cancel"), from bags.qr.Command.
const commands = new Map(Object.entries(config.commands || {}).map(([name, code]) => [code, name]));
// What a command read says when it has nothing to act on (in one place for translation).
const COMMAND_TEXT = {
  noParent: gettext("No parent bag is open. Scan a parent bag first."),
  moving: gettext("Already moving a child: scan the child, then its new parent."),
  nothingToCancel: gettext("Nothing to cancel."),
  newParent: gettext("Scan a parent bag."),
};
// The code rules come from the server (bags.selectors.parent_formats_for_pages, from the Product table, and
// bags.qr's child rule): this script keeps no copy of them.
const formats = (config.parent_formats || []).map((fmt) => ({ ...fmt, pattern: new RegExp(fmt.pattern) }));
const CHILD_PATTERN = new RegExp(config.child_pattern);

const el = {
  input: document.getElementById("scan-input"),
  form: document.getElementById("scan-form"),
  prompt: document.getElementById("mode-prompt"),
  details: document.getElementById("parent-details"),
  parentCode: document.getElementById("parent-code"),
  parentProduct: document.getElementById("parent-product"),
  parentCount: document.getElementById("parent-count"),
  parentPending: document.getElementById("parent-pending"),
  progress: document.getElementById("parent-progress"),
  status: document.getElementById("scan-status"),
  statusText: document.getElementById("scan-status-text"),
  statusNote: document.getElementById("scan-status-note"),
  ignored: document.getElementById("scan-ignored"),
  done: document.getElementById("done-button"),
  undo: document.getElementById("undo-button"),
  change: document.getElementById("change-button"),
  move: document.getElementById("move-button"),
  recent: document.getElementById("recent-list"),
  waitingBanner: document.getElementById("waiting-banner"),
  sessionBanner: document.getElementById("session-banner"),
  replayBanner: document.getElementById("replay-banner"),
  replayText: document.getElementById("replay-banner-text"),
  replayDismiss: document.getElementById("replay-dismiss"),
  area: document.getElementById("area-select"), // billers and admins only
};

const queue = new ScanQueue(config.user_id, storageKeys.queue, TAB);

const state = {
  parent: loadJSON(storageKeys.parent, null), // ParentState of the parent being filled, or null
  entries: [], // the list on screen, newest first
  flushing: false,
  flushAgain: false, // a scan was queued while this tab was sending
  inFlight: null, // the id of the item this tab is sending
  offline: false, // the last send failed for want of a network
  sessionEnded: false,
  replayRefusals: [],
  move: null, // while moving: { child: null } (waiting for the child), then { child: "C123" } (for its new parent)
};

// ---------------------------------------------------------------------------------------------------
// Small helpers

function loadJSON(key, fallback) {
  try {
    const raw = window.localStorage.getItem(key);
    return raw === null ? fallback : JSON.parse(raw);
  } catch {
    return fallback;
  }
}

function saveJSON(key, value) {
  try {
    if (value === null) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage full or blocked (private mode): the page still works, only a reload would lose the queue.
  }
}

function saveParent() {
  saveJSON(storageKeys.parent, state.parent);
}

// Plain http on a LAN is not a secure context, so crypto.randomUUID may be missing there.
function newClientId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  const bytes = new Uint8Array(16);
  if (window.crypto && window.crypto.getRandomValues) window.crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function parentFormatOf(code) {
  return formats.find((fmt) => fmt.pattern.test(code)) || null;
}

function examples() {
  return formats.map((fmt) => fmt.example).join(` ${gettext("or")} `);
}

function fullNote(parent) {
  const text = parent.full
    ? gettext("%(parent)s is full — scan the next parent.")
    : gettext("%(parent)s is complete — scan the next parent.");
  return interpolate(text, { parent: parent.qr_id });
}

function scans(count) {
  return interpolate(ngettext("%(count)s scan", "%(count)s scans", count), { count });
}

function timeText(iso) {
  const when = iso ? new Date(iso) : new Date();
  if (Number.isNaN(when.getTime())) return "";
  return when.toLocaleTimeString([], { hourCycle: "h23", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// ---------------------------------------------------------------------------------------------------
// Rendering

function setStatus(kind, text, note = "") {
  el.status.className = `tt-status tt-status-${kind}`;
  el.status.dataset.state = kind;
  el.statusText.textContent = text;
  el.statusNote.textContent = note;
}

function setNote(note) {
  el.statusNote.textContent = note;
}

function pendingChildren(parentQr) {
  const codes = new Set();
  for (const item of queue.items) {
    if ((item.kind === "child" || item.kind === "move") && item.parent === parentQr) codes.add(item.code);
  }
  return codes.size;
}

function renderParent() {
  const parent = state.parent;
  el.done.disabled = !parent;
  el.change.disabled = !parent;
  el.move.textContent = state.move ? gettext("Cancel move") : gettext("Move a child");
  el.move.setAttribute("aria-pressed", String(Boolean(state.move)));
  if (state.move) {
    app.dataset.mode = state.move.child ? "move-parent" : "move-child";
    el.prompt.textContent = state.move.child
      ? interpolate(gettext("Move %(child)s: scan its new parent bag"), { child: state.move.child })
      : gettext("Move: scan the child bag to move");
    el.details.hidden = true;
    return;
  }
  if (!parent) {
    el.prompt.textContent = gettext("Scan a parent bag");
    el.details.hidden = true;
    app.dataset.mode = "parent";
    return;
  }
  app.dataset.mode = "child";
  el.prompt.textContent = gettext("Scan child bags into");
  el.details.hidden = false;
  el.parentCode.textContent = parent.qr_id;
  el.parentProduct.textContent = parent.product || "";
  const capacity = parent.capacity || 0;
  const pending = pendingChildren(parent.qr_id);
  const count = parent.child_count || 0;
  el.parentCount.textContent = `${count} / ${capacity || "?"}`;
  el.parentPending.textContent = pending ? interpolate(gettext("(+%(count)s waiting)"), { count: pending }) : "";
  el.progress.max = capacity || 1;
  el.progress.value = Math.min(count + pending, capacity || count + pending);
  el.progress.textContent = el.parentCount.textContent;
}

const ACTION_TEXT = {
  open_parent: () => gettext("Opened parent"),
  link: (scan) => interpolate(gettext("Into %(parent)s"), { parent: scan.parent }),
  undo: (scan) =>
    scan.parent
      ? interpolate(gettext("Took %(child)s out of %(parent)s"), { child: scan.bag, parent: scan.parent })
      : interpolate(gettext("Took %(child)s out"), { child: scan.bag }),
  complete: () => gettext("Marked complete"),
  unlink: (scan) => interpolate(gettext("Taken out of %(parent)s"), { parent: scan.parent }),
  move: (scan) => interpolate(gettext("Moved to %(parent)s"), { parent: scan.parent }),
};
// What undo takes back: a child scanned in, or moved (the scan events' actions, the queue's kinds).
const UNDOABLE = new Set(["link", "move"]);
const UNDOABLE_KINDS = new Set(["child", "move"]);

function entryFromScanEvent(scan) {
  const describe = ACTION_TEXT[scan.action] || (() => scan.action);
  return {
    key: scan.client_scan_id || `scan-${scan.id}`,
    code: scan.bag || scan.parent,
    text: scan.undone ? interpolate(gettext("%(text)s (undone)"), { text: describe(scan) }) : describe(scan),
    state: scan.undone ? "undone" : "ok",
    undoable: UNDOABLE.has(scan.action),
    at: scan.at,
  };
}

const KIND_WAITING_TEXT = {
  parent: () => gettext("Open parent"),
  child: (item) => interpolate(gettext("Into %(parent)s"), { parent: item.parent }),
  undo: () => gettext("Undo last scan"),
  complete: (item) => interpolate(gettext("Mark %(parent)s complete"), { parent: item.parent }),
  move: (item) => interpolate(gettext("Move to %(parent)s"), { parent: item.parent }),
};

function entryFromQueueItem(item) {
  return {
    key: item.id,
    code: item.kind === "undo" ? gettext("Undo") : item.kind === "complete" ? item.parent : item.code,
    text: interpolate(gettext("%(text)s · waiting"), { text: KIND_WAITING_TEXT[item.kind](item) }),
    state: "waiting",
    at: item.at,
  };
}

function putEntry(entry) {
  const index = state.entries.findIndex((existing) => existing.key === entry.key);
  if (index >= 0) state.entries[index] = entry;
  else state.entries.unshift(entry);
  state.entries = state.entries.slice(0, RECENT_MAX);
  renderEntries();
}

function renderEntries() {
  const items = state.entries.map((entry) => {
    const li = document.createElement("li");
    li.className = `tt-recent-item tt-recent-${entry.state}`;
    li.dataset.state = entry.state;
    li.dataset.code = entry.code;
    const code = document.createElement("span");
    code.className = "tt-recent-code";
    code.textContent = entry.code;
    const text = document.createElement("span");
    text.className = "tt-recent-text";
    text.textContent = entry.text;
    const time = document.createElement("time");
    time.className = "tt-recent-time";
    if (entry.at) time.dateTime = entry.at;
    time.textContent = timeText(entry.at);
    li.append(code, text, time);
    return li;
  });
  el.recent.replaceChildren(...items);
}

function renderBanners() {
  const waiting = queue.length;
  app.dataset.waiting = String(waiting);
  if (state.sessionEnded && waiting) {
    el.sessionBanner.hidden = false;
    const link = document.createElement("a");
    link.href = urls.login;
    link.className = "tt-banner-link";
    link.textContent = gettext("Log in again");
    // The link sits where %(link)s is in the sentence, wherever a language puts it.
    const sentence = interpolate(
      ngettext(
        "Your session ended. %(link)s to send %(count)s waiting scan.",
        "Your session ended. %(link)s to send %(count)s waiting scans.",
        waiting,
      ),
      { count: waiting },
    );
    const [before, after = ""] = sentence.split("%(link)s");
    el.sessionBanner.replaceChildren(before, link, after);
  } else {
    el.sessionBanner.hidden = true;
  }
  if (waiting && state.offline && !state.sessionEnded) {
    el.waitingBanner.hidden = false;
    el.waitingBanner.textContent = interpolate(gettext("%(scans)s waiting — will send when the network is back"), {
      scans: scans(waiting),
    });
  } else {
    el.waitingBanner.hidden = true;
  }
  if (state.replayRefusals.length) {
    const count = state.replayRefusals.length;
    const text = ngettext(
      "%(count)s waiting scan was refused on sending: %(refusals)s",
      "%(count)s waiting scans were refused on sending: %(refusals)s",
      count,
    );
    el.replayBanner.hidden = false;
    el.replayText.textContent = interpolate(text, { count, refusals: state.replayRefusals.join(" ") });
  } else {
    el.replayBanner.hidden = true;
  }
}

function render() {
  renderParent();
  renderBanners();
}

// ---------------------------------------------------------------------------------------------------
// Scanning: decide what a read means, queue it, answer at once

function setParent(parent) {
  state.parent = parent;
  saveParent();
  renderParent();
}

function enqueue(item) {
  // Queued with no network (or no session): it waits, however soon it is sent, and says when it was scanned.
  if (holding()) item.delayed = true;
  queue.add(item);
  putEntry(entryFromQueueItem(item));
  render();
  flush();
}

// The area a new parent is made in, as chosen when the parent was scanned (a queued scan keeps it); null
// for a dispatcher (always their own area) or when none is chosen (the server refuses a new parent then).
function chosenArea() {
  return el.area && el.area.value ? Number(el.area.value) : null;
}

function newItem(kind, fields) {
  return { id: newClientId(), kind, at: new Date().toISOString(), tab: TAB, ...fields };
}

function refuseLocally(code, message) {
  setStatus("refused", message);
  signalRefusal();
  putEntry({ key: newClientId(), code, text: message, state: "refused", at: new Date().toISOString() });
}

// The server cannot answer now: the scan waits in the queue for the network or the next login.
function holding() {
  return state.offline || state.sessionEnded || !navigator.onLine;
}

function acknowledgeQueued(text) {
  const note = state.sessionEnded
    ? gettext("Saved on this phone — log in again to send it.")
    : gettext("Saved on this phone — will send when the network is back.");
  setStatus("waiting", text, note);
  signalSuccess();
}

// A read from the scanner, cleaned, a double read already dropped (see wedge.js).
function handleRead(code) {
  const command = commands.get(code);
  if (command) {
    runCommand(command, code);
    return;
  }
  const isParentCode = Boolean(parentFormatOf(code));
  const networkDown = holding();

  if (state.move) {
    handleMoveRead(code, isParentCode, networkDown);
    return;
  }

  if (!state.parent) {
    if (networkDown && !isParentCode) {
      // Offline the server cannot refuse it for us, and queueing it would send children as parents.
      refuseLocally(
        code,
        interpolate(gettext("%(code)s is not a parent bag code. Scan a parent bag (%(examples)s) first."), {
          code,
          examples: examples(),
        }),
      );
      return;
    }
    if (isParentCode) {
      // Set at once (confirmed by the answer), so children scanned before the answer arrives go into it.
      const fmt = parentFormatOf(code);
      setParent({
        qr_id: code,
        product: fmt.product,
        child_count: 0,
        capacity: fmt.capacity || 0,
        complete: false,
        full: false,
        provisional: true,
      });
    }
    enqueue(newItem("parent", { code, area_id: chosenArea() }));
    if (networkDown) acknowledgeQueued(interpolate(gettext("Parent %(code)s — waiting"), { code }));
    else setStatus("sending", interpolate(gettext("Opening %(code)s…"), { code }));
    return;
  }

  if (networkDown && isParentCode) {
    refuseLocally(
      code,
      interpolate(
        gettext('%(code)s is a parent bag code, not a child. Press "Done with this parent" or "Change parent" first.'),
        { code },
      ),
    );
    return;
  }
  if (networkDown && !CHILD_PATTERN.test(code)) {
    refuseLocally(code, interpolate(gettext("%(code)s is not a bag code: child codes are 4 to 20 letters or digits."), { code }));
    return;
  }
  const parentQr = state.parent.qr_id;
  enqueue(newItem("child", { code, parent: parentQr }));
  if (networkDown) {
    acknowledgeQueued(interpolate(gettext("%(code)s → %(parent)s — waiting"), { code, parent: parentQr }));
    const parent = state.parent;
    if (parent && parent.capacity && (parent.child_count || 0) + pendingChildren(parentQr) >= parent.capacity) {
      setParent(null);
      setNote(interpolate(gettext("%(parent)s is full — scan the next parent."), { parent: parentQr }));
    }
  } else {
    setStatus("sending", interpolate(gettext("Sending %(code)s…"), { code }));
  }
}

// In a move: the first read is the child, the second its new parent; then the page goes back to what it
// was doing. Both are checked here, so a move waiting offline is at least a child and a parent code.
function handleMoveRead(code, isParentCode, networkDown) {
  if (!state.move.child) {
    if (isParentCode) {
      refuseLocally(code, interpolate(gettext("%(code)s is a parent bag. Scan the child bag you want to move."), { code }));
    } else if (!CHILD_PATTERN.test(code)) {
      refuseLocally(code, interpolate(gettext("%(code)s is not a bag code: child codes are 4 to 20 letters or digits."), { code }));
    } else {
      state.move = { child: code };
      setStatus("idle", interpolate(gettext("Now scan the parent bag %(code)s goes into."), { code }));
      render();
    }
    return;
  }
  if (!isParentCode) {
    const child = state.move.child;
    refuseLocally(
      code,
      interpolate(gettext("%(code)s is not a parent bag code. Scan the new parent (%(examples)s) for %(child)s."), {
        code,
        examples: examples(),
        child,
      }),
    );
    return;
  }
  const child = state.move.child;
  state.move = null;
  enqueue(newItem("move", { code: child, parent: code }));
  if (networkDown) acknowledgeQueued(interpolate(gettext("Move %(child)s → %(parent)s — waiting"), { child, parent: code }));
  else setStatus("sending", interpolate(gettext("Moving %(child)s to %(parent)s…"), { child, parent: code }));
}

function toggleMove() {
  if (state.move) {
    state.move = null;
    setStatus(
      "idle",
      gettext("Move cancelled."),
      state.parent ? interpolate(gettext("Scan child bags into %(parent)s."), { parent: state.parent.qr_id }) : "",
    );
  } else {
    state.move = { child: null };
    setStatus("idle", gettext("Move: scan the child bag to move."));
  }
  render();
}

async function undoLast() {
  // Never sent (and no tab is sending it): taking it out of the queue is the whole undo.
  const last = await queue.takeLastWaiting(UNDOABLE_KINDS);
  if (last) {
    state.entries = state.entries.filter((entry) => entry.key !== last.id);
    renderEntries();
    setStatus("ok", interpolate(gettext("Removed waiting scan %(code)s."), { code: last.code }));
    signalSuccess();
    render();
    return;
  }
  enqueue(newItem("undo", {}));
  if (holding()) acknowledgeQueued(gettext("Undo — waiting"));
  else setStatus("sending", gettext("Undoing the last scan…"));
}

function doneWithParent() {
  if (!state.parent) return;
  const parentQr = state.parent.qr_id;
  setParent(null);
  enqueue(newItem("complete", { parent: parentQr }));
  if (holding()) acknowledgeQueued(interpolate(gettext("%(parent)s marked complete — waiting"), { parent: parentQr }));
  else setStatus("sending", interpolate(gettext("Marking %(parent)s complete…"), { parent: parentQr }));
}

function changeParent() {
  if (!state.parent) return;
  const parentQr = state.parent.qr_id;
  setParent(null);
  setStatus("idle", gettext("Scan a parent bag."), interpolate(gettext("Left %(parent)s; it stays open."), { parent: parentQr }));
}

// A command barcode read: what its button does. The double-read guard (wedge.js) has dropped a second
// read, and DONE and UNDO go through the queue with a client id like the buttons, so each physical read
// acts once; the others change only this page.
function runCommand(name, code) {
  if (name === "done") {
    if (!state.parent) refuseLocally(code, COMMAND_TEXT.noParent);
    else doneWithParent();
  } else if (name === "undo") {
    undoLast();
  } else if (name === "move") {
    if (state.move) setStatus("idle", COMMAND_TEXT.moving);
    else toggleMove();
    signalSuccess();
  } else if (name === "cancel") {
    if (state.move) toggleMove();
    else setStatus("idle", COMMAND_TEXT.nothingToCancel);
    signalSuccess();
  } else if (name === "new_parent") {
    state.move = null;
    if (state.parent) changeParent();
    else setStatus("idle", COMMAND_TEXT.newParent);
    render();
    signalSuccess();
  }
}

// ---------------------------------------------------------------------------------------------------
// Sending the queue

function requestFor(item) {
  // A scan that waited (offline, or for a login) says when it was scanned; one sent at once needs not.
  const when = item.delayed ? { scanned_at: item.at } : {};
  switch (item.kind) {
    case "parent": {
      const area = item.area_id ? { area_id: item.area_id } : {}; // chosen when it was scanned
      return [urls.parent, { client_scan_id: item.id, code: item.code, ...area, ...when }];
    }
    case "child":
      return [urls.child, { client_scan_id: item.id, parent: item.parent, code: item.code, ...when }];
    case "move":
      return [urls.move, { client_scan_id: item.id, code: item.code, parent: item.parent, ...when }];
    case "undo":
      return [urls.undo, { client_scan_id: item.id, ...when }];
    default:
      return [urls.complete, { client_scan_id: item.id, parent: item.parent, ...when }];
  }
}

// One attempt: "answer" (success or refusal, the item is done), "network" or "session" (keep it).
async function send(item) {
  const [url, body] = requestFor(item);
  // A request lost on a flaky Wi-Fi would hold the whole queue: give up on it and send it again later
  // (the server answers a repeated id with its first answer).
  const abort = new AbortController();
  const timer = window.setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  let response;
  let answer = null;
  try {
    response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
      signal: abort.signal,
    });
    const text = await response.text();
    try {
      answer = JSON.parse(text);
    } catch {
      answer = null; // an HTML error page, a proxy's page
    }
  } catch {
    return { outcome: "network" };
  } finally {
    window.clearTimeout(timer);
  }
  const isAnswer = answer !== null && typeof answer === "object" && typeof answer.ok === "boolean";
  // 401, or a 403 from the CSRF check (the session and its token are gone): wait for the next login.
  // Other 403s with an answer (not_your_area) are refusals of this scan.
  if (response.status === 401 || (response.status === 403 && (!isAnswer || SESSION_CODES.has(answer.code)))) {
    return { outcome: "session" };
  }
  if (response.redirected && !isAnswer) return { outcome: "session" }; // sent to the login page
  if (NETWORK_STATUSES.has(response.status) || response.status >= 500 || !isAnswer) {
    // 502-504: a proxy or a busy server; a 500 is a server bug; a page that is not our answer (a Wi-Fi
    // login page, a proxy's error) says nothing about the scan. It waits: only the server's own answer
    // ends a scan, and sending it again is harmless.
    return { outcome: "network" };
  }
  sessionAnswered(); // the server saw this request: the idle timeout starts again
  return { outcome: "answer", answer, status: response.status };
}

let retryTimer = null;

function scheduleRetry() {
  if (retryTimer === null) {
    retryTimer = window.setTimeout(() => {
      retryTimer = null;
      flush();
    }, RETRY_MS);
  }
}

// Sends the queue, oldest first, while this tab holds the user's send lock (scan_queue.js): the head is
// read from the store for each request, so scans queued in another tab go too, and none twice.
async function flush() {
  if (state.flushing || state.sessionEnded) {
    state.flushAgain = state.flushing;
    return;
  }
  if (!navigator.onLine && queue.length) {
    markOffline();
    return;
  }
  state.flushing = true;
  let stopped = false; // by the network or the session: the retry timer, not this loop, tries again
  try {
    await queue.sending(async (next, done) => {
      for (let item = await next(); item; item = await next()) {
        if (!navigator.onLine) {
          markOffline();
          stopped = true;
          return;
        }
        state.inFlight = item.id;
        const result = await send(item);
        if (result.outcome === "network") {
          markOffline();
          stopped = true;
          return;
        }
        if (result.outcome === "session") {
          state.sessionEnded = true;
          // The session banner says it ended, once, with the link to log in: the answer says the scans wait.
          setStatus("waiting", interpolate(gettext("%(scans)s waiting"), { scans: scans(queue.length) }));
          signalRefusal();
          markDelayed();
          stopped = true;
          return;
        }
        await done(item, result.answer); // out of the store before anything else: never sent again
        answered(item, result.answer, await queue.openTabs());
        state.inFlight = null;
      }
    });
    if (!queue.length) state.offline = false;
  } finally {
    state.flushing = false;
    state.inFlight = null;
    render();
  }
  if (state.flushAgain && !stopped) {
    state.flushAgain = false;
    flush();
  } else if (queue.length && !state.sessionEnded) {
    scheduleRetry();
  }
}

// An answer, from this tab's request or another's: the tab that queued the scan answers it aloud, or, when
// that tab is gone (reloaded, closed: a scan from before), the tab that sent it (openTabs: from the sender).
function answered(item, answer, openTabs = null) {
  const orphan = openTabs !== null && !openTabs.has(item.tab);
  if (item.tab === TAB || orphan) handleAnswer(item, answer);
  else noteAnswer(item, answer);
}

function markOffline() {
  state.offline = true;
  markDelayed();
  if (el.status.dataset.state === "sending" && queue.length) {
    const waiting = queue.length;
    setStatus(
      "waiting",
      interpolate(gettext("%(scans)s waiting"), { scans: scans(waiting) }),
      gettext("No network — saved on this phone."),
    );
  }
  render();
  scheduleRetry();
}

// Items that could not go at once: their refusals, when they come, are gathered in the replay banner.
function markDelayed() {
  const changed = [];
  for (const item of queue.items) {
    if (!item.delayed) {
      item.delayed = true;
      changed.push(item);
    }
  }
  queue.update(changed);
  for (const item of queue.items) {
    const entry = state.entries.find((existing) => existing.key === item.id);
    if (!entry) putEntry(entryFromQueueItem(item));
  }
}

function markUndone(childQr) {
  const undone = state.entries.find((entry) => entry.state === "ok" && entry.code === childQr && entry.undoable);
  if (undone) {
    undone.state = "undone";
    undone.text += " (undone)";
    renderEntries();
  }
}

function codeOf(item) {
  if (item.kind === "undo") return gettext("Undo");
  if (item.kind === "complete") return item.parent;
  return item.code;
}

// The answered scan's line in the list (and the line it undid).
function putAnswerEntry(item, answer) {
  const entry = answer.scan && answer.ok ? entryFromScanEvent(answer.scan) : null;
  if (answer.ok && answer.scan && answer.scan.action === "undo") markUndone(answer.scan.bag);
  putEntry({
    key: item.id,
    code: entry ? entry.code : codeOf(item),
    text: answer.ok ? (entry ? entry.text : answer.message || "Done.") : answer.message || "Refused.",
    state: answer.ok ? "ok" : "refused",
    undoable: Boolean(entry && entry.undoable),
    at: entry ? entry.at : item.at,
  });
}

// The answer to a scan another tab of this user queued: its line, and the count if this tab fills that
// parent too; that tab gives the feedback.
function noteAnswer(item, answer) {
  const parent = answer.parent;
  if (parent && parent.qr_id && state.parent && state.parent.qr_id === parent.qr_id) {
    setParent(parent.complete ? null : { ...parent });
  }
  putAnswerEntry(item, answer);
  render();
}

function handleAnswer(item, answer) {
  const other = answer.other_parent; // a move's (or its undo's) other parent
  // The parent being filled may be either of a move's parents: show its new count.
  const parent = other && state.parent && other.qr_id === state.parent.qr_id ? other : answer.parent;
  const text = answer.message || (answer.ok ? gettext("Done.") : gettext("Refused."));
  const current = state.parent;
  const wasReplay = Boolean(item.delayed);
  let note = "";

  if (parent && parent.qr_id) {
    const finished = parent.complete; // the server's word: full, or marked complete
    if (current && current.qr_id === parent.qr_id) {
      if (finished) {
        setParent(null);
        note = fullNote(parent);
      } else {
        setParent({ ...parent });
      }
    } else if (!current && answer.ok && !finished && item.kind === "undo" && !other) {
      // Undoing a scan of a parent that had just filled up: carry on with that parent.
      setParent({ ...parent });
    } else if (!current && finished && item.kind !== "complete" && item.kind !== "move") {
      note = fullNote(parent);
    }
  }
  if (!answer.ok && item.kind === "parent" && current && current.qr_id === item.code && current.provisional) {
    setParent(null); // the parent we assumed was refused
  }

  putAnswerEntry(item, answer);

  if (wasReplay && !answer.ok) {
    state.replayRefusals.push(`${codeOf(item)}: ${text}`);
    setStatus("refused", text, note);
    if (state.replayRefusals.length === 1) signalRefusal(); // once, not a beep per refused scan
  } else if (wasReplay) {
    if (queue.length) {
      // More to send; the panel keeps showing the last refusal, if any, until the queue is empty.
    } else if (state.replayRefusals.length) {
      setStatus("refused", gettext("Waiting scans sent, but some were refused: see the red entries."), note);
    } else {
      setStatus("ok", gettext("All waiting scans were sent."), note);
    }
  } else if (answer.ok) {
    setStatus("ok", text, note);
    signalSuccess();
  } else {
    setStatus("refused", text, note);
    signalRefusal();
  }
  render();
}

// ---------------------------------------------------------------------------------------------------
// Wiring

// Tab on an empty input moves on as usual (letTabLeave), and a tap on the page's buttons (root) keeps
// the focus on the scan input.
const { refocus, read } = keepScannerInput({
  form: el.form,
  input: el.input,
  onRead: handleRead,
  ignoredEl: el.ignored,
  root: app,
  letTabLeave: true,
});
attachCamera(read); // camera reads go the wedge's way
el.done.addEventListener("click", doneWithParent);
el.undo.addEventListener("click", undoLast);
el.change.addEventListener("click", changeParent);
el.move.addEventListener("click", toggleMove);
if (el.area) {
  const last = String(loadJSON(storageKeys.area, ""));
  if ([...el.area.options].some((option) => option.value && option.value === last)) el.area.value = last;
  el.area.addEventListener("change", () => {
    saveJSON(storageKeys.area, chosenArea());
    refocus(); // back to the scanner's input
  });
}
el.replayDismiss.addEventListener("click", () => {
  state.replayRefusals = [];
  renderBanners();
});
window.addEventListener("online", () => {
  flush();
});
window.addEventListener("offline", () => {
  if (queue.length) markOffline();
  else {
    state.offline = true;
    render();
  }
});
window.addEventListener("focus", () => {
  if (queue.length) flush();
});
// Another tab's answers and changes (scan_queue.js): its scans show here as waiting until they are sent.
queue.on("answer", (item, answer) => answered(item, answer));
queue.on("changed", showQueue);

function showQueue() {
  const queued = new Set(queue.items.map((item) => item.id));
  const gone = state.entries.filter(
    (entry) => entry.state === "waiting" && !queued.has(entry.key) && entry.key !== state.inFlight,
  );
  if (gone.length) {
    state.entries = state.entries.filter((entry) => !gone.includes(entry));
    renderEntries();
  }
  for (const item of queue.items) {
    if (!state.entries.some((entry) => entry.key === item.id)) putEntry(entryFromQueueItem(item));
  }
  render();
}

// ---------------------------------------------------------------------------------------------------
// Start: the server's recent scans, then what is still waiting from before (a reload, a login)

for (const scan of (config.recent_scans || []).slice().reverse()) putEntry(entryFromScanEvent(scan));
if (state.parent) {
  setStatus("idle", interpolate(gettext("Scan child bags into %(parent)s."), { parent: state.parent.qr_id }));
}
if (!navigator.onLine) state.offline = true;
render();
refocus();
registerShell(urls.worker);
queue.ready.then(() => {
  // What waits from before (a reload, a login, another tab): not the scans this page made while it opened.
  const before = queue.items.filter((item) => item.tab !== TAB);
  if (before.length) {
    for (const item of before) item.delayed = true;
    queue.update(before);
    setStatus("waiting", interpolate(gettext("Sending %(scans)s waiting from before…"), { scans: scans(before.length) }));
  }
  showQueue();
  flush();
});
