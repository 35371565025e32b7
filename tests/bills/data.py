"""Bills with parents and children, made in bulk (a bill of 50 parents x 30 children is 1,500 children)."""

from bags.models import Bag, BagKind, Link
from bills.models import Bill, BillBag
from tests import factories


def fill(parent: Bag, children: int, *, prefix: str | None = None) -> list[str]:
    """Link ``children`` new child bags into ``parent`` (the links' trigger counts them)."""
    prefix = prefix or f"K{parent.pk:06d}"
    made = Bag.objects.bulk_create([Bag(qr_id=f"{prefix}{n:04d}", kind=BagKind.CHILD) for n in range(1, children + 1)])
    Link.objects.bulk_create([Link(parent=parent, child=child) for child in made])
    parent.refresh_from_db()
    return [child.qr_id for child in made]


def parent_with(children: int, qr_id: str | None = None, *, product_code: str = "mustard") -> Bag:
    parent = factories.make_parent(qr_id, product_code=product_code)
    fill(parent, children)
    return parent


def big_bill(created_by, *, parents: int = 50, children: int = 30, **fields) -> Bill:
    """A bill of ``parents`` mustard parents, each holding ``children``."""
    bill = factories.make_bill(created_by, expected_parents=fields.pop("expected_parents", parents), **fields)
    made = Bag.objects.bulk_create(
        [Bag(qr_id=f"SB{n:05d}", kind=BagKind.PARENT, product=factories.product()) for n in range(1, parents + 1)]
    )
    Bag.objects.bulk_create(
        [Bag(qr_id=f"B{p:05d}C{c:04d}", kind=BagKind.CHILD) for p in range(1, parents + 1) for c in range(children)]
    )
    child_ids = dict(Bag.objects.filter(kind=BagKind.CHILD, qr_id__startswith="B").values_list("qr_id", "pk"))
    Link.objects.bulk_create(
        [
            Link(parent=parent, child_id=child_ids[f"B{p:05d}C{c:04d}"])
            for p, parent in enumerate(made, start=1)
            for c in range(children)
        ]
    )
    BillBag.objects.bulk_create([BillBag(bill=bill, parent_bag=parent) for parent in made])
    return bill
