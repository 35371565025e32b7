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
            "Each scan needs a client_scan_id of 8 to 64 letters, digits, '-' or '_'.",
            status=400,
        )
    return client_scan_id


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
    raise ScanRefused(EdgeRefusal.BUSY, "The server was busy with the same bags. Scan again.", status=503)


def _replay(user: User, reply: StoredReply) -> ScanAnswer:
    if reply.user_id != user.pk:
        # Never stored: ids are random, so this is a misbehaving client, not a retry.
        raise _NotStored(ScanRefusal.CLIENT_SCAN_ID_TAKEN, "This client_scan_id was already used by someone else.")
    return ScanAnswer(reply.status, reply.body, replayed=True)


def _replay_or_none(user: User, client_scan_id: str) -> ScanAnswer | None:
    reply = Scan.objects.stored_reply(client_scan_id)
    return _replay(user, reply) if reply else None


def _formats() -> tuple[qr.ParentFormat, ...]:
    return Product.objects.parent_formats()


def _check_area(user: User, parent_qr: str, area_id: int | None, area_name: str | None, parent=None) -> None:
    if user.is_dispatcher and area_id != user.dispatch_area_id:
        where = f"area {area_name}" if area_name else "no dispatch area"
        raise ScanRefused(
            ScanRefusal.NOT_YOUR_AREA,
            f"{parent_qr} belongs to {where}, not yours ({user.dispatch_area}). Ask a supervisor.",
            status=403,
            parent=parent,
        )


def open_parent(*, user: User, raw_code: Any, client_scan_id: Any) -> ScanAnswer:
    """Open a parent bag for scanning, creating it in the dispatcher's area if it is new.

    Refused: a code that is not a parent code, a parent of another area (for dispatchers), a new
    parent of a product taken out of use.
    """

    def decide(scan_id: str, tx: ScanTransaction) -> ScanAnswer:
        try:
            parsed = qr.parse_parent(raw_code if isinstance(raw_code, str) else None, _formats())
        except qr.QRCodeError as error:
            replay = _replay_or_none(user, scan_id)
            if replay:
                return replay
            raise ScanRefused.from_qr_error(error) from error
        state = tx.parent_scan_state(client_scan_id=scan_id, parent_qr=parsed.qr_id, product_code=parsed.product_code)
        if state.reply:
            return _replay(user, state.reply)
        if state.bag_kind == qr.CHILD:
            # A product added later whose format covers an existing child's code.
            raise ScanRefused(
                QRRefusal.CHILD_WHERE_PARENT_EXPECTED, f"{parsed.qr_id} is already a child bag; it cannot be a parent."
            )
        is_new = state.bag_id is None
        if is_new and not state.product_is_active:
            raise ScanRefused(
                ScanRefusal.PRODUCT_INACTIVE,
                f"{state.product_name} is no longer in use: no new {parsed.qr_id} parents. Ask an admin.",
            )
        area_id, child_count = (user.dispatch_area_id, 0) if is_new else (state.area_id, state.child_count)
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
        if is_new:
            code, message = "parent_created", f"New parent {parsed.qr_id} ({state.product_name}). Scan its children."
        elif parent["full"]:
            code, message = "parent_opened", f"{parsed.qr_id} is already full ({child_count} of {state.capacity})."
        elif parent["complete"]:
            code, message = "parent_opened", f"{parsed.qr_id} was marked complete ({child_count} of {state.capacity})."
        else:
            code, message = (
                "parent_opened",
                f"Opened {parsed.qr_id}: {child_count} of {state.capacity}. Scan its children.",
            )
        body = {"ok": True, "code": code, "message": message, "parent": parent}
        stored = tx.open_parent(
            client_scan_id=scan_id,
            user_id=user.pk,
            area_id=area_id,
            parent_id=state.bag_id,
            parent_qr=parsed.qr_id,
            product_id=state.product_id,
            body=body,
        )
        if stored is None:
            raise _Contended
        return ScanAnswer(200, stored)

    return _exactly_once(user, client_scan_id, decide, begin=Scan.objects.transaction)


