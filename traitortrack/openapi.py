"""The pieces the apps' OpenAPI descriptions (bills/openapi.py, returns/openapi.py) are written with, so each
says only what is its own API's; overview/openapi.py merges them into /api/openapi.json.
"""

from collections.abc import Iterable
from typing import Any

from traitortrack.sorting import sort_choices


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_answer(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def json_object(properties: dict[str, Any], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [name for name in properties if name not in optional],
        "properties": properties,
    }


def refused(description: str = "") -> dict:
    # Every refusal is the one Error body; the description says when it comes.
    return {"$ref": "#/components/responses/Refused", **({"description": description} if description else {})}


def answers(answer: str, success: str, *refusals: int, status: str = "200") -> dict[str, Any]:
    """An operation's responses: ``answer`` (a schema's name) on success, then the refusals by status code."""
    responses = {status: json_answer(ref(answer), success), "401": refused("Not logged in."), "403": refused()}
    for code in refusals:
        responses[str(code)] = refused()
    return responses


def list_parameters(*, text: str, statuses: Iterable[str], sorts: Iterable[str], default_sort: str) -> list[dict]:
    """The query of a sorted list (traitortrack.forms.ListSearchForm, then a page of it): ``text`` says what
    ``q`` looks in; ``sorts`` are the list's SORTS keys, each offered ascending and descending."""
    return [
        {"name": "q", "in": "query", "schema": {"type": "string"}, "description": text},
        {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(statuses)}},
        {"name": "date_from", "in": "query", "schema": {"type": "string", "format": "date"}},
        {"name": "date_to", "in": "query", "schema": {"type": "string", "format": "date"}},
        {
            "name": "sort",
            "in": "query",
            "description": f"A column, '-' first for descending. Default {default_sort}.",
            "schema": {"type": "string", "enum": [value for value, _ in sort_choices(sorts)]},
        },
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
    ]
