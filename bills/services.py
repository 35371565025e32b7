"""The biller's loop: every change to a bill is one of these functions, each one audited transaction.

A change to a bill's parents locks the bill row first, so changes to one bill queue (and a finalise
cannot slip between a check and a write). A parent is on at most one bill: the database's unique index on
``BillBag.parent_bag`` decides between two billers putting the same parent on two bills at the same
moment, and the loser is told which bill won.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from accounts.models import User
from audit.choices import AuditAction
from audit.services import record, snapshot
from bags import qr
from bags.error_codes import QRRefusal
from bags.models import Bag, BagKind, Product
from bills.error_codes import BillRefusal
from bills.events import acting
from bills.models import Bill, BillBag, BillStatus
from bills.signals import announce_bills_changed
from traitortrack.errors import RefusalCode, Refused

# The database's limit on a bill's expected parents is also the most parents a bill takes.
MAX_PARENTS = 500


class BillRefused(Refused):
    """A bill change the rules refuse; ``errors`` holds a form's per-field sentences when there are any.
    Its answer has the bill answer's fields, empty, so a client reads one shape."""

    def __init__(
        self, code: RefusalCode, message: str, *, status: int = 409, errors: dict[str, list[str]] | None = None
    ):
        super().__init__(
            code, message, status=status, warning=None, bill=None, **({"errors": errors} if errors else {})
        )
        self.errors = errors

    @classmethod
    def from_qr_error(cls, error: qr.QRCodeError) -> "BillRefused":
        # A child code where a parent is expected is the one refusal billers meet daily: give it our name.
        child_code = error.code == QRRefusal.CHILD_WHERE_PARENT_EXPECTED
        return cls(BillRefusal.NOT_A_PARENT_CODE if child_code else error.code, error.message, status=422)


@dataclass(frozen=True)
class BillChange:
    """What a change did: the bill (as saved), a stable code, a sentence, and a warning worth showing."""

    bill: Bill
    code: str
    message: str
    warning: str | None = None


def _check_biller(user: User) -> None:
    # The views are declared BILLER already; a service called from elsewhere (a command) checks too.
    if not (user.is_authenticated and user.handles_bills):
        raise BillRefused(BillRefusal.FORBIDDEN, gettext("Only billers and admins work on bills."), status=403)


def default_product() -> Product | None:
    """The product a new bill starts with: the first active one (mustard, from the data migration)."""
    return Product.objects.filter(is_active=True).order_by("pk").first()


def check_bill_number_free(bill_number: str, *, exclude_pk: int | None = None) -> None:
    """Bill numbers are unique whatever their case ("inv-7" is INV-7): say which bill has it."""
    other = Bill.objects.filter(bill_number__iexact=bill_number).exclude(pk=exclude_pk).first()
    if other is not None:
        raise BillRefused(
            BillRefusal.BILL_NUMBER_TAKEN,
            gettext("Bill %(bill_number)s already exists (bill numbers ignore case).")
            % {"bill_number": other.bill_number},
        )


def check_parent_can_join(*, bill: Bill, bag: Bag, on_bill: Bill | None, parent_count: int) -> None:
    """The rules a bag must pass to go on a bill; the scan and the admin both ask here.

    ``on_bill`` is the bill the bag is on now, if any; ``parent_count`` how many parents ``bill`` holds.
    """
    if bill.status == BillStatus.FINALISED:
        raise finalised_refusal(bill)
    if bag.kind != BagKind.PARENT:
        raise BillRefused(
            BillRefusal.NOT_A_PARENT_CODE,
            gettext("%(qr_id)s is a child bag; only parent bags go on a bill.") % {"qr_id": bag.qr_id},
            status=422,
        )
    if on_bill is not None and on_bill.pk == bill.pk:
        raise BillRefused(
            BillRefusal.ALREADY_ON_THIS_BILL,
            gettext("%(qr_id)s is already on this bill. Nothing changed.") % {"qr_id": bag.qr_id},
        )
    if on_bill is not None:
        raise BillRefused(
            BillRefusal.ALREADY_ON_BILL,
            gettext("%(qr_id)s is already on bill %(bill_number)s.")
            % {"qr_id": bag.qr_id, "bill_number": on_bill.bill_number},
        )
    if parent_count >= MAX_PARENTS:
        raise BillRefused(
            BillRefusal.BILL_FULL,
            gettext("Bill %(bill_number)s already holds %(most)s parent bags, the most a bill takes.")
            % {"bill_number": bill.bill_number, "most": MAX_PARENTS},
        )


