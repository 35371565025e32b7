"""Test data makers, in one place. Plain functions over the ORM: no mocks, real rows in PostgreSQL."""

from itertools import count

from axes.models import AccessAttempt
from django.utils import timezone

from accounts.models import DispatchArea, Role, User
from bags import qr
from bags.models import Bag, BagKind, Link, Product
from bills.models import Bill, BillBag, BillStatus
from labels.models import Printer
from returns.models import ReturnTicket
from returns.services import create_ticket

_serial = count(1)

# The parent formats of the two products the data migration creates, for tests that need no database.
MUSTARD = qr.ParentFormat("mustard", "Mustard", "SB", 5)
MOONG = qr.ParentFormat("moong", "Moong", "M444-", 5)

PASSWORD = "correct-horse-battery-staple"


def product(code: str = "mustard") -> Product:
    """The products come from the data migration (mustard SB, moong M444-)."""
    return Product.objects.get(code=code)


def make_area(name: str | None = None, **fields) -> DispatchArea:
    n = next(_serial)
    return DispatchArea.objects.create(name=name or f"Area {n}", code=f"area-{n}", **fields)


def make_user(username: str | None = None, *, role: str = Role.DISPATCHER, area: DispatchArea | None = None) -> User:
    username = username or f"user{next(_serial)}"
    if role == Role.DISPATCHER and area is None:
        area = make_area()
    return User.objects.create_user(
        username=username,
        password=PASSWORD,
        role=role,
        dispatch_area=area,
        is_staff=role == Role.ADMIN,
        is_superuser=role == Role.ADMIN,
    )


def make_parent(qr_id: str | None = None, *, product_code: str = "mustard", **fields) -> Bag:
    prod = product(product_code)
    qr_id = qr_id or f"{prod.parent_prefix}{next(_serial):0{prod.parent_digits}d}"
    return Bag.objects.create(qr_id=qr_id, kind=BagKind.PARENT, product=prod, **fields)


def make_child(qr_id: str | None = None, **fields) -> Bag:
    return Bag.objects.create(qr_id=qr_id or f"C{next(_serial):07d}", kind=BagKind.CHILD, **fields)


def link(parent: Bag, child: Bag) -> Link:
    """The link row (its trigger counts it into the parent's child_count). The child's area is left as it was
    made (the scan service moves the child to the parent's)."""
    return Link.objects.create(parent=parent, child=child)


def make_bill(created_by: User, *, bill_number: str | None = None, expected_parents: int = 10, **fields) -> Bill:
    return Bill.objects.create(
        bill_number=bill_number or f"BILL-{next(_serial)}",
        customer=fields.pop("customer", "Test customer"),
        product=fields.pop("product", None) or product(),
        expected_parents=expected_parents,
        created_by=created_by,
        **fields,
    )


def put_on_bill(bill: Bill, parent: Bag) -> BillBag:
    return BillBag.objects.create(bill=bill, parent_bag=parent)


def finalise(bill: Bill) -> Bill:
    """The bill as bills.services.finalise_bill leaves it (that service is durable: it cannot run inside a
    test's transaction): its parents frozen, its status finalised."""
    BillBag.objects.freeze(bill.pk)
    Bill.objects.filter(pk=bill.pk).update(
        status=BillStatus.FINALISED,
        finalised_at=timezone.now(),
        frozen_full_parent_weight_kg=bill.product.full_parent_weight_kg,
    )
    bill.refresh_from_db()
    return bill


def make_lockout(username: str = "someone", ip_address: str = "10.0.0.9") -> AccessAttempt:
    """A django-axes failed-login record, as a wrong password leaves it (an admin unlocks by deleting it)."""
    return AccessAttempt.objects.create(
        username=username,
        ip_address=ip_address,
        user_agent="",
        http_accept="",
        path_info="/accounts/login/",
        get_data="",
        post_data="",
        failures_since_start=1,
    )


def make_return_ticket(created_by: User, *, source: str = "Test customer") -> ReturnTicket:
    """A draft return ticket, numbered as the service numbers it."""
    return create_ticket(user=created_by, source=source).ticket


def make_printer(name: str = "Bay 1 Zebra", *, host: str = "127.0.0.1", port: int = 9100, **fields) -> Printer:
    return Printer.objects.create(name=name, host=host, port=port, **fields)
