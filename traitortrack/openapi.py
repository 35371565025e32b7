"""The project's OpenAPI 3 document, served at /api/openapi.json: each app describes its own API
(``<app>/openapi.py`` with ``paths()`` and ``schemas()``) and this puts the parts together."""

from typing import Any

from bills import openapi as bills_api
from scanning import openapi as scanning_api
from traitortrack import dashboard_openapi as dashboard_api

PARTS = (scanning_api, bills_api, dashboard_api)


def document(server_url: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for part in PARTS:
        paths.update(part.paths())
        schemas.update(part.schemas())
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "TraitorTrack API",
            "version": "1",
            "description": "Scan parent bags, put child bags into them, undo, complete, look bags up; "
            "make bills and put parent bags on them. Log in at /accounts/login/ for a session cookie; send "
            "the csrftoken cookie's value in X-CSRFToken with every POST, PATCH and DELETE. "
            "Refusals are 4xx answers with a stable `code` and a `message` for people.",
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRFToken"},
            },
            "responses": {
                "Refused": {
                    "description": "Refused: nothing was changed. `message` is a sentence for the user.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ScanAnswer"}}},
                }
            },
            "schemas": schemas,
        },
    }
