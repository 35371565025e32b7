"""Return tickets: every change is one of these functions, each one audited transaction.

A change to a ticket locks the ticket's row first, so changes to one ticket queue and a commit cannot slip
between a scan's check and its write. A scan onto a ticket is exactly once: it carries a client-made id
whose answer, success or refusal, is kept in scanning's reply store (scanning.ScanReply, the scan loop's:
ids are random, so the two never meet) in the same transaction, and a repeat of the id gets that answer
back and writes nothing.

A parent is on one draft ticket at a time: a scan locks the parent's bill entry before it looks for other
drafts holding it, so of two billers scanning it onto two tickets at the same moment the second is refused,
naming the first's ticket. Committing locks the parents' bill entries (bills.services.lock_entries_for_return)
and releases them (bills.services.release_entries): of two commits returning one parent exactly one finds it
still on its bill, and the other is refused, naming the ticket that returned it (the guard that holds
whatever put a parent on two drafts: the admin, a script).
"""

import re
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from accounts.models import User
from audit.choices import AuditAction
from audit.services import record, snapshot
from bags import qr
from bags.error_codes import QRRefusal
from bags.models import Bag, BagKind, Product
from bills import services as bills
from bills.models import BillBag, BillStatus
from returns.choices import ReturnStatus
from returns.error_codes import ReturnRefusal
from returns.models import ReturnTicket, ReturnTicketBag
from scanning.models import Scan
from traitortrack.edge import invalid_fields
from traitortrack.errors import EdgeRefusal, RefusalCode, Refused

CLIENT_SCAN_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
# One key for every ticket number: tickets are made a few a day, so one queue is no cost.
NUMBER_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('returns.ticket_number'))"
_ATTEMPTS = 3


class ReturnRefused(Refused):
    """A ticket change the rules refuse. Its answer has the ticket answer's fields, empty, so a client reads
    one shape."""

    def __init__(self, code: RefusalCode, message: str, *, status: int = 409):
        super().__init__(code, message, status=status, warning=None, ticket=None)

    @classmethod
    def from_qr_error(cls, error: qr.QRCodeError) -> "ReturnRefused":
        child_code = error.code == QRRefusal.CHILD_WHERE_PARENT_EXPECTED
        return cls(ReturnRefusal.NOT_A_PARENT_CODE if child_code else error.code, error.message, status=422)

    @classmethod
    def from_body(cls, status: int, body: dict[str, Any]) -> "ReturnRefused":
        """A refusal kept as a scan's answer, raised again for its repeat."""
        known = (enum(body["code"]) for enum in (ReturnRefusal, QRRefusal) if body["code"] in enum._value2member_map_)
        code = next(known)
        return cls(code, body["message"], status=status)


@dataclass(frozen=True)
class TicketChange:
    """What a change did: the ticket (as saved), a stable code, a sentence, a warning worth showing, and
    whether it is the kept answer of a scan already made (``replayed``)."""

    ticket: ReturnTicket
    code: str
    message: str
    warning: str | None = None
    replayed: bool = False


class _Contended(Exception):
    """The same client scan id was being decided by a concurrent request: decide again on fresh data."""


def _check_biller(user: User) -> None:
    if not (user.is_authenticated and user.handles_bills):
        raise ReturnRefused(
            ReturnRefusal.FORBIDDEN, gettext("Only billers and admins work on return tickets."), status=403
        )


def _parents(count: int) -> str:
    return ngettext("%(count)s parent", "%(count)s parents", count) % {"count": count}


def _locked_ticket(ticket_id: Any) -> ReturnTicket:
    try:
        ticket_id = int(ticket_id)
    except (TypeError, ValueError):
        ticket_id = None
    ticket = ReturnTicket.objects.select_for_update().filter(pk=ticket_id).first() if ticket_id else None
    if ticket is None:
        raise ReturnRefused(ReturnRefusal.UNKNOWN_TICKET, gettext("That return ticket does not exist."), status=404)
    return ticket


