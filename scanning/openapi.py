"""The scan API's part of the OpenAPI 3 description (overview/openapi.py puts the parts together).

Written by hand, next to the API it describes. Every /api/ answer of the test suite is validated against
the served document (tests/openapi.py), and schemathesis tries it (tests/traitortrack/test_api_schema.py).
Refusals are the shared Error schema (overview/openapi.py), its codes read from the enums.
"""

from typing import Any

from scanning.models import ScanAction
from scanning.services import BIGINT_MAX

SUCCESS_CODES = ["parent_created", "parent_opened", "linked", "moved", "undone", "completed", "unlinked"]

_CLIENT_SCAN_ID = {
    "type": "string",
    "pattern": "^[A-Za-z0-9_-]{8,64}$",
    "description": "Made by the scanning device, one per physical scan (a UUID). Sending it again returns "
    "the first answer and changes nothing.",
    "example": "6f1c2a8e-4b7d-4c7e-9a51-0d2f5e8b9c10",
}
_CODE = {"type": "string", "description": "The code as scanned; surrounding white space and case do not matter."}
_SCANNED_AT = {
    "type": "string",
    "format": "date-time",
    "description": "When the device scanned it, for a scan it queued offline: kept as the event's device time "
    "(the server's time still orders the events). Not an ISO 8601 time with an offset: refused "
    "(bad_scanned_at). More than 5 minutes ahead of the server's clock or more than 30 days back: ignored, the "
    "scan is recorded without it.",
    "example": "2026-01-31T09:15:00Z",
}

_AREA_ID = {
    "type": "integer",
    "minimum": 1,
    "maximum": BIGINT_MAX,
    "description": "Billers and admins: the dispatch area a new parent is made in (required for a new parent, "
    "not looked at for an existing one). Dispatchers may leave it out; another area than theirs is refused "
    "(not_your_area). Not a whole number from 1: refused (bad_area_id).",
    "example": 3,
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(name: str) -> dict[str, Any]:
    return {"anyOf": [_ref(name), {"type": "null"}]}


def _request(required: list[str], *, scanned_at: bool = True, **properties: Any) -> dict[str, Any]:
    if scanned_at:
        properties["scanned_at"] = _SCANNED_AT
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["client_scan_id", *required],
                    "properties": {"client_scan_id": _CLIENT_SCAN_ID, **properties},
                }
            }
        },
    }


_ANSWERS = {
    "200": {
        "description": "Done (or a repeat of a done scan: header X-Scan-Replayed).",
        "content": {"application/json": {"schema": _ref("ScanAnswer")}},
    },
    "400": {"$ref": "#/components/responses/Refused"},
    "401": {"$ref": "#/components/responses/Refused"},
    "403": {"$ref": "#/components/responses/Refused"},
    "404": {"$ref": "#/components/responses/Refused"},
    "409": {"$ref": "#/components/responses/Refused"},
    "413": {"$ref": "#/components/responses/Refused"},
    "415": {"$ref": "#/components/responses/Refused"},
    "422": {"$ref": "#/components/responses/Refused"},
    "503": {"$ref": "#/components/responses/Refused"},
}


def _post(
    summary: str, description: str, request: dict[str, Any], operation_id: str, *, tag: str = "scan", **extra: Any
) -> dict[str, Any]:
    return {
        "post": {
            "operationId": operation_id,
            "summary": summary,
            "description": description,
            "tags": [tag],
            "security": [{"session": [], "csrf": []}],
            "requestBody": request,
            "responses": _ANSWERS,
            **extra,
        }
    }


