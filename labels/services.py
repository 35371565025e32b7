"""Making and printing labels: which codes (labels.codes, and here the next N unused of a product), the
PDF or ZPL, sending ZPL to a printer, and remembering which parent codes were printed (LabelBatch).

"The next N unused" starts after the highest code of the product in use or printed here before; taking
them and remembering them is one transaction under an advisory lock per product, so two billers asking at
once get different codes. Sending to a printer happens in that transaction too: a printer that cannot be
reached leaves nothing remembered, and the next try hands out the same codes.
"""

import socket
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Max
from django.http import HttpRequest
from django.utils.translation import gettext as _

from audit.choices import AuditAction
from audit.services import record
from bags.models import Bag, Product
from labels import codes as label_codes
from labels.codes import MAX_LABELS, CodeRun, LabelRefused
from labels.error_codes import LabelRefusal
from labels.layouts import LAYOUTS, Layout, LayoutKey
from labels.models import LabelBatch, Printer
from labels.pdf import labels_pdf
from labels.zpl import labels_zpl

NEXT_CODES_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('labels.next_codes'), %s)"
RANGE, LIST, NEXT = "range", "list", "next"


@dataclass(frozen=True)
class LabelOrder:
    """What the label page asks for: a range (``first``, ``last``), a list (``text``) or the next
    ``count`` unused codes of ``product``."""

    source: str
    first: str = ""
    last: str = ""
    text: str = ""
    product: Product | None = None
    count: int = 0


@dataclass(frozen=True)
class LabelFile:
    run: CodeRun
    content: bytes
    filename: str
    content_type: str


def highest_number_used(product: Product) -> int:
    """The highest number of the product's parent codes that is a bag or was printed here (0 if none)."""
    fmt = product.parent_format
    # The unique index on qr_id read backwards from the top of the format's range: an index-only probe (0.02 ms
    # on 300,000 bags). No kind filter: no child's code can match a parent format (the database's trigger), and
    # with one the planner read every parent of the product (12 ms there, growing with the parents).
    highest_bag = (
        Bag.objects.filter(
            qr_id__gte=fmt.prefix + "0" * fmt.digits,
            qr_id__lte=fmt.prefix + "9" * fmt.digits,
            qr_id__regex=fmt.regex,
        )
        .order_by("-qr_id")
        .values_list("qr_id", flat=True)
        .first()
    )
    bag_number = int(highest_bag[len(fmt.prefix) :]) if highest_bag else 0
    printed = LabelBatch.objects.filter(product=product).aggregate(last=Max("last_number"))["last"] or 0
    return max(bag_number, printed)


def next_unused(product: Product, count: int) -> CodeRun:
    if not 1 <= count <= MAX_LABELS:
        if count > MAX_LABELS:
            raise label_codes.too_many(count)
        raise LabelRefused(LabelRefusal.NO_CODES, _("Ask for at least one label."))
    fmt = product.parent_format
    start = highest_number_used(product) + 1
    room = 10**fmt.digits - start
    if count > room:
        raise LabelRefused(
            LabelRefusal.NO_CODES_LEFT,
            _("%(product)s has only %(room)s unused codes left after %(last)s.")
            % {"product": product.name, "room": f"{max(room, 0):,}", "last": f"{fmt.prefix}{start - 1:0{fmt.digits}d}"},
        )
    return label_codes.numbered(fmt, start, count)


def codes_for(order: LabelOrder) -> CodeRun:
    """The codes the order means, read now and not handed out: the page's preview."""
    formats = Product.objects.parent_formats()
    if order.source == RANGE:
        return label_codes.from_range(order.first, order.last, formats)
    if order.source == LIST:
        return label_codes.from_list(order.text, formats)
    if order.product is None:
        raise LabelRefused(LabelRefusal.BAD_CODE, _("Choose the product whose codes to print."))
    return next_unused(order.product, order.count)