def finalised_refusal(bill: Bill) -> BillRefused:
    """What any change to a finalised bill is told."""
    return BillRefused(
        BillRefusal.BILL_FINALISED,
        gettext("Bill %(bill_number)s is finalised: it cannot change. An admin can reopen it.")
        % {"bill_number": bill.bill_number},
    )


def _locked_bill(bill_id: Any) -> Bill:
    try:
        bill_id = int(bill_id)
    except (TypeError, ValueError):
        bill_id = None
    bill = (
        Bill.objects.select_for_update(of=("self",)).select_related("product").filter(pk=bill_id).first()
        if bill_id
        else None
    )
    if bill is None:
        raise BillRefused(
            BillRefusal.UNKNOWN_BILL, gettext("That bill does not exist (it may have been deleted)."), status=404
        )
    return bill


def _parse_parent(raw_code: Any) -> str:
    try:
        return qr.parse_parent(raw_code if isinstance(raw_code, str) else None, Product.objects.parent_formats()).qr_id
    except qr.QRCodeError as error:
        raise BillRefused.from_qr_error(error) from error


def _parents(count: int) -> str:
    return ngettext("%(count)s parent", "%(count)s parents", count) % {"count": count}


def _touch(bill: Bill) -> None:
    bill.updated_at = timezone.now()
    Bill.objects.filter(pk=bill.pk).update(updated_at=bill.updated_at)


def create_bill(
    *,
    user: User,
    bill_number: str,
    customer: str,
    bill_date: date,
    product: Product,
    expected_parents: int,
    notes: str = "",
    request: HttpRequest | None = None,
) -> BillChange:
    """A new draft bill. Refused: a bill number taken in any case, a product no longer in use."""
    _check_biller(user)
    bill_number = bill_number.strip()
    if not product.is_active:
        raise BillRefused(
            BillRefusal.PRODUCT_INACTIVE,
            gettext("%(name)s is no longer in use; choose another product.") % {"name": product.name},
        )
    with transaction.atomic(durable=True):
        check_bill_number_free(bill_number)
        try:
            with transaction.atomic():
                bill = Bill.objects.create(
                    bill_number=bill_number,
                    customer=customer.strip(),
                    bill_date=bill_date,
                    product=product,
                    expected_parents=expected_parents,
                    notes=notes,
                    created_by=user,
                )
        except IntegrityError as error:
            # Typed at the same moment by another biller: the unique index decided.
            check_bill_number_free(bill_number)
            raise BillRefused(
                BillRefusal.BILL_NUMBER_TAKEN,
                gettext("Bill %(bill_number)s already exists.") % {"bill_number": bill_number},
            ) from error
        record(actor=user, action=AuditAction.BILL_CREATE, obj=bill, before=None, after=snapshot(bill), request=request)
        announce_bills_changed()  # the dashboard's bills by status
    return BillChange(
        bill,
        "created",
        gettext("Bill %(bill_number)s created. Scan its parent bags.") % {"bill_number": bill.bill_number},
    )