def _check_draft(ticket: ReturnTicket) -> None:
    if not ticket.is_draft:
        raise ReturnRefused(
            ReturnRefusal.TICKET_NOT_DRAFT,
            gettext("Ticket %(number)s is %(status)s: it cannot change.")
            % {"number": ticket.number, "status": ticket.get_status_display().lower()},
        )


def _parse_parent(raw_code: Any) -> str:
    try:
        return qr.parse_parent(raw_code if isinstance(raw_code, str) else None, Product.objects.parent_formats()).qr_id
    except qr.QRCodeError as error:
        raise ReturnRefused.from_qr_error(error) from error


def _check_client_scan_id(client_scan_id: Any) -> str:
    if not isinstance(client_scan_id, str) or not CLIENT_SCAN_ID_PATTERN.fullmatch(client_scan_id):
        raise ReturnRefused(
            ReturnRefusal.BAD_CLIENT_SCAN_ID,
            gettext("Each scan needs a client_scan_id of 8 to 64 letters, digits, '-' or '_'."),
            status=400,
        )
    return client_scan_id


def _touch(ticket: ReturnTicket) -> None:
    ticket.updated_at = timezone.now()
    ReturnTicket.objects.filter(pk=ticket.pk).update(updated_at=ticket.updated_at)


def next_number(day) -> tuple[int, str]:
    """The next serial and number of ``day``'s tickets, in the caller's transaction: the advisory lock queues
    the creations until that transaction ends, so two never read the same highest serial (the unique
    (day, serial) index is the backstop)."""
    with connection.cursor() as cursor:
        cursor.execute(NUMBER_LOCK_SQL)
    serial = (ReturnTicket.objects.filter(day=day).aggregate(last=Max("serial"))["last"] or 0) + 1
    return serial, f"RTN-{day:%Y%m%d}-{serial:04d}"


def create_ticket(*, user: User, source: str, notes: str = "", request: HttpRequest | None = None) -> TicketChange:
    """A new draft ticket numbered RTN-<today, local>-<next serial of the day>."""
    _check_biller(user)
    source = source.strip()
    if not source:
        raise invalid_fields({"source": ["Say where the bags came back from."]})
    with transaction.atomic(durable=True):
        day = timezone.localdate()
        serial, number = next_number(day)
        ticket = ReturnTicket.objects.create(
            number=number, day=day, serial=serial, source=source, notes=notes, created_by=user
        )
        record(
            actor=user,
            action=AuditAction.RETURNTICKET_CREATE,
            obj=ticket,
            before=None,
            after=snapshot(ticket),
            request=request,
        )
    return TicketChange(
        ticket,
        "created",
        gettext("Return ticket %(number)s created. Scan the parent bags that came back.") % {"number": number},
    )


def _returned_on(bag: Bag) -> BillBag | None:
    """The parent's latest return, if it came back and is on no bill since."""
    return BillBag.objects.filter(parent_bag=bag, returned_at__isnull=False).order_by("-returned_at", "-pk").first()


