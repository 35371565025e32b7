"""The admin's import (a dry run, then confirm) over the import services, and its export
button: the dry run writes nothing, the confirm writes, bad files and rows are shown, nothing row by row."""

import csv
import io
import os
import re
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from audit.choices import AuditAction
from audit.models import AuditLog
from bags.models import Bag, Link
from bills.models import Bill
from imports.admin import UPLOAD_FOLDER, UPLOAD_GONE
from tests import factories
from tests.imports.files import link_rows
from tests.imports.test_import_bags import FAIL_ON_ROW_500

pytestmark = pytest.mark.django_db

IMPORT = reverse("admin:bags_bag_import")
PROCESS = reverse("admin:bags_bag_process_import")


@pytest.fixture(autouse=True)
def uploads(settings, tmp_path) -> Path:
    """The folder the uploads wait in between the dry run and the confirm."""
    settings.STORAGES = {
        **settings.STORAGES,
        "import_export": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path}},
    }
    return tmp_path / UPLOAD_FOLDER


def kept(uploads: Path) -> list[str]:
    return sorted(path.name for path in uploads.iterdir()) if uploads.exists() else []


def csv_upload(rows: list[list[str]], name: str = "links.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, "".join(",".join(row) + "\n" for row in rows).encode(), content_type="text/csv")


def upload(client, file, **fields):
    return client.post(IMPORT, {"format": "0", "resource": "0", "import_file": file, **fields})


def confirm_fields(page: str) -> dict[str, str]:
    form = page[page.index('action="' + PROCESS) :]
    return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', form[: form.index("</form>")]))


def test_the_dry_run_writes_nothing_and_the_confirm_writes(admin_client, admin_user):
    page = upload(admin_client, csv_upload(link_rows(2, 30)))

    assert page.status_code == 200
    text = page.content.decode()
    assert "60 rows read: 60 to import, 0 already present, 0 with errors." in text
    assert "The import would add 2 parents, 60 children, 60 links, 2 parents now full." in text
    assert Bag.objects.count() == 0 and not AuditLog.objects.filter(action=AuditAction.BAG_IMPORT).exists()

    done = admin_client.post(PROCESS, confirm_fields(text), follow=True)

    assert "Imported: 2 parents, 60 children, 60 links, 2 parents now full." in done.content.decode()
    assert Link.objects.count() == 60
    assert AuditLog.objects.get(action=AuditAction.BAG_IMPORT).actor == admin_user


def test_an_upload_that_cannot_be_confirmed_is_not_kept(admin_client, uploads):
    upload(admin_client, csv_upload([["parent", "child"], ["SB00001", "=1+1"]]))
    upload(admin_client, SimpleUploadedFile("bags.xlsx", b"not a workbook"))

    assert kept(uploads) == []


def test_a_confirmed_upload_is_removed_and_a_second_confirm_is_told_so(admin_client, uploads):
    text = upload(admin_client, csv_upload(link_rows(1, 2))).content.decode()
    assert len(kept(uploads)) == 1
    admin_client.post(PROCESS, confirm_fields(text))
    assert kept(uploads) == []

    again = admin_client.post(PROCESS, confirm_fields(text), follow=True)

    assert again.status_code == 200
    assert escape(UPLOAD_GONE) in again.content.decode()
    assert Link.objects.count() == 2
    assert AuditLog.objects.filter(action=AuditAction.BAG_IMPORT).count() == 1


def test_an_unconfirmed_upload_is_forgotten_after_a_day_when_the_next_comes(admin_client, uploads):
    upload(admin_client, csv_upload(link_rows(1, 1)))
    upload(admin_client, csv_upload(link_rows(1, 1)))
    old, recent = kept(uploads)
    two_days_ago = time.time() - 2 * 86400
    os.utime(uploads / old, (two_days_ago, two_days_ago))

    upload(admin_client, csv_upload(link_rows(1, 1)))

    assert recent in kept(uploads) and old not in kept(uploads)
    assert len(kept(uploads)) == 2


def test_the_confirm_is_set_based_not_a_query_per_row(admin_client):
    text = upload(admin_client, csv_upload(link_rows(20, 30))).content.decode()

    with CaptureQueriesContext(connection) as queries:
        admin_client.post(PROCESS, confirm_fields(text))

    assert Link.objects.count() == 600
    assert len(queries) < 40  # the session, the user, the lookups and the set-based statements


def test_bad_rows_are_listed_and_no_confirm_is_offered(admin_client):
    rows = [["parent", "child"], ["SB00001", "CH000001"], ["SB00001", "=1+1"]]

    text = upload(admin_client, csv_upload(rows)).content.decode()

    assert "formula" in text and "The child cell holds a formula (=1+1)" in text
    assert PROCESS not in text
    assert Bag.objects.count() == 0


BILLS_HEADER = ["bill_number", "customer", "date", "expected_parents", "parent"]


@pytest.mark.parametrize(
    ("url_name", "rows", "listed"),
    [
        (
            "admin:bags_bag_import",
            [["parent", "child"], ["SB00001", "CH0001"], ["SB00002", "CH0001"]],
            "CH0001 is also on row 2",
        ),
        ("admin:bags_bag_import", [["parent", "child"], ["SB1234", "CH000001"]], "looks like a Mustard parent code"),
        ("admin:bags_bag_import", [["code"], ["CH-0001"]], "code: &#x27;CH-0001&#x27;"),
        ("admin:bags_bag_import", link_rows(1, 31), "SB00001 is full: it holds 0 of 30"),
        ("admin:bills_bill_import", [BILLS_HEADER, ["INV-1", "Kota", "2026-11-20", "1", "=A1"]], "holds a formula"),
        (
            "admin:bills_bill_import",
            [
                BILLS_HEADER,
                ["INV-1", "Kota", "2026-11-20", "2", "SB00009"],
                ["INV-2", "Ajmer", "2026-11-20", "1", "sb00009"],
            ],
            "SB00009 is also on row 2: each parent once.",
        ),
        (
            "admin:bills_bill_import",
            [BILLS_HEADER, ["INV-1", "Kota", "2026-11-20", "1", "CH000001"]],
            "is a child bag code",
        ),
    ],
)
def test_bad_rows_of_either_import_are_listed_and_nothing_changes(admin_client, url_name, rows, listed):
    factories.make_parent("SB00009")
    before = (Bag.objects.count(), Bill.objects.count())

    page = admin_client.post(reverse(url_name), {"format": "0", "resource": "0", "import_file": csv_upload(rows)})

    text = page.content.decode()
    assert listed in text
    assert "Confirm import" not in text
    assert (Bag.objects.count(), Bill.objects.count()) == before


def test_a_repeat_import_in_the_admin_changes_nothing(admin_client):
    first = upload(admin_client, csv_upload(link_rows(1, 3))).content.decode()
    admin_client.post(PROCESS, confirm_fields(first))
    links = sorted(Link.objects.values_list("parent__qr_id", "child__qr_id", "created_at"))

    again = upload(admin_client, csv_upload(link_rows(1, 3))).content.decode()
    admin_client.post(PROCESS, confirm_fields(again))

    assert "3 rows read: 0 to import, 3 already present, 0 with errors." in again
    assert sorted(Link.objects.values_list("parent__qr_id", "child__qr_id", "created_at")) == links
    assert Bag.objects.get(qr_id="SB00001").child_count == 3


def test_rows_gone_bad_between_the_dry_run_and_the_confirm_are_named(admin_client):
    text = upload(admin_client, csv_upload(link_rows(1, 2))).content.decode()
    factories.link(factories.make_parent("SB00090"), factories.make_child("CH000002"))  # a scan meanwhile

    done = admin_client.post(PROCESS, confirm_fields(text), follow=True).content.decode()

    assert "Row 3: CH000002 is already in parent SB00090; it was not put into SB00001." in done
    assert "2 rows read: 1 to import, 0 already present, 1 with errors. Nothing was written" in done
    assert not Bag.objects.filter(qr_id="SB00001").exists()


def test_a_database_error_on_confirm_leaves_the_database_as_it_was_and_says_so(admin_client):
    text = upload(admin_client, csv_upload(link_rows(20, 30))).content.decode()
    with connection.cursor() as cursor:
        cursor.execute(FAIL_ON_ROW_500)

    done = admin_client.post(PROCESS, confirm_fields(text), follow=True)

    assert done.status_code == 200
    assert "The database refused the import, so nothing was written: injected failure" in done.content.decode()
    assert (Bag.objects.count(), Link.objects.count()) == (0, 0)
    assert not AuditLog.objects.filter(action=AuditAction.BAG_IMPORT).exists()


def test_the_good_rows_can_be_imported_when_asked(admin_client):
    rows = [["parent", "child"], ["SB00001", "CH000001"], ["SB00001", "x"]]

    text = upload(admin_client, csv_upload(rows), skip_invalid="on").content.decode()
    admin_client.post(PROCESS, confirm_fields(text))

    assert list(Link.objects.values_list("child__qr_id", flat=True)) == ["CH000001"]


def test_a_bad_file_is_refused_on_the_page(admin_client):
    text = upload(admin_client, SimpleUploadedFile("bags.xlsx", b"not a workbook")).content.decode()

    assert "The file was not imported" in text
    assert "&#x27;bags.xlsx&#x27; is not really an Excel workbook (.xlsx)." in text
    assert PROCESS not in text


def test_an_upload_over_the_size_cap_is_refused(admin_client, settings):
    settings.IMPORT_MAX_UPLOAD_MB = 0

    text = upload(admin_client, csv_upload(link_rows(1, 1))).content.decode()

    assert "The file is larger than 0 MB; import it with manage.py on the server." in text


def test_bills_import_in_the_admin(admin_client):
    factories.make_parent("SB00001")
    rows = [
        ["bill_number", "customer", "date", "expected_parents", "parent"],
        ["INV-1", "Jaipur", "2026-11-20", "1", "SB00001"],
    ]
    page = admin_client.post(
        reverse("admin:bills_bill_import"),
        {"format": "0", "resource": "0", "import_file": csv_upload(rows, "bills.csv")},
    ).content.decode()
    assert Bill.objects.count() == 0

    fields = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page))
    admin_client.post(reverse("admin:bills_bill_process_import"), fields)

    assert Bill.objects.get(bill_number="INV-1").bill_bags.get().parent_bag.qr_id == "SB00001"


