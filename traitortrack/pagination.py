"""Keyset pagination for lists that may run over millions of rows (the search page).

A page is the next ``size`` rows, newest first, whose primary key is below the last one shown: one index
range, whatever the page number, and no ``COUNT(*)`` (on 2 million bags a count alone is a full scan).
So there are "next page" links and no page numbers.
"""

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet


@dataclass(frozen=True)
class KeysetPage:
    rows: list[Any]
    # The ``before`` of the next page, None on the last one.
    next_before: int | None


def keyset_page(queryset: QuerySet, *, before: int | None, size: int) -> KeysetPage:
    """The ``size`` rows of ``queryset`` (any order given is replaced by newest first, by primary key)
    with a primary key below ``before`` (all when None). One query: a row more than shown says whether
    there is a next page."""
    if before is not None:
        queryset = queryset.filter(pk__lt=before)
    rows = list(queryset.order_by("-pk")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return KeysetPage(rows, _pk(rows[-1]) if more else None)


def _pk(row: Any) -> int:
    return row["pk"] if isinstance(row, dict) else row.pk
