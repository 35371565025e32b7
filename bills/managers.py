"""Bill reads: the bill view in one statement (raw SQL, the biller's hot path), the bill list's search,
and the finalise snapshot.

``BILL_VIEW_SQL`` returns one row per parent on the bill (one row with no parent for an empty bill), each
carrying the bill's columns, so a bill of any size costs one query. A draft shows its parents as they are
now; a finalised bill shows the snapshot taken when it was finalised (``BillBag.frozen_*`` and
``Bill.frozen_full_parent_weight_kg``), so later scans or product changes cannot alter it. A parent returned on
a return ticket stays in that snapshot, marked with the ticket's number and time (``returned_on``, ``returned_at``).
tests/bills/test_managers.py compares its answer with the plain ORM answer on the same data.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.contrib.postgres.aggregates import ArrayAgg
from django.contrib.postgres.fields import ArrayField
from django.db import connection, models
from django.db.models import Count, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, Upper

from bags import qr
from bags.models import Bag, Link, Product
from bills import weights
from bills.choices import BillStatus
from traitortrack.sorting import sorted_by

# The child codes are only gathered when asked (the manifest and the page do without them), and only for a
# draft: a finalised bill has them in its snapshot.
BILL_VIEW_SQL = f"""
WITH bill AS (
    SELECT id, bill_number, customer, bill_date, status, expected_parents, notes, product_id,
           frozen_full_parent_weight_kg, created_by_id, created_at, updated_at, finalised_at, finalised_by_id,
           status = {BillStatus.FINALISED.literal} AS frozen
    FROM bills_bill
    WHERE id = %(bill_id)s
), entry AS (
    SELECT id, parent_bag_id, added_at, added_by_id,
           frozen_child_count, frozen_capacity, frozen_child_weight_kg, frozen_child_codes, returned_at, returned_on
    FROM bills_billbag
    WHERE bill_id = %(bill_id)s
), children AS (
    SELECT link.parent_id, array_agg(child.qr_id ORDER BY link.created_at, link.id) AS codes
    FROM bags_link AS link
    JOIN bags_bag AS child ON child.id = link.child_id
    WHERE %(with_children)s
      AND NOT (SELECT frozen FROM bill)
      AND link.parent_id IN (SELECT parent_bag_id FROM entry)
    GROUP BY link.parent_id
)
SELECT bill.id, bill.bill_number, bill.customer, bill.bill_date, bill.status, bill.expected_parents, bill.notes,
       bill.product_id, bill_product.name, bill_product.capacity, bill_product.child_weight_kg,
       bill.frozen_full_parent_weight_kg,
       creator.username, bill.created_at, bill.updated_at, bill.finalised_at, finaliser.username,
       bag.qr_id, parent_product.name,
       held.child_count, held.capacity, bags_parent_full(held.child_count, held.capacity),
       CASE WHEN bill.frozen THEN entry.frozen_child_weight_kg ELSE parent_product.child_weight_kg END,
       entry.added_at, adder.username,
       CASE
           WHEN NOT %(with_children)s THEN NULL
           WHEN bill.frozen THEN entry.frozen_child_codes
           ELSE COALESCE(children.codes, '{{}}')
       END,
       entry.returned_at, entry.returned_on
