"""The OpenAPI 3 description of the return ticket API (returns/api.py), merged into the schema served at
/api/openapi.json (overview/openapi.py). Refusals are the shared Error schema."""

from typing import Any

from returns.choices import ReturnStatus
from returns.managers import ReturnTicketQuerySet

SUCCESS_CODES = ["created", "parent_added", "parent_removed", "committed", "cancelled"]

_TICKET_ID = {"name": "ticket_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_WHEN = {"type": "string", "format": "date-time"}
_MAYBE_WHEN = {"type": ["string", "null"], "format": "date-time"}
_MAYBE_TEXT = {"type": ["string", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _refused(description: str = "") -> dict:
    return {"$ref": "#/components/responses/Refused", **({"description": description} if description else {})}


def _answers(success: str, *refusals: int, status: str = "200") -> dict[str, Any]:
    answers = {status: _json(_ref("ReturnTicketAnswer"), success), "401": _refused("Not logged in."), "403": _refused()}
    for code in refusals:
        answers[str(code)] = _refused()
    return answers


def _object(properties: dict[str, Any], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [name for name in properties if name not in optional],
        "properties": properties,
    }


def paths() -> dict[str, Any]:
    write = [{"session": [], "csrf": []}]
    read = [{"session": []}]
    sorts = [f"{sign}{key}" for sign in ("", "-") for key in ReturnTicketQuerySet.SORTS]
    return {
        "/api/returns": {
            "get": {
                "operationId": "listReturnTickets",
                "summary": "Search return tickets, a page at a time",
                "tags": ["returns"],
                "security": read,
                "parameters": [
                    {
                        "name": "q",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "In the number or source; or a parent's whole code.",
                    },
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(ReturnStatus.values)}},
                    {"name": "date_from", "in": "query", "schema": {"type": "string", "format": "date"}},
                    {"name": "date_to", "in": "query", "schema": {"type": "string", "format": "date"}},
                    {
                        "name": "sort",
                        "in": "query",
                        "description": "A column, '-' first for descending. Default -created_at.",
                        "schema": {"type": "string", "enum": sorts},
                    },
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                ],
                "responses": {
                    "200": _json(_ref("ReturnTicketList"), "A page of return tickets."),
                    "401": _refused("Not logged in."),
                    "403": _refused(),
                },
            },
            "post": {
                "operationId": "createReturnTicket",
                "summary": "Make a draft return ticket, numbered RTN-YYYYMMDD-NNNN (the local day)",
                "tags": ["returns"],
                "security": write,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _object(
                                {
                                    "source": {"type": "string", "maxLength": 200, "example": "Jaipur mandi"},
                                    "notes": {"type": "string"},
                                },
                                optional=("notes",),
                            )
                        }
                    },
                },
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
                    "200": _json(
                        _object({"ok": {"type": "boolean"}, "ticket": _ref("ReturnTicket")}), "The return ticket."
                    ),
                    "401": _refused("Not logged in."),
                    "403": _refused(),
                    "404": _refused("No such ticket."),
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
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _object(
                                {
                                    "code": {"type": "string", "example": "SB12345"},
                                    "client_scan_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"},
                                }
                            )
                        }
                    },
                },
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
        "ReturnTicketAnswer": _object(
            {
                "ok": {"type": "boolean"},
                "code": {"type": "string", "enum": SUCCESS_CODES},
                "message": {"type": "string"},
                "warning": {"type": ["string", "null"], "description": "Done, but worth a look."},
                "replayed": {"type": "boolean", "description": "The kept answer of a scan already made."},
                "ticket": _ref("ReturnTicket"),
            }
        ),
        "ReturnTicketParent": _object(
            {
                "qr_id": {"type": "string", "example": "SB12345"},
                "product": {"type": "string"},
                "child_count": {"type": ["integer", "null"], "description": "As the bag is now; null if deleted."},
                "bill_number": {"type": "string", "description": "Its bill (the one released, once committed)."},
                "added_at": _WHEN,
                "added_by": _MAYBE_TEXT,
            }
        ),
        "ReturnTicket": _object(
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
                "parents": {"type": "array", "items": _ref("ReturnTicketParent")},
            }
        ),
        "ReturnTicketSummary": _object(
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
        "ReturnTicketList": _object(
            {
                "ok": {"type": "boolean"},
                "count": {"type": "integer"},
                "page": {"type": "integer"},
                "pages": {"type": "integer"},
                "tickets": {"type": "array", "items": _ref("ReturnTicketSummary")},
            }
        ),
    }