def _decide_add(
    user: User, ticket_id: Any, parent_qr: str, client_scan_id: str, request: HttpRequest | None
) -> TicketChange:
    ticket = _locked_ticket(ticket_id)
    _check_draft(ticket)
    bag = Bag.objects.filter(qr_id=parent_qr).first()
    if bag is None:
        raise ReturnRefused(
            ReturnRefusal.UNKNOWN_PARENT,
            gettext("Parent bag %(parent_qr)s was not found.") % {"parent_qr": parent_qr},
            status=404,
        )
    if bag.kind != BagKind.PARENT:
        raise ReturnRefused(
            ReturnRefusal.NOT_A_PARENT_CODE,
            gettext("%(parent_qr)s is a child bag; only parent bags come back on a ticket.") % {"parent_qr": parent_qr},
        )
    if ReturnTicketBag.objects.filter(ticket=ticket, parent_bag=bag).exists():
        raise ReturnRefused(
            ReturnRefusal.ALREADY_ON_THIS_TICKET,
            gettext("%(parent_qr)s is already on this ticket. Nothing changed.") % {"parent_qr": parent_qr},
        )
    # The parent's bill entry is locked, so two scans of one parent onto two tickets queue here and the
    # second finds the first's ticket below.
    entry = BillBag.objects.current().filter(parent_bag=bag).select_related("bill").select_for_update(of=("self",))
    entry = entry.first()
    if entry is None:
        returned = _returned_on(bag)
        if returned is not None:
            raise ReturnRefused(
                ReturnRefusal.ALREADY_RETURNED,
                gettext("%(parent_qr)s was already returned on ticket %(returned_on)s and is on no bill since.")
                % {"parent_qr": parent_qr, "returned_on": returned.returned_on},
            )
        raise ReturnRefused(
            ReturnRefusal.NOT_ON_ANY_BILL,
            gettext(
                "%(parent_qr)s is not on any bill: only parents dispatched on a finalised bill come back on a ticket."
            )
            % {"parent_qr": parent_qr},
        )
    if entry.bill.status != BillStatus.FINALISED:
        raise ReturnRefused(
            ReturnRefusal.BILL_NOT_FINALISED,
            gettext("%(parent_qr)s is on bill %(bill_number)s, which is not finalised: take it off that bill instead.")
            % {"parent_qr": parent_qr, "bill_number": entry.bill.bill_number},
        )
    other = (
        ReturnTicketBag.objects.filter(parent_bag=bag, ticket__status=ReturnStatus.DRAFT)
        .exclude(ticket=ticket)
        .select_related("ticket")
        .first()
    )
    if other is not None:
        raise ReturnRefused(
            ReturnRefusal.ALREADY_ON_TICKET,
            gettext("%(parent_qr)s is already on ticket %(number)s: commit or cancel that one, or take it off it.")
            % {"parent_qr": parent_qr, "number": other.ticket.number},
        )
    try:
        with transaction.atomic():
            ReturnTicketBag.objects.create(
                ticket=ticket,
                parent_bag=bag,
                parent_qr=bag.qr_id,
                bill_bag=entry,
                bill_number=entry.bill.bill_number,
                client_scan_id=client_scan_id,
                added_by=user,
            )
    except IntegrityError as error:
        # The same id at the same moment (its reply decides next round); else this ticket's lock makes it unique.
        raise _Contended from error
    _touch(ticket)
    count = ReturnTicketBag.objects.filter(ticket=ticket).count()
    record(
        actor=user,
        action=AuditAction.RETURNTICKET_PARENT_ADD,
        obj=ticket,
        before={"parent_bag": parent_qr, "ticket": None, "bill": entry.bill.bill_number},
        after={"parent_bag": parent_qr, "ticket": ticket.number, "parent_count": count},
        request=request,
    )
    warning = gettext("%(parent_qr)s holds no children.") % {"parent_qr": parent_qr} if bag.child_count == 0 else None
    message = gettext("%(parent_qr)s (bill %(bill_number)s) added to %(number)s: %(parents)s.") % {
        "parent_qr": parent_qr,
        "bill_number": entry.bill.bill_number,
        "number": ticket.number,
        "parents": _parents(count),
    }
    return TicketChange(ticket, "parent_added", message, warning)


def _replay(user: User, status: int, body: dict[str, Any], user_id: int, ticket_id: Any) -> TicketChange:
    if user_id != user.pk:
        raise ReturnRefused(
            ReturnRefusal.CLIENT_SCAN_ID_TAKEN,
            gettext("This client_scan_id was already used by someone else."),
            status=409,
        )
    if not body.get("ok"):
        raise ReturnRefused.from_body(status, body)
    ticket = ReturnTicket.objects.filter(pk=body["ticket_id"]).first()
    if ticket is None or str(ticket.pk) != str(ticket_id):
        raise ReturnRefused(
            ReturnRefusal.CLIENT_SCAN_ID_TAKEN,
            gettext("This client_scan_id was already used for another scan."),
            status=409,
        )
    return TicketChange(ticket, body["code"], body["message"], body["warning"], replayed=True)


