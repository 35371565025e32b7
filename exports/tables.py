"""What can be exported: bags, links, scans, bills and the audit log, each a set of columns over a queryset.

The rows are read through a server-side cursor inside a transaction, so PostgreSQL hands them over a chunk
at a time (in autocommit Django would declare the cursor WITH HOLD, which makes the server materialise the
whole result before the first row, and which PgBouncer's transaction pooling cannot carry from one
transaction to the next). The cursor is asked for by name (``ValuesListIterable(chunked_fetch=True)``, what
``.iterator()`` does), so it stays when DISABLE_SERVER_SIDE_CURSORS turns off Django's others behind
PgBouncer: inside one transaction it stays on one server connection. Each table is ordered by an
indexed column: the primary key, or created_at for scans and the audit log, whose date ranges use their
created_at indexes.

That cursor holds a pooled connection for as long as the download lasts (a slow client's included), so a
worker runs at most EXPORT_MAX_RUNNING table exports at once; one more is refused (ExportsBusy, 503)
rather than leave the scans without connections.
"""

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models.query import ValuesListIterable
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

from audit.choices import AuditAction
from audit.models import AuditLog
from audit.services import record
from bags.models import Bag, Link
from bills.models import Bill
from exports.error_codes import ExportRefusal
from scanning.models import Scan
from traitortrack import spreadsheets
from traitortrack.errors import Refused
from traitortrack.forms import local_day_start
from traitortrack.spreadsheets import Sheet

# Rows a FETCH from the server-side cursor brings: psycopg turns them all into Python values in one go (its
# timestamptz loader is Python code), and a gevent worker runs nothing else meanwhile. At 2,000 that was tens
# of milliseconds at a time, the longest stretches an export held up the scans for (bench/exports.py).
CHUNK_ROWS = 250
RETRY_AFTER_SECONDS = 60


class ExportsBusy(Refused):
    def __init__(self) -> None:
        super().__init__(
            ExportRefusal.EXPORTS_BUSY,
            f"{settings.EXPORT_MAX_RUNNING} exports are being downloaded right now, the most at once; try again "
            "in a minute.",
            status=503,
        )


class _Running:
    """The table exports this process is streaming (gevent-patched, the lock is a greenlet's)."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def take(self) -> Callable[[], None]:
        """One more, or ExportsBusy; returns what gives the place back (once, however often called)."""
        with self.lock:
            if self.count >= settings.EXPORT_MAX_RUNNING:
                raise ExportsBusy()
            self.count += 1
        given_back = threading.Event()

        def give_back() -> None:
            with self.lock:
                if not given_back.is_set():
                    given_back.set()
                    self.count -= 1

        return give_back


running = _Running()


@dataclass(frozen=True)
class Table:
    name: str  # in URLs and file names
    title: str
    model: type[models.Model]
    columns: tuple[tuple[str, str], ...]  # (header, values_list lookup)
    order_by: tuple[str, ...]
    date_field: str  # what a date range filters on
    admin_only: bool = False

    @property
    def header(self) -> list[str]:
        return [header for header, _ in self.columns]

    def queryset(self) -> models.QuerySet:
        queryset = self.model._default_manager.all()
        if self.model is Bill:
            queryset = queryset.with_parent_count()
        return queryset

    def rows(self, queryset: models.QuerySet) -> Iterator[tuple[Any, ...]]:
        """The queryset's rows as these columns, a chunk at a time from a server-side cursor."""
        lookups = [lookup for _, lookup in self.columns]
        rows = queryset.order_by(*self.order_by).values_list(*lookups)
        with transaction.atomic(using=rows.db):
            yield from ValuesListIterable(rows, chunked_fetch=True, chunk_size=CHUNK_ROWS)

    def sheet(self, queryset: models.QuerySet) -> Sheet:
        return Sheet(self.title, self.header, self.rows(queryset))

    def response(self, queryset: models.QuerySet, file_format: str) -> StreamingHttpResponse:
        """The download of the queryset's rows as "csv" or "xlsx"; ExportsBusy when too many are running."""
        give_back = running.take()
        # The rows are read while the response streams, after the view: on the database the view's reads
        # go to (the replica in exports/views.py), fixed now.
        queryset = queryset.using(queryset.db)
        filename = self.filename(file_format)
        if file_format == "xlsx":
            return spreadsheets.xlsx_response([self.sheet(queryset)], filename, on_close=give_back)
        return spreadsheets.csv_response(self.sheet(queryset), filename, on_close=give_back)

    def filename(self, extension: str) -> str:
        return f"{self.name}-{timezone.localdate():%Y%m%d}.{extension}"


TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        Table(
            "bags",
            "Bags",
            Bag,
            (
                ("code", "qr_id"),
                ("kind", "kind"),
                ("product", "product__code"),
                ("area", "dispatch_area__code"),
                ("children", "child_count"),
                ("completed_at", "completed_at"),
                ("created_at", "created_at"),
                ("created_by", "created_by__username"),
            ),
            ("pk",),
            "created_at",
        ),
        Table(
            "links",
            "Links",
            Link,
            (
                ("parent", "parent__qr_id"),
                ("child", "child__qr_id"),
                ("product", "parent__product__code"),
                ("area", "parent__dispatch_area__code"),
                ("linked_at", "created_at"),
                ("linked_by", "created_by__username"),
            ),
            ("pk",),
            "created_at",
        ),
        Table(
            "scans",
            "Scans",
            Scan,
            (
                ("at", "created_at"),
                ("action", "action"),
                ("bag", "bag_qr"),
                ("parent", "parent_qr"),
                ("user", "user__username"),
                ("area", "dispatch_area__code"),
                ("client_scan_id", "client_scan_id"),
            ),
            ("created_at",),
            "created_at",
        ),
        Table(
            "bills",
            "Bills",
            Bill,
            (
                ("bill_number", "bill_number"),
                ("customer", "customer"),
                ("date", "bill_date"),
                ("status", "status"),
                ("product", "product__code"),
                ("expected_parents", "expected_parents"),
                ("parents", "parent_count"),
                ("notes", "notes"),
                ("created_by", "created_by__username"),
                ("created_at", "created_at"),
                ("finalised_at", "finalised_at"),
            ),
            ("pk",),
            "bill_date",
        ),
        Table(
            "audit",
            "Audit log",
            AuditLog,
            (
                ("at", "created_at"),
                ("user", "actor_username"),
                ("action", "action"),
                ("object_type", "object_type"),
                ("object_id", "object_id"),
                ("object", "object_repr"),
                ("before", "before"),
                ("after", "after"),
                ("request_id", "request_id"),
                ("ip_address", "ip_address"),
            ),
            ("created_at",),
            "created_at",
            admin_only=True,
        ),
    )
}


def in_date_range(table: Table, queryset: models.QuerySet, first: date | None, last: date | None) -> models.QuerySet:
    """Rows from the start of ``first`` to the end of ``last`` (warehouse-local days), either end open."""
    field = table.model._meta.get_field(table.date_field)
    if isinstance(field, models.DateTimeField):
        if first is not None:
            queryset = queryset.filter(**{f"{table.date_field}__gte": local_day_start(first)})
        if last is not None:
            queryset = queryset.filter(**{f"{table.date_field}__lt": local_day_start(last + timedelta(days=1))})
        return queryset
    if first is not None:
        queryset = queryset.filter(**{f"{table.date_field}__gte": first})
    if last is not None:
        queryset = queryset.filter(**{f"{table.date_field}__lte": last})
    return queryset


def record_export(
    *, user, table: Table, file_format: str, filters: dict[str, Any], request: HttpRequest | None
) -> None:
    """Exports are audited: who took which table out, in which format, with which filters."""
    record(
        actor=user,
        action=AuditAction.TABLE_EXPORT,
        after={"table": table.name, "format": file_format, "filters": filters},
        request=request,
    )