def update_bill(
    *,
    user: User,
    bill_id: Any,
    bill_number: str,
    customer: str,
    bill_date: date,
    product: Product,
    expected_parents: int,
    notes: str = "",
    request: HttpRequest | None = None,
) -> BillChange:
    """Change a draft bill's details. Refused: a finalised bill, a bill number taken by another bill, a
    product taken out of use (a bill may keep the one it has)."""
    _check_biller(user)
    bill_number = bill_number.strip()
    with transaction.atomic(durable=True):
        bill = _locked_bill(bill_id)
        if bill.status == BillStatus.FINALISED:
            raise finalised_refusal(bill)
        if not product.is_active and product.pk != bill.product_id:
            raise BillRefused(
                BillRefusal.PRODUCT_INACTIVE,
                gettext("%(name)s is no longer in use; choose another product.") % {"name": product.name},
            )
        check_bill_number_free(bill_number, exclude_pk=bill.pk)
        before = snapshot(bill)
        bill.bill_number = bill_number
        bill.customer = customer.strip()
        bill.bill_date = bill_date
        bill.product = product
        bill.expected_parents = expected_parents
        bill.notes = notes
        if snapshot(bill) == before:  # updated_at moves only when saved
            return BillChange(bill, "unchanged", gettext("Nothing to change."))
        try:
            with transaction.atomic():
                bill.save()
        except IntegrityError as error:
            check_bill_number_free(bill_number, exclude_pk=bill.pk)
            raise BillRefused(
                BillRefusal.BILL_NUMBER_TAKEN,
                gettext("Bill %(bill_number)s already exists.") % {"bill_number": bill_number},
            ) from error
        record(
            actor=user, action=AuditAction.BILL_CHANGE, obj=bill, before=before, after=snapshot(bill), request=request
        )
        parent_count = BillBag.objects.filter(bill=bill).count()
    warning = None
    if parent_count > expected_parents:
        warning = gettext("It already holds %(parents)s, more than the %(expected_parents)s now expected.") % {
            "parents": _parents(parent_count),
            "expected_parents": expected_parents,
        }
    return BillChange(
        bill, "changed", gettext("Bill %(bill_number)s saved.") % {"bill_number": bill.bill_number}, warning
    )


def add_parent(*, user: User, bill_id: Any, raw_code: Any, request: HttpRequest | None = None) -> BillChange:
    """Put a parent bag on a draft bill (a biller's scan).

    Refused: a code that is not a parent code, an unknown parent, a parent already on this bill or on
    another (named), a finalised bill, a bill holding 500 parents. More parents than expected is allowed,
    with a warning; so is a parent that is not full.
    """
    _check_biller(user)
    parent_qr = _parse_parent(raw_code)
    with transaction.atomic(durable=True):
        bill = _locked_bill(bill_id)
        if bill.status == BillStatus.FINALISED:
            raise finalised_refusal(bill)
        acting(user)
        bag = Bag.objects.select_related("product").filter(qr_id=parent_qr).first()
        if bag is None:
            raise BillRefused(
                BillRefusal.UNKNOWN_PARENT,
                gettext("Parent bag %(parent_qr)s was not found. It must be scanned on the scan page first.")
                % {"parent_qr": parent_qr},
                status=404,
            )
        entry = bag and BillBag.objects.current().filter(parent_bag=bag).select_related("bill").first()
        parent_count = BillBag.objects.filter(bill=bill).count()
        check_parent_can_join(bill=bill, bag=bag, on_bill=entry.bill if entry else None, parent_count=parent_count)
        try:
            with transaction.atomic():
                BillBag.objects.create(bill=bill, parent_bag=bag, added_by=user)
        except IntegrityError as error:
            # Another biller put it on their bill while we decided: their transaction committed first.
            winner = BillBag.objects.current().filter(parent_bag=bag).select_related("bill").first()
            if winner is None:
                raise
            raise BillRefused(
                BillRefusal.ALREADY_ON_BILL,
                gettext("%(parent_qr)s is already on bill %(bill_number)s.")
                % {"parent_qr": parent_qr, "bill_number": winner.bill.bill_number},
            ) from error
        _touch(bill)
        count = parent_count + 1
        record(
            actor=user,
            action=AuditAction.BILL_PARENT_ADD,
            obj=bill,
            before={"parent_bag": parent_qr, "bill": None, "parent_count": parent_count},
            after={"parent_bag": parent_qr, "bill": bill.bill_number, "parent_count": count},
            request=request,
        )
    message = gettext("%(parent_qr)s added to %(bill_number)s: %(count)s of %(expected_parents)s parents.") % {
        "parent_qr": parent_qr,
        "bill_number": bill.bill_number,
        "count": count,
        "expected_parents": bill.expected_parents,
    }
    warnings = []
    if count > bill.expected_parents:
        warnings.append(
            gettext("That is more than the %(expected_parents)s expected.")
            % {"expected_parents": bill.expected_parents}
        )
    if bag.child_count == 0:
        warnings.append(gettext("%(parent_qr)s holds no children.") % {"parent_qr": parent_qr})
    return BillChange(bill, "parent_added", message, " ".join(warnings) or None)