def add_parent(
    *, user: User, ticket_id: Any, raw_code: Any, client_scan_id: Any, request: HttpRequest | None = None
) -> TicketChange:
    """Put a parent bag on a draft ticket (a biller's scan), exactly once per ``client_scan_id``.

    Refused: not a parent code, an unknown parent, a parent already on this ticket, on another draft ticket
    (named), already returned and on no bill since (the ticket named), on no bill, on a bill not finalised,
    a ticket not a draft. A repeat of the id answers as the first time (refusal included) and writes nothing.
    """
    _check_biller(user)
    client_scan_id = _check_client_scan_id(client_scan_id)
    for _ in range(_ATTEMPTS):
        stored = Scan.objects.stored_reply(client_scan_id)
        if stored is not None:
            return _replay(user, stored.status, stored.body, stored.user_id, ticket_id)
        try:
            with transaction.atomic(durable=True):
                try:
                    change = _decide_add(user, ticket_id, _parse_parent(raw_code), client_scan_id, request)
                except ReturnRefused as refusal:
                    status, body, refused = refusal.status, refusal.body(), refusal
                else:
                    status, refused = 200, None
                    body = {
                        "ok": True,
                        "code": change.code,
                        "message": change.message,
                        "warning": change.warning,
                        "ticket_id": change.ticket.pk,
                    }
                if not Scan.objects.store_reply(
                    client_scan_id=client_scan_id, user_id=user.pk, status=status, body=body
                ):
                    raise _Contended
        except _Contended:
            continue
        if refused is not None:
            raise refused
        return change
    raise ReturnRefused(EdgeRefusal.BUSY, gettext("The server was busy with the same scan. Scan again."), status=503)


def remove_parent(*, user: User, ticket_id: Any, raw_code: Any, request: HttpRequest | None = None) -> TicketChange:
    """Take a parent bag off a draft ticket. Refused: a ticket not a draft, a parent not on it."""
    _check_biller(user)
    parent_qr = _parse_parent(raw_code)
    with transaction.atomic(durable=True):
        ticket = _locked_ticket(ticket_id)
        _check_draft(ticket)
        entry = ReturnTicketBag.objects.filter(ticket=ticket, parent_qr=parent_qr).first()
        if entry is None:
            raise ReturnRefused(
                ReturnRefusal.NOT_ON_THIS_TICKET,
                gettext("%(parent_qr)s is not on ticket %(number)s.")
                % {"parent_qr": parent_qr, "number": ticket.number},
                status=404,
            )
        entry.delete()
        _touch(ticket)
        count = ReturnTicketBag.objects.filter(ticket=ticket).count()
        record(
            actor=user,
            action=AuditAction.RETURNTICKET_PARENT_REMOVE,
            obj=ticket,
            before={"parent_bag": parent_qr, "ticket": ticket.number},
            after={"parent_bag": parent_qr, "ticket": None, "parent_count": count},
            request=request,
        )
    return TicketChange(
        ticket,
        "parent_removed",
        gettext("%(parent_qr)s taken off %(number)s: %(parents)s left.")
        % {"parent_qr": parent_qr, "number": ticket.number, "parents": _parents(count)},
    )


def _commit_refusal(entry: ReturnTicketBag, ticket: ReturnTicket) -> ReturnRefused:
    """Why a parent on the ticket cannot be released now (it is on no current bill entry)."""
    returned = _returned_on(entry.parent_bag) if entry.parent_bag_id else None
    if returned is not None and returned.returned_on != ticket.number:
        return ReturnRefused(
            ReturnRefusal.ALREADY_RETURNED,
            gettext("%(parent_qr)s was returned on ticket %(returned_on)s first. Take it off %(number)s, then commit.")
            % {"parent_qr": entry.parent_qr, "returned_on": returned.returned_on, "number": ticket.number},
        )
    return ReturnRefused(
        ReturnRefusal.NOT_ON_ANY_BILL,
        gettext("%(parent_qr)s is no longer on any bill. Take it off %(number)s, then commit.")
        % {"parent_qr": entry.parent_qr, "number": ticket.number},
    )


