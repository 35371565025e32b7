// The bill page: a biller scans parent bags onto a draft bill, through the biller's scan box (scan_box.js:
// the scanner conventions of the dispatcher's scan page, one read at a time, tones and the server's
// sentence).
//
// Adding a parent is idempotent by nature (a repeat is refused as already_on_this_bill), so there is no
// offline queue here. Every answer carries the whole bill, so the totals and the table are redrawn from it.

import { cell, confirmForms, drawParents, parentRequests, scanBox, scanElements, timeText } from "./scan_box.js";
import { gettext } from "./i18n.js";

const config = JSON.parse(document.getElementById("bill-config").textContent);

const el = {
  ...scanElements("bill"),
  parents: document.getElementById("total-parents"),
  children: document.getElementById("total-children"),
  actual: document.getElementById("total-actual"),
  expected: document.getElementById("total-expected"),
  difference: document.getElementById("total-difference"),
  differenceBox: document.getElementById("total-difference-box"),
  differenceNote: document.getElementById("total-difference-note"),
};

// The API sends weights as exact strings with three decimals ("4.500"); the page shows them as the server
// draws it (bills.weights.readable_kg): "4.5", "30", and a difference with its sign.
function kg(text) {
  return String(Number(text)); // Number("-0.000") is -0, written "0"
}

function signed(text) {
  return Number(text) > 0 ? `+${kg(text)}` : kg(text);
}

// A draft short of its expected weight is still being loaded: a calm note, not the red alarm of a
// finalised bill that left short (as templates/bills/bill_detail.html draws it).
function differenceLook(bill) {
  if (bill.weight_state === "short" && bill.status === "draft") return ["loading", config.text.loading];
  return [bill.weight_state, config.text[bill.weight_state]];
}

function renderBill(bill, highlight = "") {
  el.parents.textContent = String(bill.parent_count);
  el.children.textContent = String(bill.child_count);
  el.actual.textContent = kg(bill.actual_weight_kg);
  el.expected.textContent = kg(bill.expected_weight_kg);
  el.difference.textContent = signed(bill.difference_kg);
  const [look, note] = differenceLook(bill);
  el.differenceBox.className = `tt-total tt-diff tt-diff-${look}`;
  el.differenceBox.dataset.state = bill.weight_state;
  el.differenceNote.textContent = note;
  drawParents(el.rows, bill.parents, {
    cells: (parent) => [
      cell(parent.qr_id, "fw-bold"),
      cell(parent.product),
      cell(`${parent.child_count} / ${parent.capacity}`, "text-end"),
      cell(kg(parent.weight_kg), "text-end"),
      cell(timeText(parent.added_at, config.time_zone)),
    ],
    draft: bill.status === "draft",
    removeUrl: config.remove_form_url,
    highlight,
    empty: gettext("No parent bags on this bill yet."),
  });
}

confirmForms();
scanBox({
  el,
  send: parentRequests(config.parents_url),
  render: (answer, item) => {
    if (answer.bill) renderBill(answer.bill, answer.ok && item.kind === "add" ? item.code : "");
  },
});
