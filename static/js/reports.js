// The reports page: draws its two charts (charts.js) from the figures the server put in it (#report-charts);
// the tables below them hold the same figures.

import { dailyBars, hourlyBars } from "./charts.js";

const charts = JSON.parse(document.getElementById("report-charts").textContent);
dailyBars(document.getElementById("report-days-chart"))(charts.days);
hourlyBars(document.getElementById("report-hours-chart"))(charts.hours);
