"""The admin's import (a dry run, then confirm), run by the real background worker (tests/worker.py), and
its export button: no request reads the file; the dry run writes nothing, the confirm writes, bad files
and rows are shown on the job's page, nothing row by row, and an upload is kept only as long as needed."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from audit.choices import AuditAction
from audit.models import AuditLog
from bags.models import Bag, Link
from bills.models import Bill
from imports import jobs
from imports.choices import JobStatus
from imports.models import ImportJob, Upload
from tests import factories
from tests.imports.files import link_rows
from tests.imports.test_import_bags import FAIL_ON_ROW_500
from tests.worker import wait_for

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.usefixtures("worker")]

IMPORT = reverse("admin:bags_bag_import")
PROCESS = reverse("admin:bags_bag_process_import")


def csv_upload(rows: list[list[str]], name: str = "links.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, "".join(",".join(row) + "\n" for row in rows).encode(), content_type="text/csv")


def dry_run(client, file, url_name: str = "admin:bags_bag_import", **fields) -> tuple[ImportJob, str]:
    """Upload ``file``, let the worker run its dry run, and return the job and its page once finished."""
    queued = client.post(reverse(url_name), {"import_file": file, **fields})
    assert queued.status_code == 302, queued.content.decode()
    job = wait_for(ImportJob.objects.get(pk=int(queued.url.rstrip("/").rsplit("/", 1)[1])))
    return job, client.get(queued.url).content.decode()


def confirm(client, job: ImportJob, process: str = PROCESS) -> tuple[ImportJob, str]:
    """Press Confirm on a dry run's page; the import job and its page once finished."""
    queued = client.post(process, {"job": job.pk})
    assert queued.status_code == 302
    done = wait_for(ImportJob.objects.get(confirms=job))
    return done, client.get(queued.url).content.decode()


def test_the_dry_run_writes_nothing_and_the_confirm_writes(admin_client, admin_user):
    job, text = dry_run(admin_client, csv_upload(link_rows(2, 30)))

    assert job.status == JobStatus.DONE and job.dry_run
    assert "60 rows read: 60 to import, 0 already present, 0 with errors." in text
    assert "The import would add 2 parents, 60 children, 60 links, 2 parents now full." in text
    assert Bag.objects.count() == 0 and not AuditLog.objects.filter(action=AuditAction.BAG_IMPORT).exists()
    assert 'value="Confirm import"' in text

    done, text = confirm(admin_client, job)

    assert done.status == JobStatus.DONE and not done.dry_run
    assert "Imported: 2 parents, 60 children, 60 links, 2 parents now full." in text
    assert Link.objects.count() == 60
    assert AuditLog.objects.get(action=AuditAction.BAG_IMPORT).actor == admin_user
    # The job's process was measured by the kernel: the memory the import really took.
    assert 20_000 < done.peak_rss_kb < 300_000


def test_a_running_job_shows_its_progress_and_the_page_refreshes_itself(admin_client, admin_user):
    upload = Upload.objects.create(file_name="links.csv", size=1, uploaded_by=admin_user)
    job = ImportJob.objects.create(
        subject="bags", file_name="links.csv", upload=upload, dry_run=True, requested_by=admin_user,
        status=JobStatus.RUNNING, phase="checking", rows_read=1234, errors_so_far=5,
    )  # fmt: skip

    text = admin_client.get(reverse("admin:bags_bag_import_job", args=[job.pk])).content.decode()

    assert "Checking: 1234 rows read, 5 with errors so far." in text
    assert '<meta http-equiv="refresh" content="2">' in text
    assert "Confirm import" not in text


def test_a_job_no_worker_takes_says_a_worker_may_be_missing(admin_client, admin_user):
    job = ImportJob.objects.create(subject="bags", file_name="x.csv", dry_run=True, requested_by=admin_user)
    ImportJob.objects.filter(pk=job.pk).update(queued_at=timezone.now() - timedelta(minutes=1))

    text = admin_client.get(reverse("admin:bags_bag_import_job", args=[job.pk])).content.decode()

    assert "No worker has taken this job yet" in text


def test_an_upload_that_cannot_be_confirmed_is_not_kept(admin_client):
    dry_run(admin_client, csv_upload([["parent", "child"], ["SB00001", "=1+1"]]))
    dry_run(admin_client, SimpleUploadedFile("bags.xlsx", b"not a workbook"))

    assert Upload.objects.count() == 0


