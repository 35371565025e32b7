"""The OpenAPI 3 description of the dashboard's figures (GET /api/dashboard, overview.dashboard), merged into
the schema served at /api/openapi.json with the apps' parts."""

from typing import Any

from bills.choices import BillStatus


def paths() -> dict[str, Any]:
    return {
        "/api/dashboard": {
            "get": {
                "operationId": "dashboard",
                "summary": "The dashboard's figures (a dispatcher's: their area, no bills), seconds old at most",
                "tags": ["dashboard"],
                "security": [{"session": []}],
                "responses": {
                    "200": {
                        "description": "The figures.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Dashboard"}}},
                    },
                    "401": {"$ref": "#/components/responses/Refused"},
                },
            }
        }
    }


def schemas() -> dict[str, Any]:
    count = {"type": "integer", "minimum": 0}
    return {
        "Dashboard": {
            "type": "object",
            "required": ["generated_at", "totals", "bills", "today", "hours", "top_dispatchers", "recent"],
            "properties": {
                "generated_at": {"type": "string", "format": "date-time"},
                "generated_time": {"type": "string", "description": "Local time (HH:MM:SS)."},
                "totals": {
                    "type": "object",
                    "description": "Bags: counted at `counted_at` (at most a minute before), plus what came since.",
                    "properties": {
                        "parents": count,
                        "children": count,
                        "linked": count,
                        "unlinked": count,
                        "counted_at": {"type": ["string", "null"], "format": "date-time"},
                    },
                },
                "bills": {
                    "type": ["object", "null"],
                    "description": "Bills by status; null for dispatchers.",
                    "properties": {**{status: count for status in BillStatus.values}, "total": count},
                },
                "today": {"type": "object", "properties": {"scans": count, "since": {"type": "string"}}},
                "hours": {
                    "type": "array",
                    "description": "Scans per local hour, the last 24 hours, oldest first.",
                    "items": {
                        "type": "object",
                        "properties": {"hour": {"type": "string"}, "label": {"type": "string"}, "scans": count},
                    },
                },
                "top_dispatchers": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"username": {"type": "string"}, "scans": count}},
                },
                "recent": {
                    "type": "array",
                    "description": "The latest scans, newest first.",
                    "items": {
                        "type": "object",
                        "properties": {
                            name: {"type": "string"}
                            for name in ("at", "time", "user", "action", "action_label", "bag", "parent", "bag_url")
                        },
                    },
                },
            },
        }
    }
