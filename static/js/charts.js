// Bar charts of counts per hour (the dashboard's last 24 hours, the reports' hours of day) and per day (the
// reports' days), drawn by uPlot
// (static/vendor/uplot-<version>/, README "Charts"). The caller gives the points with their labels as the
// server wrote them, so the hours are the app's time zone whatever the browser's. The chart fills its
// container's width and follows it (ResizeObserver); its colours are the theme's CSS variables, read when it
// is made. It sets element.style only (uPlot does the same), which the Content-Security-Policy allows.

import uPlot from "../vendor/uplot-1.6.32/uPlot.esm.js";
import { gettext, interpolate } from "./i18n.js";

const FONT_PX = 14;
// Fewest pixels between two hour labels ("00:00" is about 38 px at 14 px), and the hours a label may step.
const X_LABEL_SPACE = 48;
const X_STEPS = [1, 2, 3, 4, 6, 8, 12, 24];
// A day's label ("28 Mar") is wider; its steps are days, a week, a fortnight, about a month...
const DAY_LABEL_SPACE = 64;
const DAY_STEPS = [1, 2, 7, 14, 28, 56, 91, 182];
// At most this many intervals on the count axis: on a phone's 180 px chart each is still 28 px high.
const Y_INTERVALS = 5;

// The count axis' step and top: a whole 1, 2, 2.5 or 5 times a power of ten, its top tick at or above the
// largest count (an axis with a top tick below the tallest bar misreads).
function countScale(largest) {
  const most = Math.max(1, Math.ceil(largest) || 0);
  for (let power = 1; ; power *= 10) {
    for (const factor of [1, 2, 2.5, 5]) {
      const step = factor * power;
      if (Number.isInteger(step) && Math.ceil(most / step) <= Y_INTERVALS) {
        return { step, top: Math.ceil(most / step) * step };
      }
    }
  }
}

function theme(element) {
  const style = getComputedStyle(element);
  const variable = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  return {
    bar: variable("--tt-ok", style.color),
    ink: variable("--tt-ink", style.color),
    grid: variable("--bs-border-color", variable("--tt-muted", style.color)),
    font: `${FONT_PX}px ${style.fontFamily}`,
  };
}

// Phone: 180 px high; wider screens up to 260 px, so the bars keep a readable shape.
const heightFor = (width) => Math.round(Math.min(260, Math.max(180, width * 0.3)));

// The hour of a label such as "07:00", so labels fall on whole multiples of their step (00:00, 06:00, 12:00);
// a label that is not an hour counts from the first point.
const hourOf = (label, index) => {
  const hour = Number.parseInt(label, 10);
  return Number.isNaN(hour) ? index : hour;
};

// Makes the chart in `container` (an element with an id, role="img" and a label) and returns show(points), to
// call with [{label, count}, ...], oldest first, each time the figures change.
export function hourlyBars(container) {
  return bars(container, { space: X_LABEL_SPACE, steps: X_STEPS, position: hourOf });
}

// The same for days: a label every step days from the first.
export function dailyBars(container) {
  return bars(container, { space: DAY_LABEL_SPACE, steps: DAY_STEPS, position: (label, index) => index });
}

function bars(container, labels) {
  const colours = theme(container);
  const summary = document.createElement("p");
  summary.className = "visually-hidden";
  summary.id = `${container.id}-summary`;
  container.setAttribute("aria-describedby", summary.id);
  let points = [];

  const axis = { stroke: colours.ink, font: colours.font, ticks: { stroke: colours.ink, size: 4 } };
  // For screen readers (the box is role="img"): the hours, the scale as drawn and the peak.
  const describe = (drawn) => {
    const counts = points.map((point) => point.count);
    const most = Math.max(0, ...counts);
    const span = points.length ? { first: points[0].label, last: points.at(-1).label } : null;
    if (!span) {
      summary.textContent = "";
    } else if (most === 0) {
      summary.textContent = interpolate(gettext("From %(first)s to %(last)s: none."), span);
    } else {
      summary.textContent = interpolate(
        gettext("From %(first)s to %(last)s; the scale goes from 0 to %(top)s; the most was %(most)s, at %(at)s."),
        {
          ...span,
          top: drawn.scales.y.max.toLocaleString("en-IN"),
          most: most.toLocaleString("en-IN"),
          at: points[counts.indexOf(most)].label,
        },
      );
    }
  };
  // The count axis is as wide as its longest label (measured on a canvas of its own: uPlot keeps track of the
  // font it last set on the chart's).
  const ruler = document.createElement("canvas").getContext("2d");
  ruler.font = colours.font;
  const measure = (chart, values) =>
    Math.ceil(Math.max(0, ...(values || []).map((text) => ruler.measureText(text).width))) + 12;
  const options = {
    legend: { show: false },
    cursor: { show: false },
    padding: [FONT_PX, null, 0, null],
    scales: {
      x: { time: false, range: () => [-0.5, points.length - 0.5] },
      y: { range: (chart, min, max) => [0, countScale(max).top] },
    },
    axes: [
      {
        ...axis,
        grid: { show: false },
        space: labels.space,
        incrs: labels.steps,
        splits: (chart, index, min, max, step) =>
          points.map((point, i) => i).filter((i) => labels.position(points[i].label, i) % step === 0),
        values: (chart, splits) => splits.map((i) => points[i]?.label ?? ""),
      },
      {
        ...axis,
        grid: { stroke: colours.grid, width: 1 },
        size: measure,
        splits: (chart, index, min, max) => {
          const { step, top } = countScale(max);
          return Array.from({ length: top / step + 1 }, (_, i) => i * step);
        },
        values: (chart, splits) => splits.map((count) => count.toLocaleString("en-IN")),
      },
    ],
    hooks: { draw: [describe] },
    series: [
      {},
      {
        fill: colours.bar,
        stroke: colours.bar,
        width: 0,
        points: { show: false },
        paths: uPlot.paths.bars({ size: [0.8, Infinity, 2] }),
      },
    ],
  };
  const data = () => [points.map((point, i) => i), points.map((point) => point.count)];
  let chart = null;
  let width = container.clientWidth;
  new ResizeObserver(() => {
    if (chart && container.clientWidth !== width) {
      width = container.clientWidth;
      chart.setSize({ width, height: heightFor(width) });
    }
  }).observe(container);

  return function show(next) {
    points = next;
    if (chart) {
      chart.setData(data());
    } else {
      // Made with its first points: uPlot sizes its axes from them.
      width = container.clientWidth;
      chart = new uPlot({ ...options, width, height: heightFor(width) }, data(), container);
      container.prepend(summary);
    }
  };
}