def remove_parent(*, user: User, bill_id: Any, raw_code: Any, request: HttpRequest | None = None) -> BillChange:
    """Take a parent bag off a draft bill. Refused: a finalised bill, a parent not on this bill."""
    _check_biller(user)
    parent_qr = _parse_parent(raw_code)
    with transaction.atomic(durable=True):
        bill = _locked_bill(bill_id)
        if bill.status == BillStatus.FINALISED:
            raise finalised_refusal(bill)
        acting(user)
        entry = BillBag.objects.filter(bill=bill, parent_bag__qr_id=parent_qr).first()
        if entry is None:
            raise BillRefused(
                BillRefusal.NOT_ON_THIS_BILL,
                gettext("%(parent_qr)s is not on bill %(bill_number)s.")
                % {"parent_qr": parent_qr, "bill_number": bill.bill_number},
                status=404,
            )
        parent_count = BillBag.objects.filter(bill=bill).count()
        entry.delete()
        _touch(bill)
        record(
            actor=user,
            action=AuditAction.BILL_PARENT_REMOVE,
            obj=bill,
            before={"parent_bag": parent_qr, "bill": bill.bill_number, "parent_count": parent_count},
            after={"parent_bag": parent_qr, "bill": None, "parent_count": parent_count - 1},
            request=request,
        )
    return BillChange(
        bill,
        "parent_removed",
        gettext("%(parent_qr)s taken off %(bill_number)s: %(parents)s left.")
        % {"parent_qr": parent_qr, "bill_number": bill.bill_number, "parents": _parents(parent_count - 1)},
    )


def finalise_bill(*, user: User, bill_id: Any, request: HttpRequest | None = None) -> BillChange:
    """Freeze a draft bill: each parent's child count, capacity, child weight and child codes, and the bill's
    weight rule (its product's full-parent weight) are kept, so later scans or product changes cannot alter
    it. Refused: a bill already finalised, a bill with no parents."""
    _check_biller(user)
    with transaction.atomic(durable=True):
        bill = _locked_bill(bill_id)
        if bill.status == BillStatus.FINALISED:
            raise BillRefused(
                BillRefusal.ALREADY_FINALISED,
                gettext("Bill %(bill_number)s is already finalised.") % {"bill_number": bill.bill_number},
            )
        now = acting(user)
        before = snapshot(bill)
        frozen = BillBag.objects.freeze(bill.pk)
        if frozen == 0:
            raise BillRefused(
                BillRefusal.BILL_EMPTY,
                gettext("Bill %(bill_number)s has no parent bags: scan them before finalising.")
                % {"bill_number": bill.bill_number},
            )
        bill.status = BillStatus.FINALISED
        bill.finalised_at = now
        bill.finalised_by = user
        bill.frozen_full_parent_weight_kg = bill.product.full_parent_weight_kg
        bill.save()
        record(
            actor=user, action=AuditAction.BILL_FINALISE, obj=bill, before=before, after=snapshot(bill), request=request
        )
        announce_bills_changed()
    warning = None
    if frozen != bill.expected_parents:
        warning = gettext("It holds %(parents)s; %(expected_parents)s were expected.") % {
            "parents": _parents(frozen),
            "expected_parents": bill.expected_parents,
        }
    return BillChange(
        bill,
        "finalised",
        gettext("Bill %(bill_number)s finalised with %(parents)s.")
        % {"bill_number": bill.bill_number, "parents": _parents(frozen)},
        warning,
    )


