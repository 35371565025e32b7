"""The label page and the command sheet: for billers and admins, plain forms (no script), every bad request a
sentence on the page (never a 500) with nothing printed, and the files they download."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from audit.choices import AuditAction
from audit.models import AuditLog
from bags.managers import forget_parent_formats
from bags.qr import Command
from labels.models import LabelBatch
from tests import factories
from tests.labels.decoding import decoded_pages

pytestmark = pytest.mark.django_db

URL = "/labels/"


def post(client, **fields):
    form = {"source": "range", "layout": "a4-3x8", "dpi": "203", "action": "preview", **fields}
    return client.post(URL, form)


def test_the_urls():
    assert reverse("labels:labels") == URL
    assert reverse("labels:commands") == "/labels/commands/"
    assert reverse("labels:commands-pdf") == "/labels/commands.pdf"


def test_a_dispatcher_may_not_print_labels(client):
    client.force_login(factories.make_user("labels-dispatcher"))

    assert client.get(URL).status_code == 403
    assert client.get("/labels/commands/").status_code == 403


def test_the_page_offers_every_way_to_choose_codes_and_every_layout(biller_client, mustard):
    page = biller_client.get(URL).content.decode()

    for text in ("A range of codes", "A list of codes", "The next unused codes of a product", "At most 5000 labels"):
        assert text in page
    for layout in ("a4-3x8", "a4-2x7", "roll-50x25", "roll-100x50"):
        assert f'value="{layout}"' in page
    assert "No label printer is set up" in page
    assert "<script" not in page.split("<main", 1)[1].split("</main>", 1)[0]


def test_the_home_page_links_the_labels_for_billers_only(biller_client, client):
    assert 'href="/labels/"' in biller_client.get("/").content.decode()
    client.force_login(factories.make_user("labels-dispatcher"))
    assert 'href="/labels/"' not in client.get("/").content.decode()


@pytest.mark.usefixtures("exception_count_kept")
def test_a_preview_shows_the_first_labels_and_hands_out_nothing(biller_client, mustard):
    forget_parent_formats()  # read from the database once, as after a product change
    with CaptureQueriesContext(connection) as queries:
        answer = post(biller_client, source="next", product=str(mustard.pk), count="30")

    page = " ".join(answer.content.decode().split())
    assert answer.status_code == 200
    assert "30 labels, SB00001 to SB00030, on A4 sheet, 3 x 8 labels (63.5 x 33.9 mm). 2 sheets." in page
    assert "The first 6 are shown." in page
    assert re.findall(r'<figure class="tt-label [^"]*" data-code="([A-Z0-9-]+)">', page) == [
        f"SB{number:05d}" for number in range(1, 7)
    ]
    assert page.count('src="data:image/svg+xml') == 6
    assert not LabelBatch.objects.exists()
    # The user, the chosen product, the parent formats (then kept in the cache), the highest code in use and
    # printed, the notification count, the product and printer lists, whether any printer exists, the session.
    assert len(queries) == 12, "\n".join(query["sql"][:90] for query in queries.captured_queries)


@pytest.mark.parametrize(
    ("fields", "sentence"),
    [
        ({"first": "SB00500", "last": "SB00001"}, "The range runs backwards: SB00500 comes after SB00001."),
        ({"first": "SB00001", "last": "SB09999"}, "That is 9,999 labels; at most 5,000 are made at once."),
        ({"first": "SB00001", "last": ""}, "Type the last code of the range."),
        ({"source": "list", "codes": "SB00001 AB"}, "1 code cannot be printed: &#x27;AB&#x27; is too short"),
        ({"source": "list", "codes": "SB00001 sb00001"}, "These codes are in the list more than once: SB00001."),
        ({"source": "next", "count": "5"}, "Choose the product whose codes to print."),
        ({"source": "next", "count": "5001"}, "Ensure this value is less than or equal to 5000."),
        ({"source": "nothing"}, "Select a valid choice."),
        ({"first": "SB00001", "last": "SB00002", "layout": "a5-1x1"}, "Select a valid choice."),
        ({"first": "SB00001", "last": "SB00002", "action": "zpl", "layout": "a4-2x7"}, "ZPL is for thermal label"),
        ({"first": "SB00001", "last": "SB00002", "action": "print"}, "Choose the printer to send the labels to."),
    ],
)
@pytest.mark.parametrize("action", ["preview", "pdf"])
def test_a_bad_request_is_a_sentence_and_prints_nothing(biller_client, mustard, fields, sentence, action):
    answer = post(biller_client, **{"action": action, **fields})

    assert answer.status_code == 400 and answer["Content-Type"].startswith("text/html")
    assert sentence in answer.content.decode()
    assert not LabelBatch.objects.exists()


def test_a_pdf_download_decodes_back_to_the_range(biller_client, mustard):
    answer = post(biller_client, first="sb00011", last="SB00040", action="pdf", layout="a4-2x7")

    assert answer.status_code == 200 and answer["Content-Type"] == "application/pdf"
    assert answer["Content-Disposition"] == 'attachment; filename="labels-SB00011-SB00040-a4-2x7.pdf"'
    assert [code for page in decoded_pages(answer.content) for code in page] == [
        f"SB{number:05d}" for number in range(11, 41)
    ]
    assert LabelBatch.objects.get().last_number == 40


def test_a_zpl_download(biller_client, mustard):
    answer = post(biller_client, source="list", codes="CHILD0001\nM444-00001", action="zpl", layout="roll-100x50")

    assert answer.status_code == 200 and answer["Content-Type"] == "application/zpl"
    assert answer["Content-Disposition"] == 'attachment; filename="labels-CHILD0001-M444-00001-roll-100x50.zpl"'
    assert re.findall(rb"\^FDMA,([A-Z0-9-]+)\^FS", answer.content) == [b"CHILD0001", b"M444-00001"]


def test_sending_to_a_printer_from_the_page(biller_client, biller, mustard, printer, zebra):
    answer = post(
        biller_client, source="next", product=str(mustard.pk), count="2", action="print", printer=str(printer.pk)
    )

    assert answer.status_code == 200
    assert "Sent 2 labels (SB00001 to SB00002) to the printer Bay 1 Zebra." in answer.content.decode()
    assert re.findall(rb"\^FDMA,([A-Z0-9-]+)\^FS", zebra.job()) == [b"SB00001", b"SB00002"]
    assert AuditLog.objects.get(action=AuditAction.LABEL_PRINT).actor == biller


def test_a_printer_that_cannot_be_reached_is_a_sentence_on_the_page(biller_client, mustard, closed_port):
    printer = factories.make_printer("Bay 2", port=closed_port)

    answer = post(biller_client, first="SB00001", last="SB00002", action="print", printer=str(printer.pk))

    assert answer.status_code == 502
    assert f"The printer Bay 2 (127.0.0.1:{closed_port}) refused the connection. Nothing was printed." in (
        answer.content.decode()
    )
    assert not LabelBatch.objects.exists()


def test_the_command_sheet_page_and_pdf(client):
    client.force_login(factories.make_user("labels-admin", role=Role.ADMIN))
    factories.make_user("labels-biller", role=Role.BILLER)
    client.force_login(factories.make_user("labels-biller-2", role=Role.BILLER))

    page = client.get("/labels/commands/").content.decode()
    pdf = client.get("/labels/commands.pdf")

    assert re.findall(r'<li class="[^"]*" data-code="([A-Z-]+)">', page) == [str(command) for command in Command]
    for words in ("Done", "Undo", "New parent", "Move", "Cancel", "Leave this parent: the next scan is a parent bag."):
        assert words in page
    assert pdf["Content-Disposition"] == 'attachment; filename="command-barcodes.pdf"'
    assert decoded_pages(pdf.content) == [[str(command) for command in Command]]
