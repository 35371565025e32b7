"""The next unused codes of a product, what printing remembers, and sending ZPL to a printer: a real TCP
listener receives the job; a printer that refuses, stalls or has no name is a sentence, and nothing is kept."""

import re
import time

import pytest

from audit.choices import AuditAction
from audit.models import AuditLog
from labels import services
from labels.codes import LabelRefused
from labels.error_codes import LabelRefusal
from labels.layouts import LayoutKey
from labels.models import LabelBatch
from labels.services import LIST, NEXT, RANGE, LabelOrder
from tests import factories

pytestmark = pytest.mark.django_db


def next_order(product, count: int) -> LabelOrder:
    return LabelOrder(source=NEXT, product=product, count=count)


def test_the_next_codes_start_after_the_highest_parent_of_the_product(mustard, moong):
    factories.make_parent("SB00041")
    factories.make_parent("SB00007")
    factories.make_parent("M444-00900", product_code="moong")
    factories.make_child("SB99999X")  # a child code is no parent code, whatever it starts with

    assert services.codes_for(next_order(mustard, 3)).codes == ("SB00042", "SB00043", "SB00044")
    assert services.codes_for(next_order(moong, 1)).codes == ("M444-00901",)


def test_printed_codes_are_not_handed_out_again_and_a_preview_hands_out_nothing(mustard, biller):
    services.codes_for(next_order(mustard, 5))  # the preview
    first = services.make_file(user=biller, order=next_order(mustard, 5), layout_key=LayoutKey.A4_3X8)
    second = services.make_file(user=biller, order=next_order(mustard, 2), layout_key=LayoutKey.A4_3X8)
    services.make_file(
        user=biller, order=LabelOrder(source=RANGE, first="SB00100", last="SB00120"), layout_key=LayoutKey.A4_2X7
    )
    third = services.codes_for(next_order(mustard, 1))

    assert first.run.codes == ("SB00001", "SB00002", "SB00003", "SB00004", "SB00005")
    assert first.filename == "labels-SB00001-SB00005-a4-3x8.pdf" and first.content.startswith(b"%PDF")
    assert second.run.codes == ("SB00006", "SB00007")
    assert third.codes == ("SB00121",)
    batch = LabelBatch.objects.order_by("pk").first()
    assert (batch.first_number, batch.last_number, batch.printed_by, batch.layout) == (1, 5, biller, "a4-3x8")


def test_a_list_of_codes_is_not_remembered(mustard, biller):
    services.make_file(user=biller, order=LabelOrder(source=LIST, text="SB00500"), layout_key=LayoutKey.A4_3X8)

    assert not LabelBatch.objects.exists()
    assert services.codes_for(next_order(mustard, 1)).codes == ("SB00001",)


def test_no_more_codes_than_the_format_holds(mustard):
    factories.make_parent("SB99998")

    with pytest.raises(LabelRefused) as refused:
        services.codes_for(next_order(mustard, 2))

    assert refused.value.code == LabelRefusal.NO_CODES_LEFT
    assert refused.value.message == "Mustard has only 1 unused codes left after SB99998."


def test_zpl_is_only_for_rolls(mustard, biller):
    with pytest.raises(LabelRefused) as refused:
        services.make_file(user=biller, order=next_order(mustard, 1), layout_key=LayoutKey.A4_3X8, zpl_dpi=203)

    assert refused.value.code == LabelRefusal.NOT_A_ROLL
    assert not LabelBatch.objects.exists()


def test_the_printer_receives_the_zpl_and_the_sending_is_audited(mustard, biller, printer, zebra):
    run = services.print_labels(user=biller, order=next_order(mustard, 3), printer=printer)

    job = zebra.job().decode("ascii")
    assert re.findall(r"\^FDMA,([A-Z0-9-]+)\^FS", job) == ["SB00001", "SB00002", "SB00003"] == list(run.codes)
    assert job.count("^XA") == 3 and "^PW400^LL200" in job  # the printer's 50 x 25 mm roll at 203 dpi
    entry = AuditLog.objects.get(action=AuditAction.LABEL_PRINT)
    assert entry.actor == biller and entry.object_repr == "Bay 1 Zebra"
    assert entry.after == {
        "printer": "Bay 1 Zebra",
        "address": f"127.0.0.1:{zebra.port}",
        "labels": 3,
        "first": "SB00001",
        "last": "SB00003",
    }
    assert LabelBatch.objects.get().last_number == 3


def assert_unreachable(biller, mustard, printer, sentence: str) -> None:
    with pytest.raises(LabelRefused) as refused:
        services.print_labels(user=biller, order=next_order(mustard, 2), printer=printer)
    assert refused.value.code == LabelRefusal.PRINTER_UNREACHABLE and refused.value.status == 502
    assert refused.value.message == sentence + (
        " Nothing was printed. Check that it is on and on the network, or download the labels."
    )
    # Nothing is kept: the same codes are handed out at the next try, and no audit entry says it printed.
    assert not LabelBatch.objects.exists() and not AuditLog.objects.filter(action=AuditAction.LABEL_PRINT).exists()


def test_a_printer_that_refuses_the_connection(mustard, biller, closed_port):
    printer = factories.make_printer("Bay 2", port=closed_port)

    assert_unreachable(biller, mustard, printer, f"The printer Bay 2 (127.0.0.1:{closed_port}) refused the connection.")


def test_a_printer_that_does_not_answer_is_given_up_after_its_timeout(mustard, biller, stalled_port):
    printer = factories.make_printer("Bay 3", port=stalled_port, timeout_seconds=1)

    started = time.monotonic()
    assert_unreachable(
        biller, mustard, printer, f"The printer Bay 3 (127.0.0.1:{stalled_port}) did not answer within 1 seconds."
    )
    assert 0.9 < time.monotonic() - started < 3


def test_a_printer_whose_name_is_unknown(mustard, biller):
    printer = factories.make_printer("Bay 4", host="no-such-printer.invalid")

    assert_unreachable(
        biller,
        mustard,
        printer,
        "The printer Bay 4: no machine called no-such-printer.invalid is known on this network.",
    )
