"""Admin pagination for the tables that grow to millions of rows (bags, links, scans, audit log).

Django's paginator runs ``SELECT COUNT(*)`` over the whole table on every unfiltered changelist page;
on 2 million bags that is a sequential scan per click. Unfiltered, the planner's own row estimate
(``pg_class.reltuples``, kept fresh by autovacuum) is good enough to number the pages. Filtered or
searched lists are counted exactly: they are what people read the number of.
"""

from django.contrib import admin
from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

# The planner's estimate scaled to the table's current size, as the planner itself does, so a table
# that has grown since its last ANALYZE is not under-counted. -1 when never analysed.
ESTIMATE_SQL = """
SELECT CASE
    WHEN c.reltuples < 0 THEN -1
    WHEN c.relpages = 0 THEN c.reltuples
    ELSE c.reltuples / c.relpages
        * (pg_relation_size(c.oid) / current_setting('block_size')::integer)
END
FROM pg_class c
WHERE c.oid = to_regclass(%s)
"""


def estimated_row_count(queryset: QuerySet) -> int | None:
    """The planner's row estimate for the queryset's table, or None when there is none to trust."""
    connection = connections[queryset.db]
    with connection.cursor() as cursor:
        cursor.execute(ESTIMATE_SQL, [connection.ops.quote_name(queryset.model._meta.db_table)])
        row = cursor.fetchone()
    if row is None or row[0] is None or row[0] < 0:
        return None
    return int(row[0])


def is_whole_table(queryset: QuerySet) -> bool:
    """True when counting the queryset means counting every row of its table."""
    query = queryset.query
    return not (
        query.where
        or query.distinct
        or query.combinator
        or query.group_by
        or query.low_mark
        or query.high_mark is not None
    )


class EstimatedCountPaginator(Paginator):
    """Counts exactly, except an unfiltered list of a big table, which gets the planner's estimate.

    Below ``exact_below`` estimated rows the exact count is cheap and always right, so it is used.
    With an estimate the last page is not cut at the (approximate) count: it shows whatever rows
    are there, so no row is hidden by a low estimate.
    """

    exact_below: int = 5_000

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.count_is_estimate = False

    @cached_property
    def count(self) -> int:
        object_list = self.object_list
        if isinstance(object_list, QuerySet) and is_whole_table(object_list):
            estimate = estimated_row_count(object_list)
            if estimate is not None and estimate >= self.exact_below:
                self.count_is_estimate = True
                return estimate
        return super().count

    def page(self, number: int | str) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if not self.count_is_estimate and top + self.orphans >= self.count:
            top = self.count
        return self._get_page(self.object_list[bottom:top], number, self)


class BigTableAdmin(admin.ModelAdmin):
    """Admin options for tables of millions of rows: no COUNT(*) over the table, no facet counts.

    No date_hierarchy either: its year list is a DISTINCT over every row.
    """

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    # Newest first, straight off the primary key index.
    ordering = ("-pk",)
