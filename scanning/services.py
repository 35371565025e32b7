"""The dispatcher's scan loop: every scan is one of these functions, each one transaction.

Exactly once: every scan carries a client-made id. Its answer, success or refusal, is kept
(scanning.ScanReply) in the same transaction as the scan's writes, so a repeat of the id returns that
first answer and writes nothing. If a concurrent request got in first (the same child into another
parent, the same id retried while the first was still running), the write statement reports it, the
transaction is rolled back and the scan is decided again on fresh data.
"""

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, OperationalError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext

from accounts.models import User
from audit.choices import AuditAction
from audit.services import record, snapshot
from bags import qr
from bags.error_codes import QRRefusal
from bags.managers import forget_parent_formats
from bags.models import Bag, Link, Product
from scanning.error_codes import ScanRefusal
from scanning.managers import ScanManager, ScanTransaction, StoredReply, is_write_conflict
from scanning.models import Scan, ScanAction
from traitortrack.errors import EdgeRefusal, RefusalCode, Refused

CLIENT_SCAN_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
UNDO_WINDOW = timedelta(hours=1)
# A device's scanned_at is kept from this far back (an offline queue a month old is a lost phone found) to
# this far ahead of the server's clock (phones drift).
OFFLINE_QUEUE_LIMIT = timedelta(days=30)
DEVICE_CLOCK_AHEAD = timedelta(minutes=5)
REASON_MAX_LENGTH = 200
BIGINT_MAX = 2**63 - 1  # the largest primary key PostgreSQL's bigint holds
# What undo takes back: a child scanned into a parent, or moved from one to another.
UNDOABLE = (ScanAction.LINK, ScanAction.MOVE)
PARENT_CODE_NOT_FOR_CHILDREN = "bag_parent_code_not_for_children"
_ATTEMPTS = 3


class ScanRefused(Refused):
    """A scan the rules refuse; ``parent`` is the parent's state when the refusal is about one. Its answer
    has a scan answer's fields (``scan`` empty), so the scan page reads one shape."""

    def __init__(
        self, code: RefusalCode, message: str, *, status: int = 409, parent: dict[str, Any] | None = None
    ) -> None:
        super().__init__(code, message, status=status, parent=parent, scan=None)
        self.parent = parent

    @classmethod
    def from_qr_error(cls, error: qr.QRCodeError) -> "ScanRefused":
        return cls(error.code, error.message, status=422)


@dataclass(frozen=True)
class ScanAnswer:
    """What the scanner is told: an HTTP status and the JSON body; ``replayed`` if it is a kept answer."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


class _NotStored(ScanRefused):
    """A refusal about the request itself, never kept as the id's answer."""

    def __init__(self, code: RefusalCode, message: str, status: int = 409):
        super().__init__(code, message, status=status)


class _Contended(Exception):
    """A concurrent request changed what this scan was decided on; roll back and decide again."""


def _constraint(error: IntegrityError) -> str | None:
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


def check_client_scan_id(client_scan_id: Any) -> str:
    if not isinstance(client_scan_id, str) or not CLIENT_SCAN_ID_PATTERN.fullmatch(client_scan_id):
        raise ScanRefused(
            ScanRefusal.BAD_CLIENT_SCAN_ID,
            gettext("Each scan needs a client_scan_id of 8 to 64 letters, digits, '-' or '_'."),
            status=400,
        )
    return client_scan_id


