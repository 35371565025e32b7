// The dashboard: draws the scans-per-hour chart (charts.js) and refreshes every figure from
// GET /api/dashboard every few seconds, without reloading the page. The page starts from the figures the
// server put in it (#dashboard-stats), so it shows them even before the first refresh, or without this
// script at all. A refresh that fails keeps the last figures and says so; polling pauses while the tab
// is hidden and picks up again when it is shown.

import { hourlyBars } from "./charts.js";
import { gettext } from "./i18n.js";

const REQUEST_TIMEOUT_MS = 10000;

const root = document.getElementById("dashboard");
const refreshMs = Math.max(1, Number(root.dataset.refreshSeconds) || 5) * 1000;
const el = {
  updated: document.getElementById("dashboard-updated"),
  hours: document.getElementById("dashboard-hours"),
  top: document.getElementById("dashboard-top"),
  recent: document.getElementById("dashboard-recent"),
};
const showChart = hourlyBars(document.getElementById("dashboard-chart"));
let timer = null;

function node(tag, { text, className, attrs } = {}) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  for (const [name, value] of Object.entries(attrs || {})) made.setAttribute(name, String(value));
  return made;
}

function value(stats, path) {
  return path.split(".").reduce((part, key) => (part == null ? undefined : part[key]), stats);
}

function showNumbers(stats) {
  for (const target of root.querySelectorAll("[data-stat]")) {
    const number = value(stats, target.dataset.stat);
    if (number !== undefined && number !== null) target.textContent = Number(number).toLocaleString("en-IN");
  }
}

function showHours(hours) {
  showChart(hours.map((hour) => ({ label: hour.label, count: hour.scans })));
  el.hours.replaceChildren(...hours.map((hour) => {
    const row = node("tr");
    row.append(node("td", { text: hour.label }), node("td", { text: String(hour.scans) }));
    return row;
  }));
}

function showLists(stats) {
  const top = stats.top_dispatchers.map((row) => {
    const item = node("li");
    item.append(node("span", { className: "tt-top-name", text: row.username }), " ",
      node("span", { className: "tt-top-count", text: String(row.scans) }));
    return item;
  });
  el.top.replaceChildren(...(top.length ? top : [node("li", { className: "tt-empty", text: gettext("No scans yet today.") })]));
  const recent = stats.recent.map((scan) => {
    const item = node("li", { className: "tt-recent-item" });
    const link = node("a", { className: "tt-recent-code", text: scan.bag, attrs: { href: scan.bag_url } });
    const showParent = scan.parent && scan.action !== "open_parent" && scan.action !== "complete";
    const text = `${scan.action_label}${showParent ? ` · ${scan.parent}` : ""} · ${scan.user}`;
    item.append(link, node("span", { className: "tt-recent-text", text }),
      node("time", { className: "tt-recent-time", text: scan.time, attrs: { datetime: scan.at } }));
    return item;
  });
  el.recent.replaceChildren(...(recent.length ? recent : [node("li", { className: "tt-empty", text: gettext("No scans yet.") })]));
}

function show(stats) {
  showNumbers(stats);
  showHours(stats.hours);
  showLists(stats);
  el.updated.dataset.state = "ok";
  el.updated.replaceChildren(`${gettext("as of")} `, node("time", { text: stats.generated_time, attrs: { datetime: stats.generated_at } }));
}

async function refresh() {
  timer = null;
  const controller = new AbortController();
  const giveUp = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  try {
    const response = await fetch(root.dataset.statsUrl, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      signal: controller.signal,
    });
    if (response.status === 401) {
      el.updated.dataset.state = "logged-out";
      el.updated.textContent = gettext("Your session has ended: log in again to see new figures.");
      return; // no more polling until the page is opened again
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    show(await response.json());
  } catch {
    el.updated.dataset.state = "stale";
    el.updated.textContent = gettext("Could not refresh: showing the last figures. Trying again…");
  } finally {
    clearTimeout(giveUp);
  }
  schedule();
}

function schedule() {
  if (timer === null && !document.hidden && el.updated.dataset.state !== "logged-out") {
    timer = setTimeout(refresh, refreshMs);
  }
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden && timer !== null) {
    clearTimeout(timer);
    timer = null;
  } else {
    schedule();
  }
});

show(JSON.parse(document.getElementById("dashboard-stats").textContent));
schedule();
