// The return ticket page: a biller scans the parent bags that came back onto a draft ticket, through the
// biller's scan box (scan_box.js: the bill page's scanner conventions). Each scan carries a new client id,
// so a repeat of a request (a retry after a lost answer) is answered as the first and changes nothing.
// Every answer carries the whole ticket, so the totals and the table are redrawn from it.

import { cell, confirmForms, drawParents, parentRequests, scanBox, scanElements, timeText } from "./scan_box.js";
import { gettext } from "./i18n.js";

const config = JSON.parse(document.getElementById("ticket-config").textContent);

const el = {
  ...scanElements("ticket"),
  parents: document.getElementById("total-parents"),
  children: document.getElementById("total-children"),
};

function renderTicket(ticket, highlight = "") {
  el.parents.textContent = String(ticket.parent_count);
  el.children.textContent = String(ticket.child_count);
  drawParents(el.rows, ticket.parents, {
    cells: (parent) => [
      cell(parent.qr_id, "fw-bold"),
      cell(parent.product),
      cell(parent.child_count === null ? "-" : String(parent.child_count), "text-end"),
      cell(parent.bill_number),
      cell(timeText(parent.added_at, config.time_zone)),
    ],
    draft: ticket.status === "draft",
    removeUrl: config.remove_form_url,
    highlight,
    empty: gettext("No parent bags on this ticket yet."),
  });
}

confirmForms();
scanBox({
  el,
  send: parentRequests(config.parents_url, (item) => ({ client_scan_id: item.id })),
  render: (answer, item) => {
    if (answer.ticket) renderTicket(answer.ticket, answer.ok && item.kind === "add" ? item.code : "");
  },
});
