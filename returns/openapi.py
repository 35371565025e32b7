"""The OpenAPI 3 description of the return ticket API (returns/api.py), merged into the schema served at
/api/openapi.json (overview/openapi.py). Refusals are the shared Error schema."""

from typing import Any

from returns.choices import ReturnStatus
from returns.forms import ReturnTicketSearchForm
from returns.managers import ReturnTicketQuerySet
from traitortrack.openapi import answers, json_answer, json_body, json_object, list_parameters, ref, refused

SUCCESS_CODES = ["created", "parent_added", "parent_removed", "committed", "cancelled"]

_TICKET_ID = {"name": "ticket_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_WHEN = {"type": "string", "format": "date-time"}
_MAYBE_WHEN = {"type": ["string", "null"], "format": "date-time"}
_MAYBE_TEXT = {"type": ["string", "null"]}


def _answers(success: str, *refusals: int, status: str = "200") -> dict[str, Any]:
    return answers("ReturnTicketAnswer", success, *refusals, status=status)


def paths() -> dict[str, Any]:
    write = [{"session": [], "csrf": []}]
    read = [{"session": []}]
    return {
        "/api/returns": {
            "get": {
                "operationId": "listReturnTickets",
                "summary": "Search return tickets, a page at a time",
                "tags": ["returns"],
                "security": read,
                "parameters": list_parameters(
                    text="In the number or source; or a parent's whole code.",
                    statuses=ReturnStatus.values,
                    sorts=ReturnTicketQuerySet.SORTS,
                    default_sort=ReturnTicketSearchForm.DEFAULT_SORT,
                ),
                "responses": answers("ReturnTicketList", "A page of return tickets."),
            },
            "post": {
                "operationId": "createReturnTicket",
                "summary": "Make a draft return ticket, numbered RTN-YYYYMMDD-NNNN (the local day)",
                "tags": ["returns"],
                "security": write,
                "requestBody": json_body(
                    json_object(
                        {
                            "source": {"type": "string", "maxLength": 200, "example": "Jaipur mandi"},
                            "notes": {"type": "string"},
                        },
                        optional=("notes",),
                    )
                ),
                "responses": _answers("Made.", 400, 413, 415, 422, status="201"),
            },
        },
        "/api/returns/{ticket_id}": {
            "parameters": [_TICKET_ID],
            "get": {
                "operationId": "getReturnTicket",
                "summary": "A return ticket with its parents",
                "tags": ["returns"],
                "security": read,
                "responses": {
                    "200": json_answer(
                        json_object({"ok": {"type": "boolean"}, "ticket": ref("ReturnTicket")}), "The return ticket."
                    ),
                    "401": refused("Not logged in."),
                    "403": refused(),
                    "404": refused("No such ticket."),
                },
            },
        },
        "/api/returns/{ticket_id}/parents": {
            "parameters": [_TICKET_ID],
            "post": {
                "operationId": "addParentToReturnTicket",
                "summary": "Scan a parent bag that came back onto a draft ticket, exactly once per client_scan_id",
                "description": "Refused: not a parent code, an unknown parent, already on this ticket, on another "
                "draft ticket (named), already returned and on no bill since, on no bill, on a bill not finalised, a "
                "ticket not a draft. A repeat of a client_scan_id answers as the first time (`replayed` true) and "
                "changes nothing.",
                "tags": ["returns"],
                "security": write,
                "requestBody": json_body(
                    json_object(
                        {
                            "code": {"type": "string", "example": "SB12345"},
                            "client_scan_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"},
                        }
                    )
                ),
                "responses": _answers("Added (or the kept answer of the same scan).", 400, 404, 409, 413, 415, 422),
            },
        },
        "/api/returns/{ticket_id}/parents/{code}": {
            "parameters": [_TICKET_ID, {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}],
            "delete": {
                "operationId": "removeParentFromReturnTicket",
                "summary": "Take a parent bag off a draft ticket",
                "tags": ["returns"],
                "security": write,
                "responses": _answers("Removed.", 404, 409, 422),
            },
        },
        "/api/returns/{ticket_id}/commit": {
            "parameters": [_TICKET_ID],
            "post": {
                "operationId": "commitReturnTicket",
                "summary": "Commit a draft ticket: each parent is released from its finalised bill",
                "description": "The bill's snapshot is kept, its parent marked returned on this ticket; the parent "
                "may go onto a new bill and keeps its children. All or nothing: refused if any parent was returned "
                "on another ticket first (named), is on no bill, or its bill is no longer finalised.",
                "tags": ["returns"],
                "security": write,
                "responses": _answers("Committed.", 404, 409),
            },
        },
        "/api/returns/{ticket_id}/cancel": {
            "parameters": [_TICKET_ID],
            "post": {
                "operationId": "cancelReturnTicket",
                "summary": "Cancel a draft ticket: nothing changes on any bill",
                "tags": ["returns"],
                "security": write,
                "responses": _answers("Cancelled.", 404, 409),
            },
        },
    }


def schemas() -> dict[str, Any]:
    status = {"type": "string", "enum": list(ReturnStatus.values)}
    number = {"type": "string", "pattern": r"^RTN-\d{8}-\d{4,}$", "example": "RTN-20261203-0001"}
    return {
        "ReturnTicketAnswer": json_object(
            {
                "ok": {"type": "boolean"},
                "code": {"type": "string", "enum": SUCCESS_CODES},
                "message": {"type": "string"},
                "warning": {"type": ["string", "null"], "description": "Done, but worth a look."},
                "replayed": {"type": "boolean", "description": "The kept answer of a scan already made."},
                "ticket": ref("ReturnTicket"),
            }
        ),
        "ReturnTicketParent": json_object(
            {
                "qr_id": {"type": "string", "example": "SB12345"},
                "product": {"type": "string"},
                "child_count": {"type": ["integer", "null"], "description": "As the bag is now; null if deleted."},
                "bill_number": {"type": "string", "description": "Its bill (the one released, once committed)."},
                "added_at": _WHEN,
                "added_by": _MAYBE_TEXT,
            }
        ),
        "ReturnTicket": json_object(
            {
                "id": {"type": "integer"},
                "number": number,
                "source": {"type": "string", "description": "Where the bags came back from."},
                "notes": {"type": "string"},
                "status": status,
                "parent_count": {"type": "integer"},
                "child_count": {"type": "integer"},
                "created_by": _MAYBE_TEXT,
                "created_at": _WHEN,
                "committed_by": _MAYBE_TEXT,
                "committed_at": _MAYBE_WHEN,
                "cancelled_by": _MAYBE_TEXT,
                "cancelled_at": _MAYBE_WHEN,
                "url": {"type": "string", "description": "The ticket's page."},
                "parents": {"type": "array", "items": ref("ReturnTicketParent")},
            }
        ),
        "ReturnTicketSummary": json_object(
            {
                "id": {"type": "integer"},
                "number": number,
                "source": {"type": "string"},
                "status": status,
                "parent_count": {"type": "integer"},
                "created_by": _MAYBE_TEXT,
                "created_at": _WHEN,
                "url": {"type": "string"},
            }
        ),
        "ReturnTicketList": json_object(
            {
                "ok": {"type": "boolean"},
                "count": {"type": "integer"},
                "page": {"type": "integer"},
                "pages": {"type": "integer"},
                "tickets": {"type": "array", "items": ref("ReturnTicketSummary")},
            }
        ),
    }
