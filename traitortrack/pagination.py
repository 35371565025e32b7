"""Keyset pagination for lists that may run over millions of rows (the search page).

A page is the next ``size`` rows after the last one shown, by an order an index serves: one index range,
whatever the page number, and no ``COUNT(*)`` (on 2 million bags a count alone is a full scan). So there
are "next page" links and no page numbers. ``after`` is the last row's key as the page link carries it.
"""

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet


@dataclass(frozen=True)
class KeysetPage:
    rows: list[Any]
    # The ``after`` of the next page, None on the last one.
    next_after: str | None


def page_of(rows: list[Any], size: int, key) -> KeysetPage:
    """The first ``size`` of ``rows`` (fetched one more than shown, which says whether there is a next page)."""
    more = len(rows) > size
    rows = rows[:size]
    return KeysetPage(rows, str(key(rows[-1])) if more else None)


def keyset_page(queryset: QuerySet, *, after: str | None, size: int) -> KeysetPage:
    """The ``size`` rows of ``queryset`` after ``after``, newest first by primary key (any order given is
    replaced); an ``after`` that is not a key is the first page. One query."""
    if after and after.isdigit():
        queryset = queryset.filter(pk__lt=int(after))
    rows = list(queryset.order_by("-pk")[: size + 1])
    return page_of(rows, size, lambda row: row["pk"] if isinstance(row, dict) else row.pk)
