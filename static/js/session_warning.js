// Warns on the scan page a few minutes before the server logs the user out (accounts.middleware):
// after SESSION_IDLE_TIMEOUT_MINUTES without a request, which any scan puts off, or at the absolute
// end of the shift's session, which nothing puts off. The deadlines come in the page's #scan-config
// ("session"); the module starts itself when imported, and scan.js calls sessionAnswered() whenever the
// server has answered a request (each answered request moves the idle deadline on).

import { gettext, interpolate } from "./i18n.js";

const TICK_MS = 15000;

const config = JSON.parse(document.getElementById("scan-config")?.textContent || "{}").session || null;
const banner = document.getElementById("session-warning");
// The server's clock in seconds, from ours: a wrong clock on a handheld must not move the warning.
const offset = config ? config.now - Date.now() / 1000 : 0;
let idleDeadline = config ? config.idle : null;
const absoluteDeadline = config ? config.absolute : null;

function serverNow() {
  return Date.now() / 1000 + offset;
}

function clockText(epochSeconds) {
  const at = new Date((epochSeconds - offset) * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(at.getHours())}:${pad(at.getMinutes())}`;
}

// The warning for now ({ kind, text }), or null: about whichever deadline comes first, once it is near
// and not yet past.
function warning() {
  const now = serverNow();
  const deadlines = [
    ["idle", idleDeadline],
    ["absolute", absoluteDeadline],
  ].filter(([, at]) => typeof at === "number");
  if (!deadlines.length) return null;
  const [kind, at] = deadlines.reduce((first, next) => (next[1] < first[1] ? next : first));
  const left = at - now;
  if (left <= 0 || left > config.warning_seconds) return null; // past: scan.js tells on the next request
  if (kind === "absolute") {
    const text = gettext("Your shift session ends at %(time)s; log in again after that. Waiting scans are kept.");
    return { kind, text: interpolate(text, { time: clockText(at) }) };
  }
  const minutes = Math.max(1, Math.ceil(left / 60));
  const text = gettext("Your session ends in %(minutes)s min. Scan anything to stay logged in.");
  return { kind, text: interpolate(text, { minutes }) };
}

function render() {
  if (!banner) return;
  const shown = warning();
  banner.hidden = shown === null;
  banner.dataset.kind = shown ? shown.kind : "";
  if (shown && banner.textContent !== shown.text) banner.textContent = shown.text;
}

export function sessionAnswered() {
  if (!config) return;
  idleDeadline = Math.max(idleDeadline ?? 0, serverNow() + config.idle_seconds);
  render();
}

if (config && banner) {
  render();
  window.setInterval(render, TICK_MS);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) render();
  });
}
