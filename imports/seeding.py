"""Seed data: a small demo set for a newcomer, and millions of synthetic bags for benchmarks.

Both write straight to the tables rather than through the scan services: the demo must work on a fresh
checkout, and the bulk load has to put 2 million bags in place in minutes, which only COPY can do. So
each keeps the rules the services keep (capacity, kinds) by construction, and the database's constraints
check them again; the parents' child counts are the links' trigger's to keep, as for every other writer.
"""

import random
import secrets
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction

from accounts.models import DispatchArea, Role, User
from audit.choices import AuditAction
from audit.services import record, snapshot
from bags import qr
from bags.managers import parent_full
from bags.models import Bag, BagKind, BagTotals, Link, Product
from bills.models import Bill, BillBag, BillStatus
from imports.copying import Progress, chunked, copy_rows
from scanning.models import Scan, ScanAction, ScanTally


class SeedRefused(ValueError):
    """Seeding cannot go ahead as asked; ``code`` is stable, ``message`` says what to change."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- The demo set -------------------------------------------------------------------------------------

DEMO_AREA_NAME = "Main warehouse"
DEMO_AREA_CODE = "main"
DEMO_USERS: tuple[tuple[str, str], ...] = (
    ("admin", Role.ADMIN),
    ("biller", Role.BILLER),
    ("dispatcher", Role.DISPATCHER),
)
DEMO_BILL_NUMBER = "DEMO-0001"
# High numbers, because seed_bulk hands out parent codes from the bottom of each product's range.
DEMO_PARENTS: tuple[tuple[str, str, int], ...] = (("mustard", "SB90001", 6), ("moong", "M444-90001", 4))
DEMO_CHILD_PREFIX = "DEMO"
# No 0/O, 1/l/I: a demo password is read off a terminal and typed by hand.
PASSWORD_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # noqa: S105 (characters, not a password)
PASSWORD_LENGTH = 16


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    # Set only when this run created the user: the one moment the password can be shown.
    password: str | None


@dataclass(frozen=True)
class DemoResult:
    users: list[DemoUser]
    bags_created: bool
    bags_note: str


def new_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def seed_demo() -> DemoResult:
    """One user per role, two part-filled parents with their scans, and a draft bill; never changes what exists.

    Users that already exist keep their passwords (the caller says how to reset one); the bags and the
    bill are added only if the demo bill is not there yet and none of the demo codes is taken.
    """
    with transaction.atomic():
        area, _ = DispatchArea.objects.get_or_create(name=DEMO_AREA_NAME, defaults={"code": DEMO_AREA_CODE})
        users: list[DemoUser] = []
        by_role: dict[str, User] = {}
        for username, role in DEMO_USERS:
            user = User.objects.filter(username=username).first()
            password = None
            if user is None:
                password = new_password()
                user = User.objects.create_user(
                    username=username,
                    password=password,
                    role=role,
                    dispatch_area=area if role == Role.DISPATCHER else None,
                    # The database allows staff and superuser to the admin role only.
                    is_staff=role == Role.ADMIN,
                    is_superuser=role == Role.ADMIN,
                )
                record(
                    actor=None, action=AuditAction.USER_CREATE, obj=user, after=snapshot(user, exclude=("password",))
                )
            users.append(DemoUser(user.username, user.role, password))
            by_role[role] = user
        bags_created, note = _seed_demo_bags(area, dispatcher=by_role[Role.DISPATCHER], biller=by_role[Role.BILLER])
    return DemoResult(users, bags_created, note)


def _seed_demo_bags(area: DispatchArea, *, dispatcher: User, biller: User) -> tuple[bool, str]:
    if Bill.objects.filter(bill_number__iexact=DEMO_BILL_NUMBER).exists():
        return False, f"Demo bags and bill {DEMO_BILL_NUMBER} already exist; left as they are."
    child_codes = [f"{DEMO_CHILD_PREFIX}{n:04d}" for n in range(1, sum(n for _, _, n in DEMO_PARENTS) + 1)]
    parent_codes = [code for _, code, _ in DEMO_PARENTS]
    taken = sorted(Bag.objects.filter(qr_id__in=parent_codes + child_codes).values_list("qr_id", flat=True))
    if taken:
        return False, f"Demo bags not added: the codes {', '.join(taken)} are already in use."

    bill = Bill.objects.create(
        bill_number=DEMO_BILL_NUMBER,
        customer="Demo customer, Jaipur",
        product=Product.objects.get(code=DEMO_PARENTS[0][0]),
        expected_parents=len(DEMO_PARENTS),
        status=BillStatus.DRAFT,
        notes="Made by manage.py seed_demo.",
        created_by=biller,
    )
    children = iter(child_codes)
    for product_code, parent_code, child_total in DEMO_PARENTS:
        product = Product.objects.get(code=product_code)
        parent = Bag.objects.create(
            qr_id=parent_code, kind=BagKind.PARENT, product=product, dispatch_area=area, created_by=dispatcher
        )
        _demo_scan(ScanAction.OPEN_PARENT, dispatcher, area, bag=parent, parent=parent)
        for _ in range(child_total):
            child = Bag.objects.create(
                qr_id=next(children), kind=BagKind.CHILD, dispatch_area=area, created_by=dispatcher
            )
            Link.objects.create(parent=parent, child=child, created_by=dispatcher)
            _demo_scan(ScanAction.LINK, dispatcher, area, bag=child, parent=parent)
        BillBag.objects.create(bill=bill, parent_bag=parent, added_by=biller)
    return True, (
        f"Added parents {' and '.join(parent_codes)} with {len(child_codes)} children, "
        f"and draft bill {DEMO_BILL_NUMBER} holding both."
    )


def _demo_scan(action: str, user: User, area: DispatchArea, *, bag: Bag, parent: Bag) -> Scan:
    return Scan.objects.create(
        user=user,
        action=action,
        bag=bag,
        bag_qr=bag.qr_id,
        parent=parent,
        parent_qr=parent.qr_id,
        dispatch_area=area,
    )


# --- The bulk load --------------------------------------------------------------------------------------

# Child codes are CB + 10 digits: 12 characters, far from every parent format in use (and checked against
# the products at run time), with room for 10^10 codes, so repeated runs just continue the numbering.
CHILD_PREFIX = "CB"
CHILD_DIGITS = 10
DEFAULT_PARENT_SHARE = 0.03  # 60,000 parents per 2 million bags, as in the warehouse
DEFAULT_LINKED_FRACTION = 0.9
DEFAULT_HISTORY_DAYS = 365
# The block of ids is taken under the table lock, so no other insert can take an id inside it; the
# GREATEST guards against rows inserted earlier with explicit ids above the sequence.
RESERVE_BAG_IDS_SQL = """
SELECT setval(seq, GREATEST(nextval(seq), (SELECT COALESCE(MAX(id), 0) + 1 FROM bags_bag)) + %(count)s - 1)
FROM (SELECT pg_get_serial_sequence('bags_bag', 'id')::regclass AS seq) AS s
"""
COUNT_CODES_MATCHING_SQL = "SELECT count(*) FROM bags_bag WHERE qr_id ~ %(regex)s"
# The first (taken + wanted) numbers always hold at least ``wanted`` free ones, so the series stays small.
FREE_PARENT_NUMBERS_SQL = """
SELECT n FROM generate_series(0::bigint, %(top)s::bigint) AS n
WHERE NOT EXISTS (SELECT 1 FROM bags_bag b WHERE b.qr_id = %(prefix)s || lpad(n::text, %(digits)s, '0'))
ORDER BY n
LIMIT %(wanted)s
"""
HIGHEST_CHILD_CODE_SQL = "SELECT max(qr_id) FROM bags_bag WHERE qr_id LIKE %(like)s AND qr_id ~ %(regex)s"

BAG_COLUMNS = (
    "id",
    "qr_id",
    "kind",
    "product_id",
    "dispatch_area_id",
    "created_by_id",
    "created_at",
    "updated_at",
)
LINK_COLUMNS = ("parent_id", "child_id", "created_by_id", "created_at")
SCAN_COLUMNS = ("user_id", "action", "bag_id", "bag_qr", "parent_id", "parent_qr", "dispatch_area_id", "created_at")


@dataclass(frozen=True)
class _ProductSlot:
    product_id: int
    code: str
    prefix: str
    digits: int
    capacity: int
    numbers: array  # free numbers handed to this run's parents, ascending


@dataclass
class _Plan:
    bags: int
    parents: int
    children: int
    links: int
    first_bag_id: int
    first_child_number: int
    products: list[_ProductSlot]
    parent_product: array  # per parent: index into products
    parent_number: array  # per parent: its number within its product's format
    counts: array  # per parent: children linked to it
    area_id: int | None
    user_id: int | None
    start_second: int
    span_seconds: int

    def groups(self) -> Iterator[tuple[int, int, int]]:
        """(parent index or -1, linked children, unlinked children) in row order.

        Each parent is followed by its children, so ids, codes and timestamps rise together as in real
        use, and each index on the bags takes new rows at one end instead of all over its pages.
        """
        unlinked = self.children - self.links
        if self.parents == 0:
            yield -1, 0, unlinked
            return
        share, extra = divmod(unlinked, self.parents)
        for i in range(self.parents):
            yield i, self.counts[i], share + (1 if i < extra else 0)


@dataclass(frozen=True)
class BulkResult:
    parents_by_product: dict[str, int]
    children: int
    links: int
    full_parents: int
    scans: int
    first_child_code: str | None
    last_child_code: str | None
    seconds: float

    @property
    def parents(self) -> int:
        return sum(self.parents_by_product.values())

    @property
    def bags(self) -> int:
        return self.parents + self.children

    @property
    def rows(self) -> int:
        return self.bags + self.links + self.scans


def default_parents(bags: int) -> int:
    return max(1, round(bags * DEFAULT_PARENT_SHARE)) if bags > 0 else 0


def seed_bulk(
    *,
    bags: int,
    parents: int | None = None,
    linked_fraction: float = DEFAULT_LINKED_FRACTION,
    seed: int | None = None,
    with_scans: bool = False,
    user: User | None = None,
    area: DispatchArea | None = None,
    history_days: int = DEFAULT_HISTORY_DAYS,
    progress: Progress | None = None,
) -> BulkResult:
    """Load ``bags`` synthetic bags (parents first in each group, then their children) and their links.

    Rules held: codes are new (never one already in the table), parents fit their product's format and
    are spread over the active products, no parent takes more than its product's capacity (the links'
    trigger counts each parent's children). All or nothing: one transaction, with
    the bags table locked against other writers so that the codes and ids chosen stay free.
    """
    parents = default_parents(bags) if parents is None else parents
    _check_numbers(bags=bags, parents=parents, linked_fraction=linked_fraction, history_days=history_days)
    if with_scans and user is None:
        raise SeedRefused("scans_need_user", "Scan events need a user: pass --user USERNAME with --with-scans.")
    rng = random.Random(seed)  # noqa: S311 (reproducible synthetic data, not a secret)
    started = time.monotonic()
    # Not durable: a management command is never inside another transaction, and staying nestable lets
    # the tests run inside pytest-django's per-test transaction.
    with transaction.atomic(), connection.cursor() as cursor:
        pg = cursor.cursor  # the psycopg cursor: Django's wrapper has no COPY
        # A lost commit only loses synthetic rows, and waiting for the WAL flush is pure cost here.
        pg.execute("SET LOCAL synchronous_commit = off")
        # Share row exclusive: reads go on, other writers (and a second seed_bulk) wait for our commit.
        pg.execute("LOCK TABLE bags_bag IN SHARE ROW EXCLUSIVE MODE")
        plan = _make_plan(
            pg,
            rng,
            bags=bags,
            parents=parents,
            linked_fraction=linked_fraction,
            user=user,
            area=area if area is not None else getattr(user, "dispatch_area", None),
            history_days=history_days,
        )
        scans = (plan.parents + plan.links) if with_scans else 0
        if progress is not None:
            progress.start(plan.bags + plan.links + scans)
        copy_rows(pg, "bags_bag", BAG_COLUMNS, _bag_chunks(plan), "bags", progress)
        copy_rows(pg, "bags_link", LINK_COLUMNS, _link_chunks(plan), "links", progress)
        if with_scans:
            copy_rows(pg, "scanning_scan", SCAN_COLUMNS, _scan_chunks(plan), "scans", progress)
            # The dashboard's counts of past periods, which these back-dated scans change: counted again.
            ScanTally.objects.all().delete()
        # Its bag totals too: counted again at the next look rather than read as millions of new rows.
        BagTotals.objects.all().delete()
        result = _result(plan, scans, time.monotonic() - started)
        record(
            actor=user,
            action=AuditAction.BAG_BULK_LOAD,
            after={
                "parents_by_product": result.parents_by_product,
                "children": result.children,
                "links": result.links,
                "scans": result.scans,
                "child_codes": [result.first_child_code, result.last_child_code],
            },
        )
    # After the commit, so the planner's statistics describe committed rows; skipping it would leave
    # the planner guessing on a table that just grew by millions of rows until autovacuum gets there.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE bags_bag, bags_link" + (", scanning_scan" if with_scans else ""))
    return result


def _check_numbers(*, bags: int, parents: int, linked_fraction: float, history_days: int) -> None:
    if bags < 1:
        raise SeedRefused("bad_bag_count", f"--bags must be at least 1, not {bags}.")
    if parents < 0:
        raise SeedRefused("bad_parent_count", f"--parents cannot be negative ({parents}).")
    if parents > bags:
        raise SeedRefused("too_many_parents", f"--parents ({parents:,}) cannot be more than --bags ({bags:,}).")
    if not 0.0 <= linked_fraction <= 1.0:
        raise SeedRefused("bad_linked_fraction", f"--linked-fraction must be between 0 and 1, not {linked_fraction}.")
    if history_days < 1:
        raise SeedRefused("bad_history_days", f"--days must be at least 1, not {history_days}.")


def _make_plan(
    pg,
    rng: random.Random,
    *,
    bags: int,
    parents: int,
    linked_fraction: float,
    user: User | None,
    area: DispatchArea | None,
    history_days: int,
) -> _Plan:
    """Every check that can refuse, before the first row is written."""
    children = bags - parents
    links = round(children * linked_fraction)
    all_products = list(Product.objects.order_by("code"))
    _check_child_codes_are_not_parents(all_products)
    active = [product for product in all_products if product.is_active]
    shares = _spread_parents(pg, active, parents)
    slots = [
        _ProductSlot(
            product.id,
            product.code,
            product.parent_prefix,
            product.parent_digits,
            product.capacity,
            _free_parent_numbers(pg, product, wanted),
        )
        for product, wanted in zip(active, shares, strict=True)
    ]
    parent_product, parent_number = _interleave(slots)
    capacity = sum(slots[p].capacity for p in parent_product)
    if links > capacity:
        raise SeedRefused(
            "not_enough_room",
            f"{links:,} linked children do not fit: {parents:,} parents hold at most {capacity:,}. "
            "Ask for more --parents or a smaller --linked-fraction.",
        )
    first_child = _first_free_child_number(pg)
    if first_child + children > 10**CHILD_DIGITS:
        raise SeedRefused(
            "child_codes_used_up",
            f"Only {10**CHILD_DIGITS - first_child:,} synthetic child codes ({CHILD_PREFIX} + {CHILD_DIGITS} digits) "
            f"are left after the highest one in use; {children:,} were asked for.",
        )
    counts = _fill_parents(rng, array("H", (slots[p].capacity for p in parent_product)), links)
    pg.execute(RESERVE_BAG_IDS_SQL, {"count": bags})
    last_id = pg.fetchone()[0]
    span = history_days * 86400
    return _Plan(
        bags=bags,
        parents=parents,
        children=children,
        links=links,
        first_bag_id=last_id - bags + 1,
        first_child_number=first_child,
        products=slots,
        parent_product=parent_product,
        parent_number=parent_number,
        counts=counts,
        area_id=area.pk if area is not None else None,
        user_id=user.pk if user is not None else None,
        start_second=int(time.time()) - span,
        span_seconds=span,
    )


def _check_child_codes_are_not_parents(products: list[Product]) -> None:
    """A synthetic child code must never read as a parent, or the scan page would treat it as one."""
    length = len(CHILD_PREFIX) + CHILD_DIGITS
    for product in products:
        prefix = product.parent_prefix
        if len(prefix) + product.parent_digits != length:
            continue
        if len(prefix) <= len(CHILD_PREFIX):
            clash = CHILD_PREFIX.startswith(prefix) and all(c.isdigit() for c in CHILD_PREFIX[len(prefix) :])
        else:
            clash = prefix.startswith(CHILD_PREFIX) and prefix[len(CHILD_PREFIX) :].isdigit()
        if clash:
            raise SeedRefused(
                "child_codes_look_like_parents",
                f"Synthetic child codes ({CHILD_PREFIX} + {CHILD_DIGITS} digits) would match product "
                f"{product.name}'s parent format ({prefix} + {product.parent_digits} digits).",
            )


def _parent_regex(product: Product) -> str:
    # Prefixes are [A-Z][A-Z0-9-]* (a database check), none of which is special in a regex outside brackets.
    return f"^{product.parent_prefix}[0-9]{{{product.parent_digits}}}$"


def _spread_parents(pg, products: list[Product], parents: int) -> list[int]:
    """As even a split over the active products as their free codes allow; refuse if they cannot hold them all."""
    free = []
    for product in products:
        length = len(product.parent_prefix) + product.parent_digits
        if not qr.MIN_LENGTH <= length <= qr.MAX_LENGTH:
            raise SeedRefused(
                "bad_product_format",
                f"Product {product.name}'s parent codes would be {length} characters long; bag codes have "
                f"{qr.MIN_LENGTH} to {qr.MAX_LENGTH}. Fix or deactivate the product first.",
            )
        pg.execute(COUNT_CODES_MATCHING_SQL, {"regex": _parent_regex(product)})
        free.append(10**product.parent_digits - pg.fetchone()[0])
    shares = [0] * len(products)
    remaining = parents
    open_slots = [i for i, room in enumerate(free) if room > 0]
    while remaining and open_slots:
        even = max(1, remaining // len(open_slots))
        for i in list(open_slots):
            take = min(even, free[i] - shares[i], remaining)
            shares[i] += take
            remaining -= take
            if shares[i] == free[i]:
                open_slots.remove(i)
            if not remaining:
                break
    if remaining:
        room = ", ".join(
            f"{product.name} {room:,} ({product.parent_prefix} + {product.parent_digits} digits)"
            for product, room in zip(products, free, strict=True)
        )
        raise SeedRefused(
            "parent_codes_used_up",
            f"{parents:,} parents do not fit in the free parent codes of the active products: {room or 'none'}.",
        )
    return shares


def _free_parent_numbers(pg, product: Product, wanted: int) -> array:
    if wanted == 0:
        return array("q")
    pg.execute(COUNT_CODES_MATCHING_SQL, {"regex": _parent_regex(product)})
    top = min(10**product.parent_digits, pg.fetchone()[0] + wanted) - 1
    pg.execute(
        FREE_PARENT_NUMBERS_SQL,
        {"top": top, "prefix": product.parent_prefix, "digits": product.parent_digits, "wanted": wanted},
    )
    return array("q", (row[0] for row in pg))


def _interleave(slots: list[_ProductSlot]) -> tuple[array, array]:
    """Mix the products' parents evenly (as a warehouse fills both through the day), not one block each."""
    product_of, number_of = array("B"), array("q")
    taken = [0] * len(slots)
    sizes = [len(slot.numbers) for slot in slots]
    for _ in range(sum(sizes)):
        # The product furthest behind its share goes next.
        p = min((i for i in range(len(slots)) if taken[i] < sizes[i]), key=lambda i: (taken[i] + 1) / sizes[i])
        product_of.append(p)
        number_of.append(slots[p].numbers[taken[p]])
        taken[p] += 1
    return product_of, number_of