def _take(order: LabelOrder, user: AbstractBaseUser, layout: LayoutKey) -> CodeRun:
    """The order's codes, in the caller's transaction; a run of one product's parent codes is remembered."""
    if order.source == NEXT and order.product is not None:
        with connection.cursor() as cursor:
            cursor.execute(NEXT_CODES_LOCK_SQL, [order.product.pk])
    run = codes_for(order)
    if run.product_code is not None:
        LabelBatch.objects.create(
            product=Product.objects.get(code=run.product_code),
            first_number=run.first_number,
            last_number=run.last_number,
            layout=layout,
            printed_by=user,
        )
    return run


def make_file(
    *, user: AbstractBaseUser, order: LabelOrder, layout_key: LayoutKey, zpl_dpi: int | None = None
) -> LabelFile:
    """The labels as a PDF in ``layout_key``, or as ZPL at ``zpl_dpi`` (thermal rolls only)."""
    layout = LAYOUTS[layout_key]
    if zpl_dpi is not None:
        _check_roll(layout)
    with transaction.atomic(durable=True):
        run = _take(order, user, layout_key)
    name = f"labels-{run.first}-{run.last}-{layout_key}" if len(run.codes) > 1 else f"labels-{run.first}-{layout_key}"
    if zpl_dpi is not None:
        return LabelFile(run, labels_zpl(run.codes, layout, zpl_dpi), f"{name}.zpl", "application/zpl")
    return LabelFile(run, labels_pdf(run.codes, layout), f"{name}.pdf", "application/pdf")


def _check_roll(layout: Layout) -> None:
    if not layout.is_roll:
        raise LabelRefused(
            LabelRefusal.NOT_A_ROLL,
            _("ZPL is for thermal label printers: choose a 50 x 25 mm or 100 x 50 mm roll, or download a PDF."),
        )


def print_labels(
    *, user: AbstractBaseUser, order: LabelOrder, printer: Printer, request: HttpRequest | None = None
) -> CodeRun:
    """Send the labels to the printer as ZPL on its roll and resolution; audited. Nothing is remembered if
    the printer cannot be reached (LabelRefused, 502)."""
    layout = LAYOUTS[LayoutKey(printer.roll)]
    with transaction.atomic(durable=True):
        run = _take(order, user, layout.key)
        send(printer, labels_zpl(run.codes, layout, printer.dpi))
        record(
            actor=user,
            action=AuditAction.LABEL_PRINT,
            obj=printer,
            after={
                "printer": printer.name,
                "address": printer.address,
                "labels": len(run.codes),
                "first": run.first,
                "last": run.last,
            },
            request=request,
        )
    return run


def send(printer: Printer, data: bytes) -> None:
    """The ZPL to the printer's raw port (JetDirect, 9100), waiting at most its timeout for each step."""
    try:
        with socket.create_connection((printer.host, printer.port), timeout=printer.timeout_seconds) as conn:
            conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)  # the end of the job: the printer prints what it has
    except OSError as error:
        raise LabelRefused(LabelRefusal.PRINTER_UNREACHABLE, _unreachable(printer, error), status=502) from error


def _unreachable(printer: Printer, error: OSError) -> str:
    where = {"printer": printer.name, "address": printer.address, "seconds": printer.timeout_seconds}
    if isinstance(error, TimeoutError):
        why = _("The printer %(printer)s (%(address)s) did not answer within %(seconds)s seconds.") % where
    elif isinstance(error, ConnectionRefusedError):
        why = _("The printer %(printer)s (%(address)s) refused the connection.") % where
    elif isinstance(error, socket.gaierror):
        why = _("The printer %(printer)s: no machine called %(host)s is known on this network.") % {
            **where,
            "host": printer.host,
        }
    else:
        why = _("The printer %(printer)s (%(address)s) cannot be reached: %(reason)s.") % {
            **where,
            "reason": error.strerror or error.__class__.__name__,
        }
    return why + " " + _("Nothing was printed. Check that it is on and on the network, or download the labels.")