FROM bill
JOIN bags_product AS bill_product ON bill_product.id = bill.product_id
LEFT JOIN accounts_user AS creator ON creator.id = bill.created_by_id
LEFT JOIN accounts_user AS finaliser ON finaliser.id = bill.finalised_by_id
LEFT JOIN entry ON true
LEFT JOIN bags_bag AS bag ON bag.id = entry.parent_bag_id
LEFT JOIN bags_product AS parent_product ON parent_product.id = bag.product_id
LEFT JOIN accounts_user AS adder ON adder.id = entry.added_by_id
LEFT JOIN children ON children.parent_id = entry.parent_bag_id
LEFT JOIN LATERAL (
    SELECT CASE WHEN bill.frozen THEN entry.frozen_child_count ELSE bag.child_count END AS child_count,
           CASE WHEN bill.frozen THEN entry.frozen_capacity ELSE parent_product.capacity END AS capacity
) AS held ON true
ORDER BY entry.added_at, entry.id
"""  # noqa: S608 (only an enum literal is put in; every value is bound)


@dataclass(frozen=True)
class BillParent:
    """A parent bag on a bill, as the bill shows it (live for a draft, the snapshot once finalised)."""

    qr_id: str
    product: str
    child_count: int
    capacity: int
    is_full: bool  # bags_parent_full of the count and capacity shown (the frozen ones on a finalised bill)
    child_weight_kg: Decimal
    added_at: datetime
    added_by: str | None
    child_codes: tuple[str, ...] | None = None
    returned_at: datetime | None = None
    returned_on: str = ""  # the return ticket's number once the parent came back; the snapshot is kept

    @property
    def weight_kg(self) -> Decimal:
        return weights.parent_weight_kg(self.child_count, self.child_weight_kg)


@dataclass(frozen=True)
class BillView:
    """A bill with its parents and computed weights: what the bill page, the manifest, the exports and the
    API show."""

    id: int
    bill_number: str
    customer: str
    bill_date: date
    status: str
    expected_parents: int
    notes: str
    product_id: int
    product: str
    full_parent_weight_kg: Decimal
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    finalised_at: datetime | None
    finalised_by: str | None
    parents: tuple[BillParent, ...]

    @property
    def returned_count(self) -> int:
        return sum(1 for parent in self.parents if parent.returned_on)

    @property
    def is_finalised(self) -> bool:
        return self.status == BillStatus.FINALISED

    @property
    def parent_count(self) -> int:
        return len(self.parents)

    @property
    def child_count(self) -> int:
        return sum(parent.child_count for parent in self.parents)

    @property
    def actual_weight_kg(self) -> Decimal:
        return sum((parent.weight_kg for parent in self.parents), start=Decimal("0.000"))

    @property
    def expected_weight_kg(self) -> Decimal:
        return weights.expected_weight_kg(self.expected_parents, self.full_parent_weight_kg)

    @property
    def difference_kg(self) -> Decimal:
        """Actual minus expected: negative when the bill is short."""
        return self.actual_weight_kg - self.expected_weight_kg

    @property
    def weight_state(self) -> str:
        """'short', 'exact' or 'over': how the page colours the difference."""
        difference = self.difference_kg
        return "short" if difference < 0 else "over" if difference > 0 else "exact"


def _parent(row: tuple) -> BillParent | None:
    qr_id, product, child_count, capacity, is_full, child_weight_kg, added_at, added_by, codes, returned_at, on = row
    if qr_id is None:  # the one row of a bill with no parents
        return None
    return BillParent(
        qr_id=qr_id,
        product=product,
        child_count=child_count,
        capacity=capacity,
        is_full=is_full,
        child_weight_kg=child_weight_kg,
        added_at=added_at,
        added_by=added_by,
        child_codes=tuple(codes) if codes is not None else None,
        returned_at=returned_at,
        returned_on=on or "",
    )


class BillQuerySet(models.QuerySet):
    SORTS = {
        "bill_number": Upper("bill_number"),
        "customer": Upper("customer"),
        "bill_date": "bill_date",
        "status": "status",
        "parents": "parent_count",
        "created_at": "created_at",
    }

    def with_parent_count(self) -> "BillQuerySet":
        bill_bag = self.model._meta.get_field("bill_bags").related_model
        on_bill = (
            bill_bag.objects.filter(bill=OuterRef("pk")).order_by().values("bill").annotate(n=Count("pk")).values("n")
        )
        return self.annotate(parent_count=Coalesce(Subquery(on_bill), Value(0)))

    def search(
        self,
        *,
        text: str = "",
        status: str = "",
        date_from: date | None = None,
        date_to: date | None = None,
        product: Product | None = None,
        sort: str = "-bill_date",
    ) -> "BillQuerySet":
        """Bills whose number or customer contains ``text`` (any case), of a status and product, dated within
        the range (both ends included), sorted by one of SORTS (a leading '-' for descending; newest first
        otherwise)."""
        bills = self.select_related("product").with_parent_count()
        text = text.strip()
        if text:
            bills = bills.filter(Q(bill_number__icontains=text) | Q(customer__icontains=text))
        if status:
            bills = bills.filter(status=status)
        if product is not None:
            bills = bills.filter(product=product)
        if date_from:
            bills = bills.filter(bill_date__gte=date_from)
        if date_to:
            bills = bills.filter(bill_date__lte=date_to)
        return sorted_by(bills, self.SORTS, sort, default="bill_date")


class BillManager(models.Manager.from_queryset(BillQuerySet)):
    def bill_view(self, bill_id: int, *, with_children: bool = False) -> BillView | None:
        """The bill, its parents with their child counts and weights (and child codes if asked), in one
        query; None if there is no such bill."""
        with connection.cursor() as cursor:
            cursor.execute(BILL_VIEW_SQL, {"bill_id": bill_id, "with_children": with_children})
            rows = cursor.fetchall()
        if not rows:
            return None
        first = rows[0]
        (
            pk,
            bill_number,
            customer,
            bill_date,
            status,
            expected_parents,
            notes,
            product_id,
            product_name,
            capacity,
            child_weight_kg,
            frozen_full_parent_weight_kg,
            created_by,
            created_at,
            updated_at,
            finalised_at,
            finalised_by,
        ) = first[:17]
        if status == BillStatus.FINALISED:
            full_parent_weight_kg = frozen_full_parent_weight_kg
        else:
            full_parent_weight_kg = Product(capacity=capacity, child_weight_kg=child_weight_kg).full_parent_weight_kg
        parents = tuple(parent for parent in (_parent(row[17:]) for row in rows) if parent is not None)
        return BillView(
            id=pk,
            bill_number=bill_number,
            customer=customer,
            bill_date=bill_date,
            status=status,
            expected_parents=expected_parents,
            notes=notes,
            product_id=product_id,
            product=product_name,
            full_parent_weight_kg=full_parent_weight_kg,
            created_by=created_by,
            created_at=created_at,
            updated_at=updated_at,
            finalised_at=finalised_at,
            finalised_by=finalised_by,
            parents=parents,
        )


class BillBagQuerySet(models.QuerySet):
    def current(self) -> "BillBagQuerySet":
        """The entries that hold their parent now: a returned parent's entry stays on its bill, marked."""
        return self.filter(returned_at__isnull=True)

    def freeze(self, bill_id: int) -> int:
        """Snapshot every parent on the bill: child count, capacity, child weight and child codes, read in
        one statement so they agree with each other. Returns the number of parents frozen."""
        bag = Bag.objects.filter(pk=OuterRef("parent_bag_id"))
        codes = (
            Link.objects.filter(parent_id=OuterRef("parent_bag_id"))
            .order_by()
            .values("parent_id")
            .annotate(codes=ArrayAgg("child__qr_id", order_by=("created_at", "pk")))
            .values("codes")
        )
        no_codes = Value([], output_field=ArrayField(models.CharField(max_length=qr.MAX_LENGTH)))
        return self.filter(bill_id=bill_id).update(
            frozen_child_count=Subquery(bag.values("child_count")),
            frozen_capacity=Subquery(bag.values("product__capacity")),
            frozen_child_weight_kg=Subquery(bag.values("product__child_weight_kg")),
            frozen_child_codes=Coalesce(Subquery(codes), no_codes),
        )

    def thaw(self, bill_id: int) -> int:
        """Drop the bill's snapshot (reopening): the bill shows its parents as they are now again."""
        return self.filter(bill_id=bill_id).update(
            frozen_child_count=None, frozen_capacity=None, frozen_child_weight_kg=None, frozen_child_codes=None
        )