def device_time(scanned_at: Any) -> datetime | None:
    """When the device says it scanned (``scanned_at``, sent with a scan it queued offline), kept as the
    event's ``device_time``; the event's ``created_at`` stays the server's, and orders the events.

    Not an ISO 8601 time with an offset: refused (a client's bug; never kept as the id's answer). More than
    DEVICE_CLOCK_AHEAD after the server's clock, or more than OFFLINE_QUEUE_LIMIT before it: ignored, the scan
    recorded without it. A phone with a wrong clock must lose no physical scan, nor tell a wrong story.
    """
    if scanned_at is None:
        return None
    try:
        parsed = parse_datetime(scanned_at) if isinstance(scanned_at, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise _NotStored(
            ScanRefusal.BAD_SCANNED_AT,
            gettext("scanned_at must be an ISO 8601 time with its offset, like 2026-01-31T09:15:00Z."),
            status=400,
        )
    now = timezone.now()
    return parsed if now - OFFLINE_QUEUE_LIMIT <= parsed <= now + DEVICE_CLOCK_AHEAD else None


def check_reason(reason: Any) -> str:
    """A supervisor's reason for a correction: required, at most REASON_MAX_LENGTH characters."""
    text = reason.strip() if isinstance(reason, str) else ""
    if not text or len(text) > REASON_MAX_LENGTH:
        raise _NotStored(
            ScanRefusal.REASON_REQUIRED,
            gettext("Say why, in 1 to %(count)s characters (for example: scanned into the wrong parent).")
            % {"count": REASON_MAX_LENGTH},
            status=400,
        )
    return text


def scan_time(moment: datetime) -> str:
    """A time as the scan API shows it (UTC, microseconds), as scanning_scan_json formats a scan's: for the
    dashboard's list of scans, which has a shape of its own."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parent_json(
    *, qr_id: str, product_name: str, child_count: int, capacity: int, full: bool, complete: bool
) -> dict[str, Any]:
    """A parent as the scan API shows it; ``full`` and ``complete`` as the database answered them
    (bags_parent_full, bags_parent_complete), never worked out here."""
    return {
        "qr_id": qr_id,
        "product": product_name,
        "child_count": child_count,
        "capacity": capacity,
        "complete": complete,
        "full": full,
    }


@contextmanager
def _atomic() -> Iterator[ScanManager]:
    """The transaction of a service whose decision reads through the ORM (undo, complete)."""
    with transaction.atomic(durable=True):
        yield Scan.objects


def _exactly_once(
    user: User,
    client_scan_id: Any,
    decide: Callable[[str, Any], ScanAnswer],
    *,
    begin: Callable[[], AbstractContextManager[ScanTransaction | ScanManager]],
) -> ScanAnswer:
    """Run ``decide(client_scan_id, tx)`` in its own transaction, ``begin()``: a ScanTransaction for the
    raw-SQL scans, ``_atomic`` for the ORM ones. A refusal it raises is kept as the id's answer too."""
    client_scan_id = check_client_scan_id(client_scan_id)
    for _ in range(_ATTEMPTS):
        try:
            with begin() as tx:
                try:
                    return decide(client_scan_id, tx)
                except _NotStored:
                    raise
                except ScanRefused as refusal:
                    body = refusal.body()
                    stored = tx.store_reply(
                        client_scan_id=client_scan_id, user_id=user.pk, status=refusal.status, body=body
                    )
                    if not stored:
                        raise _Contended from refusal
                    return ScanAnswer(refusal.status, body)
        except _Contended:
            continue
        except OperationalError as error:
            if not is_write_conflict(error):
                raise
            continue  # a write found its work half done by a concurrent request, and was rolled back
    # Three rounds lost to concurrent writers on the same rows: let the client retry with the same id.
    raise ScanRefused(EdgeRefusal.BUSY, gettext("The server was busy with the same bags. Scan again."), status=503)


def _replay(user: User, reply: StoredReply) -> ScanAnswer:
    if reply.user_id != user.pk:
        # Never stored: ids are random, so this is a misbehaving client, not a retry.
        raise _NotStored(
            ScanRefusal.CLIENT_SCAN_ID_TAKEN, gettext("This client_scan_id was already used by someone else.")
        )
    return ScanAnswer(reply.status, reply.body, replayed=True)


def _replay_or_none(user: User, client_scan_id: str) -> ScanAnswer | None:
    reply = Scan.objects.stored_reply(client_scan_id)
    return _replay(user, reply) if reply else None


def _formats() -> tuple[qr.ParentFormat, ...]:
    return Product.objects.parent_formats()


def _check_area(user: User, parent_qr: str, area_id: int | None, area_name: str | None, parent=None) -> None:
    if user.is_dispatcher and area_id != user.dispatch_area_id:
        if area_name:
            message = gettext("%(parent_qr)s belongs to area %(area)s, not yours (%(your_area)s). Ask a supervisor.")
        else:
            message = gettext("%(parent_qr)s belongs to no dispatch area, not yours (%(your_area)s). Ask a supervisor.")
        raise ScanRefused(
            ScanRefusal.NOT_YOUR_AREA,
            message % {"parent_qr": parent_qr, "area": area_name, "your_area": user.dispatch_area},
            status=403,
            parent=parent,
        )


def check_area_id(area_id: Any) -> int | None:
    """``area_id`` as a scan sends it: absent, or a dispatch area's primary key. Anything else is a client's
    bug, refused and never kept as the id's answer (as a bad scanned_at)."""
    if area_id is None:
        return None
    if isinstance(area_id, bool) or not isinstance(area_id, int) or not 1 <= area_id <= BIGINT_MAX:
        raise _NotStored(
            ScanRefusal.BAD_AREA_ID, gettext("area_id must be the number of a dispatch area, like 3."), status=422
        )
    return area_id


def _new_parent_area(user: User, parent_qr: str, area_id: int | None, area_name: str | None) -> int:
    """The area a new parent is made in: a dispatcher's own; for a biller or an admin, the one they chose."""
    if user.is_dispatcher:
        return user.dispatch_area_id
    if area_id is None:
        raise ScanRefused(
            ScanRefusal.AREA_REQUIRED,
            gettext("%(parent_qr)s is a new parent: choose its dispatch area, then scan it again.")
            % {"parent_qr": parent_qr},
            status=422,
        )
    if area_name is None:
        raise ScanRefused(
            ScanRefusal.UNKNOWN_AREA,
            gettext(
                "Dispatch area %(area_id)s does not exist or is no longer in use. "
                "Choose the area again, then scan %(parent_qr)s."
            )
            % {"area_id": area_id, "parent_qr": parent_qr},
            status=422,
        )
    return area_id


def open_parent(
    *, user: User, raw_code: Any, client_scan_id: Any, scanned_at: Any = None, area_id: Any = None
) -> ScanAnswer:
    """Open a parent bag for scanning, creating it if it is new: in the dispatcher's area, or in the area a
    biller or admin chose (``area_id``), so no parent is left in no area, unseen by every dispatcher.

    An existing parent keeps its area (``area_id`` is then not looked at). A dispatcher scans in their own
    area only: an ``area_id`` of another area is refused, not quietly replaced, since only a misbehaving
    client (or a queue scanned under another role) sends one. Refused: a code that is not a parent code, a
    parent of another area (for dispatchers), a new parent of a product taken out of use, a new parent
    without an area or of an area that does not exist (for billers and admins).
    """
    when = device_time(scanned_at)
    area_id = check_area_id(area_id)

    def decide(scan_id: str, tx: ScanTransaction) -> ScanAnswer:
        try:
            parsed = qr.parse_parent(raw_code if isinstance(raw_code, str) else None, _formats())
        except qr.QRCodeError as error:
            replay = _replay_or_none(user, scan_id)
            if replay:
                return replay
            raise ScanRefused.from_qr_error(error) from error
        state = tx.parent_scan_state(
            client_scan_id=scan_id, parent_qr=parsed.qr_id, product_code=parsed.product_code, area_id=area_id
        )
        if state.reply:
            return _replay(user, state.reply)
        if user.is_dispatcher and area_id not in (None, user.dispatch_area_id):
            raise ScanRefused(
                ScanRefusal.NOT_YOUR_AREA,
                gettext("You scan in your own area (%(your_area)s) only: %(parent_qr)s was not opened.")
                % {"your_area": user.dispatch_area, "parent_qr": parsed.qr_id},
                status=403,
            )
        if state.bag_kind == qr.CHILD:
            # A product added later whose format covers an existing child's code.
            raise ScanRefused(
                QRRefusal.CHILD_WHERE_PARENT_EXPECTED,
                gettext("%(qr_id)s is already a child bag; it cannot be a parent.") % {"qr_id": parsed.qr_id},
            )
        is_new = state.bag_id is None
        if is_new and not state.product_is_active:
            raise ScanRefused(
                ScanRefusal.PRODUCT_INACTIVE,
                gettext("%(product_name)s is no longer in use: no new %(qr_id)s parents. Ask an admin.")
                % {"product_name": state.product_name, "qr_id": parsed.qr_id},
            )
        if is_new:
            parent_area, child_count = _new_parent_area(user, parsed.qr_id, area_id, state.chosen_area_name), 0
        else:
            parent_area, child_count = state.area_id, state.child_count
        parent = parent_json(
            qr_id=parsed.qr_id,
            product_name=state.product_name,
            child_count=child_count,
            capacity=state.capacity,
            full=state.full,
            complete=state.complete,
        )
        if not is_new:
            _check_area(user, parsed.qr_id, state.area_id, state.area_name, parent)
        if is_new and not user.is_dispatcher:
            code, message = (
                "parent_created",
                gettext("New parent %(qr_id)s (%(product_name)s) in %(area)s. Scan its children.")
                % {"qr_id": parsed.qr_id, "product_name": state.product_name, "area": state.chosen_area_name},
            )
        elif is_new:
            code, message = (
                "parent_created",
                gettext("New parent %(qr_id)s (%(product_name)s). Scan its children.")
                % {"qr_id": parsed.qr_id, "product_name": state.product_name},
            )
        elif parent["full"]:
            code, message = (
                "parent_opened",
                gettext("%(qr_id)s is already full (%(child_count)s of %(capacity)s).")
                % {"qr_id": parsed.qr_id, "child_count": child_count, "capacity": state.capacity},
            )
        elif parent["complete"]:
            code, message = (
                "parent_opened",
                gettext("%(qr_id)s was marked complete (%(child_count)s of %(capacity)s).")
                % {"qr_id": parsed.qr_id, "child_count": child_count, "capacity": state.capacity},
            )
        else:
            code, message = (
                "parent_opened",
                gettext("Opened %(qr_id)s: %(child_count)s of %(capacity)s. Scan its children.")
                % {"qr_id": parsed.qr_id, "child_count": child_count, "capacity": state.capacity},
            )
        body = {"ok": True, "code": code, "message": message, "parent": parent}
        stored = tx.open_parent(
            client_scan_id=scan_id,
            user_id=user.pk,
            area_id=parent_area,
            parent_id=state.bag_id,
            parent_qr=parsed.qr_id,
            product_id=state.product_id,
            body=body,
            device_time=when,
        )
        if stored is None:
            raise _Contended
        return ScanAnswer(200, stored)

    return _exactly_once(user, client_scan_id, decide, begin=Scan.objects.transaction)


def scan_child(
    *, user: User, parent_code: Any, raw_code: Any, client_scan_id: Any, scanned_at: Any = None
) -> ScanAnswer:
    """Put a child bag into a parent: the child is created if new, linked, counted and recorded.

    The parent row is locked first, so scans into one parent queue and its count never passes
    capacity. The child takes the parent's dispatch area (a loose child first scanned elsewhere too), so
    whoever sees the parent sees its children; an undo leaves it there. Refused: a code that is not a child
    code, an unknown parent, a parent of another area (for dispatchers), a child already in another parent
    (naming it, except to a dispatcher of another area) or already in this one, a full parent, a parent
    marked complete.
    """
    when = device_time(scanned_at)

    def decide(scan_id: str, tx: ScanTransaction) -> ScanAnswer:
        formats = _formats()
        try:
            parent_qr = qr.parse_parent(parent_code if isinstance(parent_code, str) else None, formats).qr_id
            child_qr = qr.parse_child(raw_code if isinstance(raw_code, str) else None, formats).qr_id
        except qr.QRCodeError as error:
            replay = _replay_or_none(user, scan_id)
            if replay:
                return replay
            raise ScanRefused.from_qr_error(error) from error
        state = tx.child_scan_state(client_scan_id=scan_id, parent_qr=parent_qr, child_qr=child_qr)
        if state.reply:
            return _replay(user, state.reply)
        if state.parent_id is None:
            raise ScanRefused(
                ScanRefusal.UNKNOWN_PARENT,
                gettext("Parent %(parent_qr)s was not found. Scan the parent bag again.") % {"parent_qr": parent_qr},
                status=404,
            )
        parent = parent_json(
            qr_id=parent_qr,
            product_name=state.product_name,
            child_count=state.child_count,
            capacity=state.capacity,
            full=state.full,
            complete=state.complete,
        )
        _check_area(user, parent_qr, state.parent_area_id, state.parent_area_name, parent)
        if state.child_kind == qr.PARENT:
            raise ScanRefused(
                QRRefusal.PARENT_WHERE_CHILD_EXPECTED,
                gettext("%(child_qr)s is a parent bag, not a child.") % {"child_qr": child_qr},
                parent=parent,
            )
        if state.child_parent_id == state.parent_id:
            raise ScanRefused(
                ScanRefusal.ALREADY_IN_THIS_PARENT,
                gettext("%(child_qr)s is already in %(parent_qr)s. Nothing changed.")
                % {"child_qr": child_qr, "parent_qr": parent_qr},
                parent=parent,
            )
        if state.child_parent_id is not None:
            # A dispatcher is not told another area's parent code: only that the bag is taken there.
            hidden = user.is_dispatcher and state.child_parent_area_id != user.dispatch_area_id
            if hidden:
                message = gettext(
                    "%(child_qr)s is already in a parent of another dispatch area. It was not added to %(parent_qr)s."
                )
            else:
                message = gettext("%(child_qr)s is already in parent %(other)s. It was not added to %(parent_qr)s.")
            raise ScanRefused(
                ScanRefusal.CHILD_IN_OTHER_PARENT,
                message % {"child_qr": child_qr, "other": state.child_parent_qr, "parent_qr": parent_qr},
                parent=parent,
            )
        if parent["full"]:
            raise ScanRefused(
                ScanRefusal.PARENT_FULL,
                gettext("%(parent_qr)s is full (%(child_count)s of %(capacity)s). Scan the next parent bag.")
                % {"parent_qr": parent_qr, "child_count": state.child_count, "capacity": state.capacity},
                parent=parent,
            )
        if parent["complete"]:
            raise ScanRefused(
                ScanRefusal.PARENT_COMPLETE,
                gettext("%(parent_qr)s was marked complete. Scan the next parent bag.") % {"parent_qr": parent_qr},
                parent=parent,
            )
        count = state.child_count + 1
        parent = parent_json(
            qr_id=parent_qr,
            product_name=state.product_name,
            child_count=count,
            capacity=state.capacity,
            # Not complete before this child (refused above), so complete now only if it made the parent full.
            full=state.full_with_one_more,
            complete=state.full_with_one_more,
        )
        if parent["full"]:
            message = gettext(
                "%(child_qr)s added. %(parent_qr)s is now full (%(count)s of %(capacity)s): scan the next parent."
            ) % {"child_qr": child_qr, "parent_qr": parent_qr, "count": count, "capacity": state.capacity}
        else:
            message = gettext("%(child_qr)s added to %(parent_qr)s: %(count)s of %(capacity)s.") % {
                "child_qr": child_qr,
                "parent_qr": parent_qr,
                "count": count,
                "capacity": state.capacity,
            }
        body = {"ok": True, "code": "linked", "message": message, "parent": parent}
        try:
            stored = tx.link_child(
                client_scan_id=scan_id,
                user_id=user.pk,
                area_id=state.parent_area_id,
                parent_id=state.parent_id,
                parent_qr=parent_qr,
                child_id=state.child_id,
                child_qr=child_qr,
                body=body,
                device_time=when,
            )
        except IntegrityError as error:
            if _constraint(error) != PARENT_CODE_NOT_FOR_CHILDREN:
                raise
            # This process's parent formats were a moment old (a product just added): read them again.
            forget_parent_formats()
            raise _Contended from error
        if stored is None:
            raise _Contended
        return ScanAnswer(200, stored)

    return _exactly_once(user, client_scan_id, decide, begin=Scan.objects.transaction)


def _store(user: User, scan_id: str, body: dict[str, Any], *, status: int = 200) -> ScanAnswer:
    if not Scan.objects.store_reply(client_scan_id=scan_id, user_id=user.pk, status=status, body=body):
        raise _Contended
    return ScanAnswer(status, body)


def _record_event(**fields) -> Scan:
    """An ORM-written scan event; a clash on its unique client id or reverted scan means a concurrent
    request got there first."""
    try:
        with transaction.atomic():
            return Scan.objects.create(**fields)
    except IntegrityError as error:
        raise _Contended from error


def _locked_parent(user: User, parent_code: Any) -> Bag:
    try:
        parent_qr = qr.parse_parent(parent_code if isinstance(parent_code, str) else None, _formats()).qr_id
    except qr.QRCodeError as error:
        raise ScanRefused.from_qr_error(error) from error
    parent = (
        Bag.objects.with_completion()
        .select_for_update(of=("self",))
        .select_related("product", "dispatch_area")
        .filter(qr_id=parent_qr, kind=qr.PARENT)
        .first()
    )
    if parent is None:
        raise ScanRefused(
            ScanRefusal.UNKNOWN_PARENT,
            gettext("Parent %(parent_qr)s was not found.") % {"parent_qr": parent_qr},
            status=404,
        )
    return parent


def _bag_parent_json(parent: Bag) -> dict[str, Any]:
    return parent_json(
        qr_id=parent.qr_id,
        product_name=parent.product.name,
        child_count=parent.child_count,
        capacity=parent.product.capacity,
        full=parent.full,
        complete=parent.complete,
    )


def _locked_parents(*parent_ids: int) -> dict[int, Bag]:
    """The parents, locked in id order: every service that changes two parents locks them so (the scan loop
    locks one), so no two transactions can each hold a parent the other waits for. A parent deleted
    meanwhile is missing."""
    parents = (
        Bag.objects.with_completion()
        .select_for_update(of=("self",))
        .select_related("product", "dispatch_area")
        .filter(pk__in=parent_ids, kind=qr.PARENT)
        .order_by("pk")
    )
    return {parent.pk: parent for parent in parents}


def _fresh_parent_json(parent_id: int) -> dict[str, Any]:
    # Read again after a write: the count and whether the parent is full or complete are the database's to say.
    return _bag_parent_json(Bag.objects.with_completion().select_related("product").get(pk=parent_id))


def _area_name(parent: Bag) -> str | None:
    return getattr(parent.dispatch_area, "name", None)


def _check_not_on_finalised_bill(parent: Bag, child_qr: str, *, doing: str) -> None:
    """A finalised bill froze its parents' children: none is taken out of one while the bill is finalised."""
    bill_number = Scan.objects.finalised_bill(parent.pk)
    if bill_number is not None:
        raise ScanRefused(
            ScanRefusal.ON_FINALISED_BILL,
            # Translators: doing is "moved out of it" or "taken out of it".
            gettext(
                "%(qr_id)s is on finalised bill %(bill_number)s: %(child_qr)s cannot be %(doing)s. "
                "Ask an admin to reopen the bill first."
            )
            % {"qr_id": parent.qr_id, "bill_number": bill_number, "child_qr": child_qr, "doing": doing},
            parent=_bag_parent_json(parent),
        )


def _check_room(parent: Bag, child_qr: str, *, what: str) -> None:
    """A parent takes a child only while it is neither full nor marked complete, as for a scan."""
    state = _bag_parent_json(parent)
    if state["full"]:
        raise ScanRefused(
            ScanRefusal.PARENT_FULL,
            gettext("%(qr_id)s is full (%(child_count)s of %(capacity)s): %(child_qr)s %(what)s.")
            % {
                "qr_id": parent.qr_id,
                "child_count": parent.child_count,
                "capacity": state["capacity"],
                "child_qr": child_qr,
                "what": what,
            },
            parent=state,
        )
    if state["complete"]:
        raise ScanRefused(
            ScanRefusal.PARENT_COMPLETE,
            gettext("%(qr_id)s was marked complete: %(child_qr)s %(what)s.")
            % {"qr_id": parent.qr_id, "child_qr": child_qr, "what": what},
            parent=state,
        )


def _rehome(child_id: int, parent: Bag, now: datetime) -> None:
    """The child takes the area of the parent it goes into, as in a scan (whoever sees the parent sees it)."""
    Bag.objects.filter(pk=child_id).exclude(dispatch_area_id=parent.dispatch_area_id).update(
        dispatch_area_id=parent.dispatch_area_id, updated_at=now
    )


def _relink(link: Link, parent: Bag, user: User, now: datetime) -> None:
    """Put a linked child into another parent: bags_link's trigger takes it off the old parent's count and
    onto the new one's in the same statement. The link's time and maker say since when, and by whom."""
    Link.objects.filter(pk=link.pk).update(parent_id=parent.pk, created_by=user, created_at=now)
    _rehome(link.child_id, parent, now)


def _parse_child(raw_code: Any) -> str:
    try:
        return qr.parse_child(raw_code if isinstance(raw_code, str) else None, _formats()).qr_id
    except qr.QRCodeError as error:
        raise ScanRefused.from_qr_error(error) from error


def _linked_child(child_qr: str) -> tuple[Bag, Link | None]:
    child = Bag.objects.filter(qr_id=child_qr).first()
    if child is None:
        raise ScanRefused(
            ScanRefusal.UNKNOWN_BAG,
            gettext("There is no bag %(child_qr)s: it was never scanned.") % {"child_qr": child_qr},
            status=404,
        )
    if child.kind == qr.PARENT:
        raise ScanRefused(
            QRRefusal.PARENT_WHERE_CHILD_EXPECTED,
            gettext("%(child_qr)s is a parent bag, not a child.") % {"child_qr": child_qr},
        )
    return child, Link.objects.filter(child=child).first()


def _check_link_unchanged(link: Link) -> Link:
    """The child's link read again once its parent is locked: anyone changing it holds that lock, so this
    read is the truth until commit. Changed since the first, unlocked read: decide again on fresh data."""
    current = Link.objects.filter(child_id=link.child_id).select_related("child").first()
    if current is None or current.parent_id != link.parent_id:
        raise _Contended
    return current


def move_child(
    *, user: User, raw_code: Any, parent_code: Any, client_scan_id: Any, scanned_at: Any = None
) -> ScanAnswer:
    """Move a child bag out of the parent it is in and into another: scanned, the child and then its new parent.

    Both parents are locked in id order. The new parent's rules are a scan's: a dispatcher moves only within
    their area (both parents), billers and admins anywhere; a full parent or one marked complete takes no
    child. The child takes the new parent's area. Refused too: a child in no parent (scan it in instead),
    already in the new parent, or whose parent is on a finalised bill (named). Recorded as a ``move`` event
    naming the parent it left; undone like a link (undo_last_scan).
    """
    when = device_time(scanned_at)

    def decide(reply_id: str, tx: ScanManager) -> ScanAnswer:
        replay = _replay_or_none(user, reply_id)
        if replay:
            return replay
        try:
            parent_qr = qr.parse_parent(parent_code if isinstance(parent_code, str) else None, _formats()).qr_id
        except qr.QRCodeError as error:
            raise ScanRefused.from_qr_error(error) from error
        child_qr = _parse_child(raw_code)
        child, link = _linked_child(child_qr)
        target_id = Bag.objects.filter(qr_id=parent_qr, kind=qr.PARENT).values_list("pk", flat=True).first()
        if target_id is None:
            raise ScanRefused(
                ScanRefusal.UNKNOWN_PARENT,
                gettext("Parent %(parent_qr)s was not found. Scan the new parent again.") % {"parent_qr": parent_qr},
                status=404,
            )
        parents = _locked_parents(target_id, *([link.parent_id] if link else []))
        target = parents.get(target_id)
        if target is None:
            raise _Contended  # deleted since it was read
        target_state = _bag_parent_json(target)
        _check_area(user, parent_qr, target.dispatch_area_id, _area_name(target), target_state)
        if link is None:
            raise ScanRefused(
                ScanRefusal.NOT_IN_A_PARENT,
                gettext(
                    "%(child_qr)s is in no parent, so there is nothing to move. Scan it into %(parent_qr)s as a child."
                )
                % {"child_qr": child_qr, "parent_qr": parent_qr},
                parent=target_state,
            )
        link = _check_link_unchanged(link)
        source = parents.get(link.parent_id)
        if source is None:
            raise _Contended  # its parent was not there to lock: read again
        if source.pk == target.pk:
            raise ScanRefused(
                ScanRefusal.ALREADY_IN_THIS_PARENT,
                gettext("%(child_qr)s is already in %(parent_qr)s. Nothing changed.")
                % {"child_qr": child_qr, "parent_qr": parent_qr},
                parent=target_state,
            )
        if user.is_dispatcher and source.dispatch_area_id != user.dispatch_area_id:
            raise ScanRefused(
                ScanRefusal.NOT_YOUR_AREA,
                gettext("%(child_qr)s is in a parent of another dispatch area. Ask a supervisor to move it.")
                % {"child_qr": child_qr},
                status=403,
                parent=target_state,
            )
        _check_not_on_finalised_bill(source, child_qr, doing=gettext("moved out of it"))
        _check_room(target, child_qr, what=gettext("was not moved"))
        now = timezone.now()
        _relink(link, target, user, now)
        event = _record_event(
            client_scan_id=reply_id,
            user=user,
            action=ScanAction.MOVE,
            bag_id=child.pk,
            bag_qr=child_qr,
            parent=target,
            parent_qr=target.qr_id,
            from_parent=source,
            from_parent_qr=source.qr_id,
            dispatch_area_id=target.dispatch_area_id,
            device_time=when,
            created_at=now,
        )
        target_state, source_state = _fresh_parent_json(target.pk), _fresh_parent_json(source.pk)
        count, capacity = target_state["child_count"], target_state["capacity"]
        message = gettext("%(child_qr)s moved from %(from_parent)s to %(parent_qr)s: %(count)s of %(capacity)s.") % {
            "child_qr": child_qr,
            "from_parent": source.qr_id,
            "parent_qr": parent_qr,
            "count": count,
            "capacity": capacity,
        }
        if target_state["full"]:
            message += gettext(" %(parent_qr)s is now full.") % {"parent_qr": parent_qr}
        body = {
            "ok": True,
            "code": "moved",
            "message": message,
            "parent": target_state,
            "other_parent": source_state,
            "scan": Scan.objects.event_json(event),
        }
        return _store(user, reply_id, body)

    return _exactly_once(user, client_scan_id, decide, begin=_atomic)


def _undo_refusal(target: Scan, *, too_late: bool) -> str:
    """Why an undo of ``target`` (a child scan or a move) is refused, naming what it was."""
    words = {"child": target.bag_qr, "parent": target.parent_qr, "from_parent": target.from_parent_qr}
    if target.action == ScanAction.MOVE:
        if too_late:
            message = gettext(
                "Your last move (%(child)s from %(from_parent)s to %(parent)s) is more than an hour old. "
                "Ask an admin to correct it."
            )
        else:
            message = gettext("The move of %(child)s from %(from_parent)s to %(parent)s was already undone.")
    elif too_late:
        message = gettext(
            "Your last scan (%(child)s into %(parent)s) is more than an hour old. Ask an admin to correct it."
        )
    else:
        message = gettext("The scan of %(child)s into %(parent)s was already undone.")
    return message % words


def undo_last_scan(
    *,
    user: User,
    client_scan_id: Any,
    scan_id: Any = None,
    request: HttpRequest | None = None,
    scanned_at: Any = None,
) -> ScanAnswer:
    """Take back a child scan (the child leaves the parent) or a move (the child goes back into the parent
    it left, under a move's rules: area, room, not out of a parent on a finalised bill): an undo event and
    an audit entry are written. A dispatcher or biller undoes only their own most recent child scan or move,
    within one hour; an admin may name any (``scan_id``), however old. A scan is undone at most once.
    Undoing a link, the child keeps the parent's area, which it took when linked: it stays with the
    dispatchers who last had it, not those of wherever it was first scanned.
    """
    when = device_time(scanned_at)

    def decide(reply_id: str, tx: ScanManager) -> ScanAnswer:
        replay = _replay_or_none(user, reply_id)
        if replay:
            return replay
        now = timezone.now()
        if scan_id is not None:
            if not user.is_admin:
                raise ScanRefused(
                    ScanRefusal.FORBIDDEN, gettext("Only an admin can undo another scan than your last."), status=403
                )
            if not isinstance(scan_id, int) or isinstance(scan_id, bool):
                raise _NotStored(EdgeRefusal.BAD_REQUEST, gettext("scan_id must be a whole number."), status=400)
            target = Scan.objects.filter(pk=scan_id, action__in=UNDOABLE).first()
            if target is None:
                raise ScanRefused(
                    ScanRefusal.NOTHING_TO_UNDO,
                    gettext("There is no child scan or move %(scan_id)s.") % {"scan_id": scan_id},
                    status=404,
                )
        else:
            target = Scan.objects.filter(user=user, action__in=UNDOABLE).order_by("-created_at", "-pk").first()
            if target is None:
                raise ScanRefused(ScanRefusal.NOTHING_TO_UNDO, gettext("You have no child scan to undo."), status=404)
            if not user.is_admin and now - target.created_at > UNDO_WINDOW:
                raise ScanRefused(ScanRefusal.UNDO_TOO_LATE, _undo_refusal(target, too_late=True))
        if Scan.objects.filter(reverts=target).exists():
            raise ScanRefused(ScanRefusal.ALREADY_UNDONE, _undo_refusal(target, too_late=False))
        if target.parent_id is None:
            raise ScanRefused(
                ScanRefusal.UNKNOWN_PARENT,
                gettext("Parent %(parent_qr)s no longer exists.") % {"parent_qr": target.parent_qr},
                status=404,
            )
        if target.action == ScanAction.MOVE:
            return _undo_move(user, reply_id, target, now, when, request)
        parent = _locked_parent(user, target.parent_qr)
        link = Link.objects.filter(child_id=target.bag_id, parent_id=parent.pk).select_related("child").first()
        if link is None:
            raise ScanRefused(
                ScanRefusal.MOVED,
                gettext("%(bag_qr)s is no longer in %(parent_qr)s; nothing to undo.")
                % {"bag_qr": target.bag_qr, "parent_qr": target.parent_qr},
                parent=_bag_parent_json(parent),
            )
        _check_not_on_finalised_bill(parent, target.bag_qr, doing=gettext("taken out of it"))
        record(actor=user, action=AuditAction.SCAN_UNDO, obj=link, before=snapshot(link), request=request)
        link.delete()  # bags_link's trigger takes it off the parent's count
        event = _record_event(
            client_scan_id=reply_id,
            user=user,
            action=ScanAction.UNDO,
            bag_id=target.bag_id,
            bag_qr=target.bag_qr,
            parent=parent,
            parent_qr=parent.qr_id,
            dispatch_area_id=parent.dispatch_area_id,
            reverts=target,
            device_time=when,
            created_at=now,
        )
        parent_state = _fresh_parent_json(parent.pk)
        body = {
            "ok": True,
            "code": "undone",
            "message": gettext("Undone: %(bag_qr)s taken out of %(qr_id)s (%(child_count)s of %(capacity)s).")
            % {
                "bag_qr": target.bag_qr,
                "qr_id": parent.qr_id,
                "child_count": parent_state["child_count"],
                "capacity": parent_state["capacity"],
            },
            "parent": parent_state,
            "scan": Scan.objects.event_json(event),
        }
        return _store(user, reply_id, body)

    return _exactly_once(user, client_scan_id, decide, begin=_atomic)


def _undo_move(
    user: User, reply_id: str, target: Scan, now: datetime, when: datetime | None, request: HttpRequest | None
) -> ScanAnswer:
    """The child goes back from the parent it was moved into to the one it left, as a move would take it."""
    parents = _locked_parents(target.parent_id, *([target.from_parent_id] if target.from_parent_id else []))
    moved_into, back_into = parents.get(target.parent_id), parents.get(target.from_parent_id)
    if moved_into is None:
        raise ScanRefused(
            ScanRefusal.UNKNOWN_PARENT,
            gettext("Parent %(parent_qr)s no longer exists.") % {"parent_qr": target.parent_qr},
            status=404,
        )
    link = Link.objects.filter(child_id=target.bag_id, parent_id=moved_into.pk).select_related("child").first()
    if link is None:
        raise ScanRefused(
            ScanRefusal.MOVED,
            gettext("%(bag_qr)s is no longer in %(parent_qr)s; nothing to undo.")
            % {"bag_qr": target.bag_qr, "parent_qr": target.parent_qr},
            parent=_bag_parent_json(moved_into),
        )
    if back_into is None:
        raise ScanRefused(
            ScanRefusal.UNKNOWN_PARENT,
            gettext("Parent %(from_parent_qr)s no longer exists: %(bag_qr)s cannot go back into it.")
            % {"from_parent_qr": target.from_parent_qr, "bag_qr": target.bag_qr},
            status=404,
            parent=_bag_parent_json(moved_into),
        )
    for parent in (back_into, moved_into):
        _check_area(user, parent.qr_id, parent.dispatch_area_id, _area_name(parent), _bag_parent_json(parent))
    _check_not_on_finalised_bill(moved_into, target.bag_qr, doing=gettext("taken out of it"))
    _check_room(back_into, target.bag_qr, what=gettext("cannot go back into it"))
    record(actor=user, action=AuditAction.SCAN_UNDO, obj=link, before=snapshot(link), request=request)
    _relink(link, back_into, user, now)
    event = _record_event(
        client_scan_id=reply_id,
        user=user,
        action=ScanAction.UNDO,
        bag_id=target.bag_id,
        bag_qr=target.bag_qr,
        parent=moved_into,
        parent_qr=moved_into.qr_id,
        dispatch_area_id=moved_into.dispatch_area_id,
        reverts=target,
        device_time=when,
        created_at=now,
    )
    moved_state, back_state = _fresh_parent_json(moved_into.pk), _fresh_parent_json(back_into.pk)
    body = {
        "ok": True,
        "code": "undone",
        "message": gettext(
            "Undone: %(bag_qr)s moved back from %(qr_id)s to %(back_into_qr_id)s (%(child_count)s of %(capacity)s)."
        )
        % {
            "bag_qr": target.bag_qr,
            "qr_id": moved_into.qr_id,
            "back_into_qr_id": back_into.qr_id,
            "child_count": back_state["child_count"],
            "capacity": back_state["capacity"],
        },
        "parent": moved_state,
        "other_parent": back_state,
        "scan": Scan.objects.event_json(event),
    }
    return _store(user, reply_id, body)


def complete_parent(*, user: User, parent_code: Any, client_scan_id: Any, scanned_at: Any = None) -> ScanAnswer:
    """Mark a parent done before it is full (a full parent is complete already); recorded as a scan."""
    when = device_time(scanned_at)

    def decide(reply_id: str, tx: ScanManager) -> ScanAnswer:
        replay = _replay_or_none(user, reply_id)
        if replay:
            return replay
        parent = _locked_parent(user, parent_code)
        state = _bag_parent_json(parent)
        _check_area(user, parent.qr_id, parent.dispatch_area_id, _area_name(parent), state)
        now = timezone.now()
        if state["complete"]:
            message = gettext("%(qr_id)s was already complete (%(child_count)s of %(capacity)s).") % {
                "qr_id": parent.qr_id,
                "child_count": parent.child_count,
                "capacity": state["capacity"],
            }
        else:
            Bag.objects.filter(pk=parent.pk).update(completed_at=now, updated_at=now)
            state["complete"] = True
            message = gettext("%(qr_id)s marked complete with %(child_count)s of %(capacity)s.") % {
                "qr_id": parent.qr_id,
                "child_count": parent.child_count,
                "capacity": state["capacity"],
            }
        event = _record_event(
            client_scan_id=reply_id,
            user=user,
            action=ScanAction.COMPLETE,
            bag=parent,
            bag_qr=parent.qr_id,
            parent=parent,
            parent_qr=parent.qr_id,
            dispatch_area_id=parent.dispatch_area_id,
            device_time=when,
            created_at=now,
        )
        body = {
            "ok": True,
            "code": "completed",
            "message": message,
            "parent": state,
            "scan": Scan.objects.event_json(event),
        }
        return _store(user, reply_id, body)

    return _exactly_once(user, client_scan_id, decide, begin=_atomic)


def _unlink(
    *, link: Link, parent: Bag, actor: User, reason: str, client_scan_id: str | None, request: HttpRequest | None
) -> Scan:
    """Take a child out of its parent, locked by the caller: audited with the reason, an ``unlink`` event with
    the reason (in the parent's area, as the totals count it), the parent's count kept by bags_link's trigger."""
    record(
        actor=actor,
        action=AuditAction.LINK_DELETE,
        obj=link,
        before=snapshot(link),
        after={"reason": reason},
        request=request,
    )
    event = _record_event(
        client_scan_id=client_scan_id,
        user=actor,
        action=ScanAction.UNLINK,
        bag_id=link.child_id,
        bag_qr=link.child.qr_id,
        parent=parent,
        parent_qr=parent.qr_id,
        dispatch_area_id=parent.dispatch_area_id,
        reason=reason,
        created_at=timezone.now(),
    )
    link.delete()
    return event


def supervisor_unlink(
    *, user: User, child_code: Any, reason: Any, client_scan_id: Any, request: HttpRequest | None = None
) -> ScanAnswer:
    """A biller or admin takes a child out of its parent, however long ago it went in, saying why: audited,
    an ``unlink`` event with the reason, exactly once (a client id, as a scan). The child keeps the parent's
    area. Refused: dispatchers, no reason (or one over 200 characters), a child in no parent, a child whose
    parent is on a finalised bill (named).
    """

    def decide(reply_id: str, tx: ScanManager) -> ScanAnswer:
        replay = _replay_or_none(user, reply_id)
        if replay:
            return replay
        why = check_reason(reason)
        if not user.handles_bills:
            raise ScanRefused(
                ScanRefusal.FORBIDDEN, gettext("Only billers and admins take a child out of its parent."), status=403
            )
        child_qr = _parse_child(child_code)
        _, link = _linked_child(child_qr)
        if link is None:
            raise ScanRefused(
                ScanRefusal.NOT_IN_A_PARENT,
                gettext("%(child_qr)s is in no parent: nothing to take out.") % {"child_qr": child_qr},
            )
        parent = _locked_parents(link.parent_id).get(link.parent_id)
        if parent is None:
            raise _Contended
        link = _check_link_unchanged(link)
        _check_not_on_finalised_bill(parent, child_qr, doing=gettext("taken out of it"))
        event = _unlink(link=link, parent=parent, actor=user, reason=why, client_scan_id=reply_id, request=request)
        state = _fresh_parent_json(parent.pk)
        body = {
            "ok": True,
            "code": "unlinked",
            "message": gettext("%(child_qr)s taken out of %(qr_id)s (%(child_count)s of %(capacity)s left).")
            % {
                "child_qr": child_qr,
                "qr_id": parent.qr_id,
                "child_count": state["child_count"],
                "capacity": state["capacity"],
            },
            "parent": state,
            "scan": Scan.objects.event_json(event),
        }
        return _store(user, reply_id, body)

    return _exactly_once(user, client_scan_id, decide, begin=_atomic)


def unlink_child(*, link: Link, actor: User, reason: Any, request: HttpRequest | None = None) -> None:
    """The admin's unlink (the Django admin's delete of a link): as supervisor_unlink, without a client id.

    The parent row is locked first (the scan loop's order: parent before child), so a scan into the
    same parent cannot interleave with the count update.
    """
    why = check_reason(reason)
    with transaction.atomic():
        parent = _locked_parents(link.parent_id)[link.parent_id]
        _check_not_on_finalised_bill(parent, link.child.qr_id, doing=gettext("taken out of it"))
        _unlink(link=link, parent=parent, actor=actor, reason=why, client_scan_id=None, request=request)
