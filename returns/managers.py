"""Return ticket reads: the ticket list's search and a ticket with its parents (a few hundred rows at most,
so the ORM with its joins made up front; the query counts are pinned in tests/returns/test_views.py)."""

from dataclasses import dataclass
from datetime import date, datetime

from django.db import models
from django.db.models import Count, Q
from django.db.models.functions import Upper

from bags.models import Bag


@dataclass(frozen=True)
class TicketParent:
    """A parent on a ticket, as the ticket shows it: its bag as it is now (the bag may be gone: its code
    and bill were copied onto the entry)."""

    qr_id: str
    product: str
    child_count: int | None
    bill_number: str
    added_at: datetime
    added_by: str | None


class ReturnTicketQuerySet(models.QuerySet):
    SORTS = {
        "number": "number",
        "source": Upper("source"),
        "status": "status",
        "parents": "parent_count",
        "created_at": "created_at",
    }

    def search(
        self,
        *,
        text: str = "",
        status: str = "",
        date_from: date | None = None,
        date_to: date | None = None,
        sort: str = "-created_at",
    ) -> "ReturnTicketQuerySet":
        """Tickets whose number, source or one of whose parents' codes contains ``text`` (any case), of a
        status, made on a local day within the range (both ends included), sorted by one of SORTS (a leading
        '-' for descending; newest first otherwise)."""
        tickets = self.select_related("created_by").annotate(parent_count=Count("entries"))
        text = text.strip()
        if text:
            tickets = tickets.filter(
                Q(number__icontains=text)
                | Q(source__icontains=text)
                | Q(pk__in=self._entries().filter(parent_qr=text.upper()).values("ticket"))
            )
        if status:
            tickets = tickets.filter(status=status)
        if date_from:
            tickets = tickets.filter(day__gte=date_from)
        if date_to:
            tickets = tickets.filter(day__lte=date_to)
        name = sort.lstrip("-")
        descending = sort.startswith("-") or name not in self.SORTS
        key = self.SORTS.get(name, self.SORTS["created_at"])
        expression = models.F(key) if isinstance(key, str) else key
        ordered = expression.desc() if descending else expression.asc()
        # The primary key breaks ties, so a page boundary never shows a ticket twice or skips one.
        return tickets.order_by(ordered, "-pk" if descending else "pk")

    def _entries(self) -> models.QuerySet:
        return self.model.entries.rel.related_model.objects.all()

    def parents(self, ticket_id: int) -> list[TicketParent]:
        """The ticket's parents in scan order, in two queries (the entries, then their bags)."""
        entries = list(
            self._entries().filter(ticket_id=ticket_id).select_related("added_by").order_by("added_at", "pk")
        )
        bags = Bag.objects.filter(pk__in=[entry.parent_bag_id for entry in entries]).select_related("product")
        by_id = {bag.pk: bag for bag in bags}
        parents = []
        for entry in entries:
            bag = by_id.get(entry.parent_bag_id)
            parents.append(
                TicketParent(
                    qr_id=entry.parent_qr,
                    product=bag.product.name if bag is not None and bag.product_id else "",
                    child_count=bag.child_count if bag is not None else None,
                    bill_number=entry.bill_number,
                    added_at=entry.added_at,
                    added_by=entry.added_by.username if entry.added_by else None,
                )
            )
        return parents