def _fill_parents(rng: random.Random, capacities: array, links: int) -> array:
    """How many children each parent holds, summing to ``links``; most parents full, a few part-filled.

    Starts from whichever end is nearer (all full or all empty) and moves random-sized handfuls, so the
    loop stays short for any fraction.
    """
    total = sum(capacities)
    count = len(capacities)
    if links * 2 >= total:
        counts = array("H", capacities)
        to_move = total - links
        while to_move:
            i = rng.randrange(count)
            take = min(to_move, counts[i], rng.randint(1, capacities[i]))
            counts[i] -= take
            to_move -= take
    else:
        counts = array("H", bytes(2 * count))
        to_move = links
        while to_move:
            i = rng.randrange(count)
            take = min(to_move, capacities[i] - counts[i], rng.randint(1, capacities[i]))
            counts[i] += take
            to_move -= take
    return counts


def _first_free_child_number(pg) -> int:
    pg.execute(
        HIGHEST_CHILD_CODE_SQL, {"like": f"{CHILD_PREFIX}%", "regex": f"^{CHILD_PREFIX}[0-9]{{{CHILD_DIGITS}}}$"}
    )
    highest = pg.fetchone()[0]
    # Continue after the highest synthetic code: hand-made codes of other shapes can never collide.
    return int(highest[len(CHILD_PREFIX) :]) + 1 if highest else 1


