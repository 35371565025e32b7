"""The bag API's part of the OpenAPI 3 description (overview/openapi.py puts the parts together): a bag, where
it was at a time (``?at=``) and its story. Written by hand, next to the API it describes (tracking/api.py);
every /api/ answer of the test suite is validated against the served document."""

from typing import Any

from bills.choices import BillEventAction, BillStatus
from scanning.choices import ScanAction

_TIME = {"type": "string", "format": "date-time"}
_CODE_PARAMETER = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}
_REFUSED = {"$ref": "#/components/responses/Refused"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _get(operation_id: str, summary: str, description: str, schema: str, **extra: Any) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "description": description,
            "tags": ["bags"],
            "security": [{"session": []}],
            "parameters": [_CODE_PARAMETER, *extra.get("parameters", [])],
            "responses": {
                "200": {"description": "The bag.", "content": {"application/json": {"schema": _ref(schema)}}},
                "400": _REFUSED,
                "401": _REFUSED,
                "404": _REFUSED,
                "422": _REFUSED,
            },
        }
    }


def paths() -> dict[str, Any]:
    at = {
        "name": "at",
        "in": "query",
        "required": False,
        "description": "A time (ISO 8601; without an offset, the warehouses' local time): the answer adds "
        "`as_of`, where the bag was then, read from the events alone.",
        "schema": {"type": "string", "example": "2026-11-20T10:17"},
    }
    return {
        "/api/bags/{code}": _get(
            "lookUpBag",
            "Look a bag up: its parent or children, bill and last scans; with `at`, where it was then",
            "A dispatcher sees only their own area's bags; of a child, the scans into their area's parents.",
            "BagLookup",
            parameters=[at],
        ),
        "/api/bags/{code}/story": _get(
            "bagStory",
            "Every event of a bag's story, newest first",
            "Its making, its scan events (a parent's: its children's in, out and moved) and its bill events, "
            "each with who and when (and the device's time for a scan queued offline); the newest 500.",
            "BagStory",
        ),
    }


def schemas() -> dict[str, Any]:
    held = {
        "type": "object",
        "required": ["qr_id", "since"],
        "properties": {
            "qr_id": {"type": ["string", "null"], "description": "Null: a parent of another dispatch area."},
            "since": _TIME,
        },
    }
    return {
        "Bag": {
            "type": "object",
            "properties": {
                "qr_id": {"type": "string"},
                "kind": {"type": "string", "enum": ["parent", "child"]},
                "product": {"type": ["string", "null"]},
                "child_count": {"type": ["integer", "null"]},
                "capacity": {"type": ["integer", "null"]},
                "complete": {"type": "boolean"},
                "dispatch_area": {"type": ["string", "null"]},
                "created_at": _TIME,
            },
        },
        "BagLookup": {
            "type": "object",
            "required": ["ok", "bag", "parent", "children", "bill", "scans"],
            "properties": {
                "ok": {"type": "boolean"},
                "bag": _ref("Bag"),
                "parent": _nullable(_ref("Bag")),
                "children": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"qr_id": {"type": "string"}, "linked_at": _TIME}},
                },
                "bill": {
                    "type": ["object", "null"],
                    "properties": {
                        "bill_number": {"type": "string"},
                        "customer": {"type": "string"},
                        "status": {"type": "string"},
                    },
                },
                "scans": {"type": "array", "items": _ref("ScanEvent")},
                "as_of": _ref("BagAsOf"),
            },
        },
        "BagAsOf": {
            "type": "object",
            "description": "Where the bag was at `at`: its parent then (a child), the children it held then "
            "(a parent), the bill it (or its parent) was on then.",
            "required": ["at", "existed", "parent", "bill", "children"],
            "additionalProperties": False,
            "properties": {
                "at": _TIME,
                "existed": {"type": "boolean", "description": "The bag had been made by then."},
                "parent": _nullable(held),
                "bill": _nullable(
                    {
                        "type": "object",
                        "required": ["bill_number", "status", "since"],
                        "properties": {
                            "bill_number": {"type": "string"},
                            "status": {"type": "string", "enum": list(BillStatus.values)},
                            "since": _TIME,
                        },
                    }
                ),
                "children": {"type": "array", "items": held},
            },
        },
        "BagStory": {
            "type": "object",
            "required": ["ok", "bag", "events"],
            "properties": {
                "ok": {"type": "boolean"},
                "bag": {"type": "string"},
                "events": {"type": "array", "items": _ref("BagStoryEvent")},
            },
        },
        "BagStoryEvent": {
            "type": "object",
            "required": ["source", "id", "action", "text", "at", "device_time", "user", "bag", "undone"],
            "additionalProperties": False,
            "properties": {
                "source": {"type": "string", "enum": ["bag", "scan", "bill"]},
                "id": {"type": "integer", "description": "The scan event's, the bill event's or the bag's id."},
                "action": {
                    "type": "string",
                    "enum": sorted({"created", *ScanAction.values, *BillEventAction.values}),
                },
                "text": {"type": "string", "example": "Moved from SB00001 to SB00002"},
                "at": _TIME,
                "device_time": {**_TIME, "type": ["string", "null"], "description": "A scan queued offline: when."},
                "user": {"type": ["string", "null"]},
                "bag": {"type": "string"},
                "parent": {"type": ["string", "null"]},
                "from_parent": {"type": ["string", "null"]},
                "reason": {"type": ["string", "null"]},
                "undone": {"type": "boolean"},
                "bill_number": {"type": ["string", "null"]},
                "return_ticket": {"type": ["string", "null"]},
            },
        },
    }