def test_the_admin_export_button_streams_the_filtered_changelist(admin_client):
    factories.make_parent("SB00001")
    factories.make_child("CH000001")

    response = admin_client.post(
        reverse("admin:bags_bag_export") + "?kind__exact=child", {"format": "0", "resource": "0"}
    )

    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert [row[0] for row in rows] == ["code", "CH000001"]
    assert AuditLog.objects.get(action=AuditAction.TABLE_EXPORT).after["filters"] == {"kind__exact": "child"}


@pytest.mark.parametrize("upload_key", ["../../etc/passwd", "", "0" * 31])
def test_a_confirm_naming_no_kept_upload_is_refused_and_changes_nothing(admin_client, upload_key):
    text = upload(admin_client, csv_upload(link_rows(1, 2))).content.decode()
    fields = {**confirm_fields(text), "upload": upload_key}

    done = admin_client.post(PROCESS, fields, follow=True)

    assert done.status_code == 200
    assert "This confirmation was not made by the import page." in done.content.decode()
    assert Bag.objects.count() == 0


def test_the_import_button_is_on_the_bag_and_bill_lists(admin_client):
    for model in ("bags_bag", "bills_bill"):
        listing = admin_client.get(reverse(f"admin:{model}_changelist")).content.decode()
        assert f'href="{reverse(f"admin:{model}_import")}"' in listing