def scan_child(*, user: User, parent_code: Any, raw_code: Any, client_scan_id: Any) -> ScanAnswer:
    """Put a child bag into a parent: the child is created if new, linked, counted and recorded.

    The parent row is locked first, so scans into one parent queue and its count never passes
    capacity. The child takes the parent's dispatch area (a loose child first scanned elsewhere too), so
    whoever sees the parent sees its children; an undo leaves it there. Refused: a code that is not a child
    code, an unknown parent, a parent of another area (for dispatchers), a child already in another parent
    (naming it, except to a dispatcher of another area) or already in this one, a full parent, a parent
    marked complete.
    """

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
                ScanRefusal.UNKNOWN_PARENT, f"Parent {parent_qr} was not found. Scan the parent bag again.", status=404
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
                QRRefusal.PARENT_WHERE_CHILD_EXPECTED, f"{child_qr} is a parent bag, not a child.", parent=parent
            )
        if state.child_parent_id == state.parent_id:
            raise ScanRefused(
                ScanRefusal.ALREADY_IN_THIS_PARENT,
                f"{child_qr} is already in {parent_qr}. Nothing changed.",
                parent=parent,
            )
        if state.child_parent_id is not None:
            # A dispatcher is not told another area's parent code: only that the bag is taken there.
            hidden = user.is_dispatcher and state.child_parent_area_id != user.dispatch_area_id
            holder = "a parent of another dispatch area" if hidden else f"parent {state.child_parent_qr}"
            raise ScanRefused(
                ScanRefusal.CHILD_IN_OTHER_PARENT,
                f"{child_qr} is already in {holder}. It was not added to {parent_qr}.",
                parent=parent,
            )
        if parent["full"]:
            raise ScanRefused(
                ScanRefusal.PARENT_FULL,
                f"{parent_qr} is full ({state.child_count} of {state.capacity}). Scan the next parent bag.",
                parent=parent,
            )
        if parent["complete"]:
            raise ScanRefused(
                ScanRefusal.PARENT_COMPLETE,
                f"{parent_qr} was marked complete. Scan the next parent bag.",
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
            message = f"{child_qr} added. {parent_qr} is now full ({count} of {state.capacity}): scan the next parent."
        else:
            message = f"{child_qr} added to {parent_qr}: {count} of {state.capacity}."
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
        raise ScanRefused(ScanRefusal.UNKNOWN_PARENT, f"Parent {parent_qr} was not found.", status=404)
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


def undo_last_scan(
    *, user: User, client_scan_id: Any, scan_id: Any = None, request: HttpRequest | None = None
) -> ScanAnswer:
    """Take back a child scan: the child leaves the parent, the count drops, an undo event and an audit
    entry are written. A dispatcher or biller undoes only their own most recent child scan, within one
    hour; an admin may name any child scan (``scan_id``), however old. A scan is undone at most once.
    The child keeps the parent's area, which it took when linked: it stays with the dispatchers who
    last had it, not those of wherever it was first scanned.
    """

    def decide(reply_id: str, tx: ScanManager) -> ScanAnswer:
        replay = _replay_or_none(user, reply_id)
        if replay:
            return replay
        now = timezone.now()
        if scan_id is not None:
            if not user.is_admin:
                raise ScanRefused(
                    ScanRefusal.FORBIDDEN, "Only an admin can undo another scan than your last.", status=403
                )
            if not isinstance(scan_id, int) or isinstance(scan_id, bool):
                raise _NotStored(EdgeRefusal.BAD_REQUEST, "scan_id must be a whole number.", status=400)
            target = Scan.objects.filter(pk=scan_id, action=ScanAction.LINK).first()
            if target is None:
                raise ScanRefused(ScanRefusal.NOTHING_TO_UNDO, f"There is no child scan {scan_id}.", status=404)
        else:
            target = Scan.objects.filter(user=user, action=ScanAction.LINK).order_by("-created_at", "-pk").first()
            if target is None:
                raise ScanRefused(ScanRefusal.NOTHING_TO_UNDO, "You have no child scan to undo.", status=404)
            if not user.is_admin and now - target.created_at > UNDO_WINDOW:
                raise ScanRefused(
                    ScanRefusal.UNDO_TOO_LATE,
                    f"Your last scan ({target.bag_qr} into {target.parent_qr}) is more than an hour old. "
                    "Ask an admin to correct it.",
                )
        if Scan.objects.filter(reverts=target).exists():
            raise ScanRefused(
                ScanRefusal.ALREADY_UNDONE, f"The scan of {target.bag_qr} into {target.parent_qr} was already undone."
            )
        if target.parent_id is None:
            raise ScanRefused(ScanRefusal.UNKNOWN_PARENT, f"Parent {target.parent_qr} no longer exists.", status=404)
        parent = _locked_parent(user, target.parent_qr)
        link = Link.objects.filter(child_id=target.bag_id, parent_id=parent.pk).select_related("child").first()
        if link is None:
            raise ScanRefused(
                ScanRefusal.MOVED,
                f"{target.bag_qr} is no longer in {target.parent_qr}; nothing to undo.",
                parent=_bag_parent_json(parent),
            )
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
            created_at=now,
        )
        # Read again: the count and whether the parent is still full or complete are the database's to say.
        parent = Bag.objects.with_completion().select_related("product").get(pk=parent.pk)
        parent_state = _bag_parent_json(parent)
        body = {
            "ok": True,
            "code": "undone",
            "message": f"Undone: {target.bag_qr} taken out of {parent.qr_id} ({parent.child_count} of "
            f"{parent_state['capacity']}).",
            "parent": parent_state,
            "scan": Scan.objects.event_json(event),
        }
        return _store(user, reply_id, body)

    return _exactly_once(user, client_scan_id, decide, begin=_atomic)


