"""The lists a reader sorts by a column (the bill list, the return ticket list): the sort values a search
form accepts, the order they put a queryset in, and the column headers' links.

A sort is a key of the list's SORTS, '-' first for descending: the same words in the query string, the
API's ``sort`` parameter and the headers, so a link copied from the page and an API call sort alike.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models
from django.db.models import QuerySet


def sort_choices(sorts: Iterable[str]) -> list[tuple[str, str]]:
    """Every key ascending, then every key descending: a search form's ``sort`` choices."""
    keys = list(sorts)
    return [(key, key) for key in keys] + [(f"-{key}", f"-{key}") for key in keys]


def sorted_by(queryset: QuerySet, sorts: Mapping[str, Any], sort: str, *, default: str) -> QuerySet:
    """``queryset`` in the order of ``sort``: one of ``sorts`` (a field name or an expression), '-' first for
    descending; a key not in ``sorts`` is ``default``, descending (newest first)."""
    name = sort.lstrip("-")
    descending = sort.startswith("-") or name not in sorts
    key = sorts.get(name, sorts[default])
    expression = models.F(key) if isinstance(key, str) else key
    ordered = expression.desc() if descending else expression.asc()
    # The primary key breaks ties, so a page boundary never shows a row twice or skips one.
    return queryset.order_by(ordered, "-pk" if descending else "pk")


def sort_columns(columns: Iterable[tuple[str, str]], current: str) -> list[dict[str, Any]]:
    """Each sortable column's (key, label) as its header link: ascending first, descending if it is already
    sorted ascending; ``state`` is how it is sorted now ('asc', 'desc' or '')."""
    links = []
    for key, label in columns:
        state = "asc" if current == key else "desc" if current == f"-{key}" else ""
        links.append({"label": label, "sort": f"-{key}" if state == "asc" else key, "state": state})
    return links