def paths() -> dict[str, Any]:
    return {
        "/api/scan/parent": _post(
            "Open a parent bag (created if new)",
            "A new parent is created in the dispatcher's area, or, for billers and admins, in the area they "
            "choose (`area_id`; refused without one: area_required). An existing parent keeps its area. Refused "
            "for a code that is not a parent code and, for dispatchers, a parent of another area or an `area_id` "
            "not theirs.",
            _request(["code"], code=_CODE, area_id=_AREA_ID),
            "openParent",
        ),
        "/api/scan/child": _post(
            "Put a child bag into a parent",
            "The child is created if new. Refused when it is already in another parent (named) or in "
            "this one, when the parent is full or complete, for a code that is not a child code.",
            _request(["parent", "code"], parent={**_CODE, "example": "SB12345"}, code=_CODE),
            "scanChild",
        ),
        "/api/scan/move": _post(
            "Move a child bag into another parent",
            "Out of the parent it is in, into `parent`, in one transaction locking both. The new parent's rules "
            "are a child scan's (area, full, complete); dispatchers move only between parents of their area. "
            "Refused when the child is in no parent or already in this one, or its parent is on a finalised bill "
            "(named). `other_parent` in the answer is the parent it left. Undone like a child scan.",
            _request(
                ["code", "parent"], code={**_CODE, "description": "The child."}, parent={**_CODE, "example": "SB12345"}
            ),
            "moveChild",
        ),
        "/api/scan/undo": _post(
            "Undo your last child scan or move",
            "Your own most recent child scan or move, within one hour: a scanned child leaves its parent, a moved "
            "one goes back into the parent it left (`other_parent` in the answer) under a move's rules. Admins may "
            "name any by scan_id.",
            _request([], scan_id={"type": "integer", "description": "Admins only: the scan to undo."}),
            "undoScan",
        ),
        "/api/scan/complete": _post(
            "Mark a parent complete",
            "For a parent that will not be filled to capacity.",
            _request(["parent"], parent={**_CODE, "example": "SB12345"}),
            "completeParent",
        ),
        "/api/bags/{code}/unlink": _post(
            "Take a child bag out of its parent (billers and admins)",
            "However long ago it went in, with a reason (audited; an unlink event keeps it). Refused when the "
            "child is in no parent or its parent is on a finalised bill (named). Exactly once, as a scan.",
            _request(
                ["reason"],
                scanned_at=False,
                reason={"type": "string", "minLength": 1, "maxLength": 200, "example": "Scanned into the wrong parent"},
            ),
            "unlinkChild",
            tag="bags",
            parameters=[
                {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}, "description": "Child"}
            ],
        ),
        "/api/scan/recent": {
            "get": {
                "operationId": "recentScans",
                "summary": "Your last 10 scans, newest first",
                "tags": ["scan"],
                "security": [{"session": []}],
                "responses": {
                    "200": {
                        "description": "The scans.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"scans": {"type": "array", "items": _ref("ScanEvent")}},
                                }
                            }
                        },
                    },
                    "401": {"$ref": "#/components/responses/Refused"},
                },
            }
        },
    }


def schemas() -> dict[str, Any]:
    return {
        "ScanAnswer": {
            "type": "object",
            "required": ["ok", "code", "message", "parent", "scan"],
            "properties": {
                "ok": {"type": "boolean"},
                "code": {"type": "string", "enum": SUCCESS_CODES},
                "message": {"type": "string"},
                "parent": _nullable("ParentState"),
                "other_parent": {
                    "allOf": [_ref("ParentState")],
                    "description": "A move's (or its undo's) other parent: the one the child left (went back into).",
                },
                "scan": _nullable("ScanEvent"),
            },
        },
        "ParentState": {
            "type": "object",
            "required": ["qr_id", "product", "child_count", "capacity", "complete", "full"],
            "properties": {
                "qr_id": {"type": "string", "example": "SB12345"},
                "product": {"type": "string", "example": "Mustard"},
                "child_count": {"type": "integer"},
                "capacity": {"type": "integer"},
                "complete": {"type": "boolean"},
                "full": {"type": "boolean"},
            },
        },
        "ScanEvent": {
            "type": "object",
            "required": ["id", "client_scan_id", "action", "bag", "parent", "at", "undone"],
            "properties": {
                "id": {"type": "integer"},
                "client_scan_id": {"type": ["string", "null"]},
                "action": {"type": "string", "enum": list(ScanAction.values)},
                "bag": {"type": "string"},
                "parent": {"type": "string"},
                "at": {"type": "string", "format": "date-time"},
                "undone": {"type": "boolean"},
                "reverts": {"type": "integer", "description": "On an undo: the scan it took back."},
            },
        },
    }
