// The return ticket page: a biller scans the parent bags that came back onto a draft ticket, through the
// biller's scan box (scan_box.js: the bill page's scanner conventions). Each scan carries a new client id,
// so a repeat of a request (a retry after a lost answer) is answered as the first and changes nothing.
// Every answer carries the whole ticket, so the totals and the table are redrawn from it.

import { cell, confirmForms, markNewRow, removeForm, scanBox, sendJson, timeText } from "./scan_box.js";

const config = JSON.parse(document.getElementById("ticket-config").textContent);

const el = {
  input: document.getElementById("ticket-scan-input"),
  form: document.getElementById("ticket-scan-form"),
  status: document.getElementById("ticket-scan-status"),
  statusText: document.getElementById("ticket-scan-status-text"),
  statusNote: document.getElementById("ticket-scan-status-note"),
  ignored: document.getElementById("ticket-scan-ignored"),
  rows: document.getElementById("ticket-parents-body"),
  parents: document.getElementById("total-parents"),
  children: document.getElementById("total-children"),
};

function renderTicket(ticket, highlight = "") {
  el.parents.textContent = String(ticket.parent_count);
  el.children.textContent = String(ticket.child_count);
  const draft = ticket.status === "draft";
  const rows = ticket.parents
    .map((parent, index) => {
      const tr = document.createElement("tr");
      tr.dataset.code = parent.qr_id;
      tr.append(
        cell(String(index + 1)),
        cell(parent.qr_id, "fw-bold"),
        cell(parent.product),
        cell(parent.child_count === null ? "-" : String(parent.child_count), "text-end"),
        cell(parent.bill_number),
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
    const td = cell("No parent bags on this ticket yet.");
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
      ? sendJson(config.parents_url, "POST", { code: item.code, client_scan_id: item.id })
      : sendJson(`${config.parents_url}/${encodeURIComponent(item.code)}`, "DELETE"),
  render: (answer, item) => {
    if (answer.ticket) renderTicket(answer.ticket, answer.ok && item.kind === "add" ? item.code : "");
  },
});