def complete_parent(*, user: User, parent_code: Any, client_scan_id: Any) -> ScanAnswer:
    """Mark a parent done before it is full (a full parent is complete already); recorded as a scan."""

    def decide(reply_id: str, tx: ScanManager) -> ScanAnswer:
        replay = _replay_or_none(user, reply_id)
        if replay:
            return replay
        parent = _locked_parent(user, parent_code)
        state = _bag_parent_json(parent)
        _check_area(user, parent.qr_id, parent.dispatch_area_id, getattr(parent.dispatch_area, "name", None), state)
        now = timezone.now()
        if state["complete"]:
            message = f"{parent.qr_id} was already complete ({parent.child_count} of {state['capacity']})."
        else:
            Bag.objects.filter(pk=parent.pk).update(completed_at=now, updated_at=now)
            state["complete"] = True
            message = f"{parent.qr_id} marked complete with {parent.child_count} of {state['capacity']}."
        event = _record_event(
            client_scan_id=reply_id,
            user=user,
            action=ScanAction.COMPLETE,
            bag=parent,
            bag_qr=parent.qr_id,
            parent=parent,
            parent_qr=parent.qr_id,
            dispatch_area_id=parent.dispatch_area_id,
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


def unlink_child(*, link: Link, actor: User, request: HttpRequest | None = None) -> None:
    """Take a child out of its parent: audited, recorded as an unlink scan, the parent's count kept right.
    The child keeps the parent's area, which it took when linked.

    The parent row is locked first (the scan loop's order: parent before child), so a scan into the
    same parent cannot interleave with the count update.
    """
    with transaction.atomic():
        parent = Bag.objects.select_for_update().get(pk=link.parent_id)
        child = link.child
        record(actor=actor, action=AuditAction.LINK_DELETE, obj=link, before=snapshot(link), request=request)
        # Scans are the bag's history: an admin's unlink is part of it, like a dispatcher's.
        Scan.objects.create(
            user=actor,
            action=ScanAction.UNLINK,
            bag=child,
            bag_qr=child.qr_id,
            parent=parent,
            parent_qr=parent.qr_id,
            dispatch_area_id=actor.dispatch_area_id,
        )
        link.delete()  # bags_link's trigger takes it off the parent's count