class _Clock:
    """created_at for row r, spread evenly over the history; formatted by hand, as COPY text wants it.

    datetime formatting per row would cost more than the rest of a row together; days are cached.
    """

    def __init__(self, plan: _Plan) -> None:
        self.start = plan.start_second
        self.span = plan.span_seconds
        self.rows = plan.bags
        self.days: dict[int, str] = {}

    def at(self, row: int) -> str:
        second = self.start + row * self.span // self.rows
        day, clock = divmod(second, 86400)
        day_text = self.days.get(day)
        if day_text is None:
            day_text = self.days[day] = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")
        hour, rest = divmod(clock, 3600)
        minute, sec = divmod(rest, 60)
        return f"{day_text} {hour:02d}:{minute:02d}:{sec:02d}+00"


def _null(value: int | None) -> str:
    return r"\N" if value is None else str(value)


def _parent_code(plan: _Plan, i: int) -> str:
    slot = plan.products[plan.parent_product[i]]
    return f"{slot.prefix}{plan.parent_number[i]:0{slot.digits}d}"


def _child_code(number: int) -> str:
    return f"{CHILD_PREFIX}{number:0{CHILD_DIGITS}d}"


def _bag_chunks(plan: _Plan) -> Iterator[tuple[str, int]]:
    return chunked(_bag_lines(plan))


