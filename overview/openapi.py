"""The project's OpenAPI 3 document, served at /api/openapi.json: each app describes its own API
(``<app>/openapi.py`` with ``paths()`` and ``schemas()``) and this puts the parts together."""

from typing import Any

from bags.error_codes import QRRefusal
from bills import openapi as bills_api
from bills.error_codes import BillRefusal
from overview import dashboard_openapi as dashboard_api
from returns import openapi as returns_api
from returns.error_codes import ReturnRefusal
from scanning import openapi as scanning_api
from scanning.error_codes import ScanRefusal
from tracking import openapi as tracking_api
from traitortrack.errors import EdgeRefusal

PARTS = (scanning_api, bills_api, returns_api, tracking_api, dashboard_api)
# The enums whose codes an /api/ answer can carry: the edge's, the QR rules' and the three APIs'.
API_REFUSALS = (EdgeRefusal, QRRefusal, ScanRefusal, BillRefusal, ReturnRefusal)


def refusal_codes() -> list[str]:
    return sorted({member.value for codes in API_REFUSALS for member in codes})


def error_schema() -> dict[str, Any]:
    """The one error body (traitortrack.errors.Refused.body): every refusal, under every path."""
    return {
        "type": "object",
        "required": ["ok", "code", "message"],
        "additionalProperties": False,
        "properties": {
            "ok": {"const": False},
            "code": {"type": "string", "enum": refusal_codes()},
            "message": {"type": "string", "description": "A sentence for the user."},
            "errors": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
                "description": "On `invalid`: the messages per field.",
            },
            "parent": {
                "anyOf": [{"$ref": "#/components/schemas/ParentState"}, {"type": "null"}],
                "description": "A scan's refusal: the parent it was about.",
            },
            "scan": {"type": "null"},
            "warning": {"type": "null"},
            "bill": {"type": "null"},
            "ticket": {"type": "null"},
        },
    }


def _with_default_error(paths: dict[str, Any]) -> dict[str, Any]:
    # Any status an operation does not list (a 405, a 429, a 500) is still the Error body.
    methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
    for operations in paths.values():
        for method in methods & set(operations):
            responses = operations[method]["responses"]
            operations[method] = {
                **operations[method],
                "responses": {"default": {"$ref": "#/components/responses/Refused"}, **responses},
            }
    return paths


def document(server_url: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for part in PARTS:
        paths.update(part.paths())
        schemas.update(part.schemas())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "TraitorTrack API",
            "version": "1",
            "description": "Scan parent bags, put child bags into them, undo, complete, look bags up; "
            "make bills and put parent bags on them; take them back on return tickets. "
            "Log in at /accounts/login/ for a session cookie; send "
            "the csrftoken cookie's value in X-CSRFToken with every POST, PATCH and DELETE. "
            "Every error is the Error body: `ok` false, a stable `code` and a `message` for people.",
        },
        "servers": [{"url": server_url}],
        "paths": _with_default_error(paths),
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRFToken"},
            },
            "responses": {
                "Refused": {
                    "description": "Refused or failed: nothing was changed.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            },
            "schemas": {**schemas, "Error": error_schema()},
        },
    }