def reopen_bill(*, user: User, bill_id: Any, request: HttpRequest | None = None) -> BillChange:
    """Admins only: make a finalised bill a draft again. Its snapshot is dropped (kept in the audit entry),
    so it shows its parents as they are now. Refused once a parent came back on a return ticket: the bill
    must keep showing what was dispatched and what came back, which only its snapshot knows."""
    if not (user.is_authenticated and user.is_admin):
        raise BillRefused(BillRefusal.ADMIN_ONLY, gettext("Only an admin can reopen a finalised bill."), status=403)
    with transaction.atomic(durable=True):
        bill = _locked_bill(bill_id)
        if bill.status != BillStatus.FINALISED:
            raise BillRefused(
                BillRefusal.NOT_FINALISED,
                gettext("Bill %(bill_number)s is not finalised.") % {"bill_number": bill.bill_number},
            )
        # A commit of a return ticket holds the bill's row (release_entries), so this sees every return.
        returned = BillBag.objects.filter(bill=bill).exclude(returned_on="")
        tickets = sorted(set(returned.values_list("returned_on", flat=True)))
        if tickets:
            raise BillRefused(
                BillRefusal.HAS_RETURNED_PARENTS,
                gettext(
                    "Bill %(bill_number)s cannot be reopened: parents on it came back on %(tickets)s, "
                    "and only its snapshot shows what was dispatched."
                )
                % {"bill_number": bill.bill_number, "tickets": ", ".join(tickets)},
            )
        acting(user)
        before = snapshot(bill)
        before["parents"] = list(
            BillBag.objects.filter(bill=bill)
            .order_by("added_at", "pk")
            .values("parent_bag__qr_id", "frozen_child_count", "frozen_capacity", "frozen_child_weight_kg")
        )
        BillBag.objects.thaw(bill.pk)
        bill.status = BillStatus.DRAFT
        bill.finalised_at = None
        bill.finalised_by = None
        bill.frozen_full_parent_weight_kg = None
        bill.save()
        record(
            actor=user, action=AuditAction.BILL_REOPEN, obj=bill, before=before, after=snapshot(bill), request=request
        )
        announce_bills_changed()
    return BillChange(
        bill,
        "reopened",
        gettext("Bill %(bill_number)s reopened: it is a draft again.") % {"bill_number": bill.bill_number},
    )


def lock_entries_for_return(parent_ids: list[int]) -> dict[int, BillBag]:
    """The current bill entry of each of these parents (those on a bill), with its bill, locked for a return
    ticket's commit in the caller's transaction.

    The bills are locked first (FOR NO KEY UPDATE: a reopen, which locks its bill to update it, waits, and so
    never thaws an entry that is being returned), then the entries, each in id order as every bill change
    locks them. The entries are read again once the bills are held: a parent returned by a commit that
    held them first is no longer current, so of two commits returning one parent exactly one finds it.
    """
    bill_ids = set(BillBag.objects.current().filter(parent_bag_id__in=parent_ids).values_list("bill_id", flat=True))
    list(Bill.objects.filter(pk__in=bill_ids).order_by("pk").select_for_update(no_key=True).values_list("pk"))
    entries = (
        BillBag.objects.current()
        .filter(parent_bag_id__in=parent_ids)
        .select_related("bill")
        .select_for_update(of=("self",))
        .order_by("pk")
    )
    return {entry.parent_bag_id: entry for entry in entries}


def release_entries(*, user: User, entries: list[BillBag], ticket_number: str, at: datetime) -> int:
    """Mark these entries returned on the ticket (the caller has locked them with lock_entries_for_return and
    checked each is on a finalised bill). The snapshot is not touched; the parent may go onto a new bill.
    The database's trigger writes each a 'returned' bill event, with this user and time."""
    acting(user, at)
    released = BillBag.objects.filter(pk__in=[entry.pk for entry in entries], returned_at__isnull=True).update(
        returned_at=at, returned_on=ticket_number
    )
    for entry in entries:
        entry.returned_at, entry.returned_on = at, ticket_number
    return released


def record_export(*, user: User, bill_id: int, bill_number: str, file_format: str, request: HttpRequest) -> None:
    """Exports are audited (who took which bill's data out, and how)."""
    bill = Bill(pk=bill_id, bill_number=bill_number)
    record(actor=user, action=AuditAction.BILL_EXPORT, obj=bill, after={"format": file_format}, request=request)