def _bag_lines(plan: _Plan) -> Iterator[str]:
    clock = _Clock(plan)
    owner = f"{_null(plan.area_id)}\t{_null(plan.user_id)}"
    child_middle = f"\tchild\t\\N\t{owner}\t"
    row = 0
    child_number = plan.first_child_number
    bag_id = plan.first_bag_id
    for i, linked, unlinked in plan.groups():
        if i >= 0:
            slot = plan.products[plan.parent_product[i]]
            created = clock.at(row)
            yield f"{bag_id}\t{_parent_code(plan, i)}\tparent\t{slot.product_id}\t{owner}\t{created}\t{created}\n"
            row += 1
            bag_id += 1
        for _ in range(linked + unlinked):
            created = clock.at(row)
            yield f"{bag_id}\t{CHILD_PREFIX}{child_number:0{CHILD_DIGITS}d}{child_middle}{created}\t{created}\n"
            row += 1
            bag_id += 1
            child_number += 1


def _link_chunks(plan: _Plan) -> Iterator[tuple[str, int]]:
    return chunked(_link_lines(plan))


def _link_lines(plan: _Plan) -> Iterator[str]:
    """The same walk as the bags: a parent's linked children are the rows right after it."""
    clock = _Clock(plan)
    user = _null(plan.user_id)
    row = 0
    for i, linked, unlinked in plan.groups():
        if i < 0:
            break
        parent_id = plan.first_bag_id + row
        for k in range(1, linked + 1):
            yield f"{parent_id}\t{parent_id + k}\t{user}\t{clock.at(row + k)}\n"
        row += 1 + linked + unlinked


