// The bill page: a biller scans parent bags onto a draft bill, through the biller's scan box (scan_box.js:
// the scanner conventions of the dispatcher's scan page, one read at a time, tones and the server's
// sentence).
//
// Adding a parent is idempotent by nature (a repeat is refused as already_on_this_bill), so there is no
// offline queue here. Every answer carries the whole bill, so the totals and the table are redrawn from it.

import { cell, confirmForms, markNewRow, removeForm, scanBox, sendJson, timeText } from "./scan_box.js";

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

// The server sends weights as strings with three decimals; a difference gets its sign, as on the page.
function signed(kg) {
  return Number(kg) > 0 ? `+${kg}` : kg;
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
        cell(timeText(parent.added_at, config.time_zone)),
      );
      if (draft) {
        const td = cell("", "text-end");
        td.append(removeForm(config.remove_form_url, parent.qr_id));
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
  if (highlight) markNewRow(el.rows);
}

confirmForms();
scanBox({
  el,
  send: (item) =>
    item.kind === "add"
      ? sendJson(config.parents_url, "POST", { code: item.code })
      : sendJson(`${config.parents_url}/${encodeURIComponent(item.code)}`, "DELETE"),
  render: (answer, item) => {
    if (answer.bill) renderBill(answer.bill, answer.ok && item.kind === "add" ? item.code : "");
  },
});
