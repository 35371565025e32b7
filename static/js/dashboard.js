// The dashboard: draws the scans-per-hour chart (SVG, no library) and refreshes every figure from
// GET /api/dashboard every few seconds, without reloading the page. The page starts from the figures the
// server put in it (#dashboard-stats), so it shows them even before the first refresh, or without this
// script at all. A refresh that fails keeps the last figures and says so; polling pauses while the tab
// is hidden and picks up again when it is shown.

import { gettext } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";
const CHART = { width: 480, height: 160, top: 18, bottom: 22 };
const REQUEST_TIMEOUT_MS = 10000;

const root = document.getElementById("dashboard");
const refreshMs = Math.max(1, Number(root.dataset.refreshSeconds) || 5) * 1000;
const el = {
  updated: document.getElementById("dashboard-updated"),
  chart: document.getElementById("dashboard-chart"),
  hours: document.getElementById("dashboard-hours"),
  top: document.getElementById("dashboard-top"),
  recent: document.getElementById("dashboard-recent"),
};
let timer = null;

function node(tag, { text, className, attrs } = {}, ns = null) {
  const made = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  if (className) made.setAttribute("class", className);
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

function drawChart(hours) {
  const most = Math.max(1, ...hours.map((hour) => hour.scans));
  const slot = CHART.width / hours.length;
  const room = CHART.height - CHART.top - CHART.bottom;
  const bars = hours.map((hour, i) => {
    const height = Math.round((hour.scans / most) * room);
    const bar = node("rect", {
      className: "tt-chart-bar",
      attrs: { x: (i * slot + 1).toFixed(1), y: CHART.top + room - height, width: (slot - 2).toFixed(1), height },
    }, SVG);
    bar.append(node("title", { text: `${hour.label}: ${hour.scans} scans` }, SVG));
    return bar;
  });
  const labels = hours
    .map((hour, i) => [hour, i])
    .filter(([, i]) => i % 6 === 0 || i === hours.length - 1)
    .map(([hour, i]) => {
      // The first and last labels are held inside the chart's edges.
      const anchor = i === 0 ? "start" : i === hours.length - 1 ? "end" : "middle";
      const x = i === 0 ? 0 : i === hours.length - 1 ? CHART.width : i * slot + slot / 2;
      return node("text", {
        className: "tt-chart-label",
        text: hour.label,
        attrs: { x: x.toFixed(1), y: CHART.height - 5, "text-anchor": anchor },
      }, SVG);
    });
  const peak = node("text", { className: "tt-chart-label", text: `${most} max`, attrs: { x: 2, y: 14 } }, SVG);
  el.chart.replaceChildren(...bars, ...labels, peak);
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
  drawChart(stats.hours);
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