def test_a_confirmed_upload_is_removed_and_a_second_confirm_imports_nothing_more(admin_client):
    job, _ = dry_run(admin_client, csv_upload(link_rows(1, 2)))
    assert Upload.objects.count() == 1
    done, _ = confirm(admin_client, job)
    assert Upload.objects.count() == 0

    again = admin_client.post(PROCESS, {"job": job.pk})

    assert again.url == reverse("admin:bags_bag_import_job", args=[done.pk])  # the import already made
    assert ImportJob.objects.filter(confirms=job).count() == 1
    assert Link.objects.count() == 2
    assert AuditLog.objects.filter(action=AuditAction.BAG_IMPORT).count() == 1
    page = admin_client.get(reverse("admin:bags_bag_import_job", args=[job.pk])).content.decode()
    assert "This dry run was confirmed" in page and "Confirm import" not in page


def test_an_unconfirmed_upload_is_forgotten_after_a_day(admin_client):
    old, _ = dry_run(admin_client, csv_upload(link_rows(1, 1)))
    recent, _ = dry_run(admin_client, csv_upload(link_rows(1, 1)))
    Upload.objects.filter(pk=old.upload_id).update(uploaded_at=timezone.now() - timedelta(days=2))

    assert jobs.tidy()["uploads_deleted"] == 1

    assert list(Upload.objects.values_list("pk", flat=True)) == [recent.upload_id]
    done = admin_client.post(PROCESS, {"job": old.pk}, follow=True).content.decode()
    assert escape(jobs.UPLOAD_GONE) in done
    assert Bag.objects.count() == 0


def test_no_request_reads_the_file(admin_client):
    """The upload and the confirm are a handful of statements, however long the file: the worker reads it."""
    with CaptureQueriesContext(connection) as upload_queries:
        queued = admin_client.post(IMPORT, {"import_file": csv_upload(link_rows(20, 30))})
    job = wait_for(ImportJob.objects.get())
    with CaptureQueriesContext(connection) as confirm_queries:
        admin_client.post(PROCESS, {"job": job.pk})
    wait_for(ImportJob.objects.get(confirms=job))

    assert queued.status_code == 302
    assert Link.objects.count() == 600
    assert not any(
        "bags_bag" in query["sql"] for query in upload_queries.captured_queries + confirm_queries.captured_queries
    )
    assert len(upload_queries) < 20 and len(confirm_queries) < 20


def test_bad_rows_are_listed_and_no_confirm_is_offered(admin_client):
    rows = [["parent", "child"], ["SB00001", "CH000001"], ["SB00001", "=1+1"]]

    _, text = dry_run(admin_client, csv_upload(rows))

    assert "formula" in text and "The child cell holds a formula (=1+1)" in text
    assert "Confirm import" not in text
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

    _, text = dry_run(admin_client, csv_upload(rows), url_name)

    assert listed in text
    assert "Confirm import" not in text
    assert (Bag.objects.count(), Bill.objects.count()) == before


def test_a_repeat_import_in_the_admin_changes_nothing(admin_client):
    first, _ = dry_run(admin_client, csv_upload(link_rows(1, 3)))
    confirm(admin_client, first)
    links = sorted(Link.objects.values_list("parent__qr_id", "child__qr_id", "created_at"))

    again, text = dry_run(admin_client, csv_upload(link_rows(1, 3)))
    confirm(admin_client, again)

    assert "3 rows read: 0 to import, 3 already present, 0 with errors." in text
    assert sorted(Link.objects.values_list("parent__qr_id", "child__qr_id", "created_at")) == links
    assert Bag.objects.get(qr_id="SB00001").child_count == 3


def test_rows_gone_bad_between_the_dry_run_and_the_confirm_are_named(admin_client):
    job, _ = dry_run(admin_client, csv_upload(link_rows(1, 2)))
    factories.link(factories.make_parent("SB00090"), factories.make_child("CH000002"))  # a scan meanwhile

    _, text = confirm(admin_client, job)

    assert "CH000002 is already in parent SB00090; it was not put into SB00001." in text
    assert "2 rows read: 1 to import, 0 already present, 1 with errors." in text
    assert "Nothing was written" in text
    assert not Bag.objects.filter(qr_id="SB00001").exists()


@pytest.fixture
def failing_row_500():
    with connection.cursor() as cursor:
        cursor.execute(FAIL_ON_ROW_500)
    yield
    # The tests here commit: the trigger would outlive the test.
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER test_fail_on_row_500 ON bags_link; DROP FUNCTION test_fail_on_row_500()")