def _scan_chunks(plan: _Plan) -> Iterator[tuple[str, int]]:
    return chunked(_scan_lines(plan))


def _scan_lines(plan: _Plan) -> Iterator[str]:
    """Per parent, its open_parent scan then one link scan per child, in time order as the dispatcher made them."""
    clock = _Clock(plan)
    user, area = _null(plan.user_id), _null(plan.area_id)
    row = 0
    child_number = plan.first_child_number
    for i, linked, unlinked in plan.groups():
        if i < 0:
            break
        parent_id = plan.first_bag_id + row
        parent_code = _parent_code(plan, i)
        tail = f"\t{parent_id}\t{parent_code}\t{area}\t"
        yield f"{user}\t{ScanAction.OPEN_PARENT}\t{parent_id}\t{parent_code}{tail}{clock.at(row)}\n"
        for k in range(1, linked + 1):
            code = _child_code(child_number + k - 1)
            yield f"{user}\t{ScanAction.LINK}\t{parent_id + k}\t{code}{tail}{clock.at(row + k)}\n"
        row += 1 + linked + unlinked
        child_number += linked + unlinked


def _result(plan: _Plan, scans: int, seconds: float) -> BulkResult:
    by_product = {slot.code: len(slot.numbers) for slot in plan.products}
    seeded = Bag.objects.filter(pk__gte=plan.first_bag_id, pk__lt=plan.first_bag_id + plan.bags, kind=BagKind.PARENT)
    full = seeded.alias(full=parent_full()).filter(full=True).count()
    return BulkResult(
        parents_by_product=by_product,
        children=plan.children,
        links=plan.links,
        full_parents=full,
        scans=scans,
        first_child_code=_child_code(plan.first_child_number) if plan.children else None,
        last_child_code=_child_code(plan.first_child_number + plan.children - 1) if plan.children else None,
        seconds=seconds,
    )