def commit_ticket(*, user: User, ticket_id: Any, request: HttpRequest | None = None) -> TicketChange:
    """Release every parent on the draft ticket from its bill: each bill entry is marked returned on this
    ticket (its snapshot untouched, a 'returned' bill event written), so the parent may go onto a new bill;
    its children stay in it. All or nothing. Refused: a ticket not a draft, an empty ticket, a parent
    returned on another ticket first (named), on no bill, or on a bill that is no longer finalised."""
    _check_biller(user)
    with transaction.atomic(durable=True):
        ticket = _locked_ticket(ticket_id)
        if ticket.status == ReturnStatus.COMMITTED:
            raise ReturnRefused(
                ReturnRefusal.ALREADY_COMMITTED,
                gettext("Ticket %(number)s is already committed.") % {"number": ticket.number},
            )
        _check_draft(ticket)
        entries = list(ReturnTicketBag.objects.filter(ticket=ticket).select_related("parent_bag").order_by("pk"))
        if not entries:
            raise ReturnRefused(
                ReturnRefusal.TICKET_EMPTY,
                gettext("Ticket %(number)s has no parent bags: scan them before committing.")
                % {"number": ticket.number},
            )
        current = bills.lock_entries_for_return([entry.parent_bag_id for entry in entries])
        for entry in entries:
            bill_entry = current.get(entry.parent_bag_id)
            if bill_entry is None:
                raise _commit_refusal(entry, ticket)
            if bill_entry.bill.status != BillStatus.FINALISED:
                raise ReturnRefused(
                    ReturnRefusal.BILL_NOT_FINALISED,
                    gettext(
                        "%(parent_qr)s is on bill %(bill_number)s, which is no longer finalised. "
                        "Take it off %(number)s, or finalise the bill, then commit."
                    )
                    % {
                        "parent_qr": entry.parent_qr,
                        "bill_number": bill_entry.bill.bill_number,
                        "number": ticket.number,
                    },
                )
            entry.bill_bag, entry.bill_number = bill_entry, bill_entry.bill.bill_number
        before = snapshot(ticket)
        now = timezone.now()
        bills.release_entries(user=user, entries=list(current.values()), ticket_number=ticket.number, at=now)
        ReturnTicketBag.objects.bulk_update(entries, ["bill_bag", "bill_number"])
        ticket.status = ReturnStatus.COMMITTED
        ticket.committed_at = now
        ticket.committed_by = user
        ticket.save()
        bill_numbers = sorted({entry.bill_number for entry in entries})
        record(
            actor=user,
            action=AuditAction.RETURNTICKET_COMMIT,
            obj=ticket,
            before=before,
            after={
                **snapshot(ticket),
                "parents": [{"parent_bag": entry.parent_qr, "bill": entry.bill_number} for entry in entries],
            },
            request=request,
        )
    bills_text = ", ".join(bill_numbers)
    return TicketChange(
        ticket,
        "committed",
        ngettext(
            "Ticket %(number)s committed: %(parents)s returned from bill %(bills)s.",
            "Ticket %(number)s committed: %(parents)s returned from bills %(bills)s.",
            len(bill_numbers),
        )
        % {"number": ticket.number, "parents": _parents(len(entries)), "bills": bills_text},
    )


def cancel_ticket(*, user: User, ticket_id: Any, request: HttpRequest | None = None) -> TicketChange:
    """Cancel a draft ticket: nothing else changes (its parents stay on their bills). Refused: not a draft."""
    _check_biller(user)
    with transaction.atomic(durable=True):
        ticket = _locked_ticket(ticket_id)
        _check_draft(ticket)
        before = snapshot(ticket)
        ticket.status = ReturnStatus.CANCELLED
        ticket.cancelled_at = timezone.now()
        ticket.cancelled_by = user
        ticket.save()
        record(
            actor=user,
            action=AuditAction.RETURNTICKET_CANCEL,
            obj=ticket,
            before=before,
            after=snapshot(ticket),
            request=request,
        )
    return TicketChange(
        ticket, "cancelled", gettext("Ticket %(number)s cancelled: nothing was returned.") % {"number": ticket.number}
    )


def record_export(*, user: User, ticket: ReturnTicket, file_format: str, request: HttpRequest) -> None:
    """Exports are audited (who took which ticket's data out, and how)."""
    record(
        actor=user, action=AuditAction.RETURNTICKET_EXPORT, obj=ticket, after={"format": file_format}, request=request
    )