def test_a_database_error_on_confirm_leaves_the_database_as_it_was_and_says_so(admin_client, failing_row_500):
    job, text = dry_run(admin_client, csv_upload(link_rows(20, 30)))
    assert "injected failure" in text  # the dry run writes too (then rolls back): it finds it first

    dropped = ImportJob.objects.get(pk=job.pk)
    assert dropped.status == JobStatus.REFUSED
    assert "The database refused the import, so nothing was written: injected failure" in text
    assert (Bag.objects.count(), Link.objects.count()) == (0, 0)
    assert not AuditLog.objects.filter(action=AuditAction.BAG_IMPORT).exists()
    assert Upload.objects.count() == 0


def test_the_good_rows_can_be_imported_when_asked(admin_client):
    rows = [["parent", "child"], ["SB00001", "CH000001"], ["SB00001", "x"]]

    job, _ = dry_run(admin_client, csv_upload(rows), skip_invalid="on")
    confirm(admin_client, job)

    assert list(Link.objects.values_list("child__qr_id", flat=True)) == ["CH000001"]


def test_a_bad_file_is_refused_on_the_page(admin_client):
    job, text = dry_run(admin_client, SimpleUploadedFile("bags.xlsx", b"not a workbook"))

    assert job.status == JobStatus.REFUSED
    assert "the file was not imported" in text
    assert "&#x27;bags.xlsx&#x27; is not really an Excel workbook (.xlsx)." in text
    assert "Confirm import" not in text


def test_an_upload_over_the_size_cap_is_refused(admin_client, settings):
    settings.IMPORT_MAX_UPLOAD_MB = 0

    text = admin_client.post(IMPORT, {"import_file": csv_upload(link_rows(1, 1))}).content.decode()

    assert "The file is larger than 0 MB; import it with manage.py on the server." in text
    assert (Upload.objects.count(), ImportJob.objects.count()) == (0, 0)


def test_bills_import_in_the_admin(admin_client):
    factories.make_parent("SB00001")
    rows = [
        ["bill_number", "customer", "date", "expected_parents", "parent"],
        ["INV-1", "Jaipur", "2026-11-20", "1", "SB00001"],
    ]
    job, _ = dry_run(admin_client, csv_upload(rows, "bills.csv"), "admin:bills_bill_import")
    assert Bill.objects.count() == 0

    confirm(admin_client, job, reverse("admin:bills_bill_process_import"))

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


@pytest.mark.parametrize("job_field", ["../../etc/passwd", "", "0", "99999999"])
def test_a_confirm_naming_no_dry_run_is_refused_and_changes_nothing(admin_client, job_field):
    dry_run(admin_client, csv_upload(link_rows(1, 2)))

    done = admin_client.post(PROCESS, {"job": job_field}, follow=True)

    assert done.status_code == 200
    assert "This confirmation was not made by the import page." in done.content.decode()
    assert Bag.objects.count() == 0
    assert ImportJob.objects.count() == 1


def test_a_bill_dry_run_cannot_be_confirmed_as_a_bag_import(admin_client):
    job, _ = dry_run(admin_client, csv_upload([["bill_number", "customer", "date", "expected_parents", "parent"],
                                               ["INV-1", "Jaipur", "2026-11-20", "1", ""]], "b.csv"),
                     "admin:bills_bill_import")  # fmt: skip

    done = admin_client.post(PROCESS, {"job": job.pk}, follow=True)

    assert "This confirmation was not made by the import page." in done.content.decode()
    assert admin_client.get(reverse("admin:bags_bag_import_job", args=[job.pk])).status_code == 404


def test_the_import_button_is_on_the_bag_and_bill_lists(admin_client):
    for model in ("bags_bag", "bills_bill"):
        listing = admin_client.get(reverse(f"admin:{model}_changelist")).content.decode()
        assert f'href="{reverse(f"admin:{model}_import")}"' in listing


def test_the_import_jobs_are_listed_with_a_link_to_each_page(admin_client):
    job, _ = dry_run(admin_client, csv_upload(link_rows(1, 2)))

    listing = admin_client.get(reverse("admin:imports_importjob_changelist")).content.decode()

    assert f'href="{reverse("admin:bags_bag_import_job", args=[job.pk])}"' in listing
    assert admin_client.get(reverse("admin:imports_importjob_change", args=[job.pk])).status_code == 200
    assert admin_client.post(reverse("admin:imports_importjob_delete", args=[job.pk])).status_code == 403


def test_a_dry_run_refusing_every_row_offers_no_confirm_even_for_the_good_rows(admin_client):
    _job, text = dry_run(admin_client, csv_upload([["parent", "child"], ["SB00001", "x"]]), skip_invalid="on")

    assert "Nothing was written: every row was refused (dry run)." in text
    assert "Confirm import" not in text
    assert Upload.objects.count() == 0
