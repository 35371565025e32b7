"""Every /api/ answer the test suite gets is checked against the served API document, as Zulip's
validate_api_response_openapi does: tests/conftest.py wraps django.test.Client.request with
``check_api_answer``, so every client (``client``, ``admin_client``, a ``Client()`` a test makes) is covered.

An answer fails the test when it is not JSON, or when its body does not match the schema of its status
(the operation's ``default``, the Error body, when the status is not listed). A path or method the
document does not have must still answer the Error body (a 404, a 405).
"""

import json
import re
from functools import cache
from typing import Any

import jsonschema_rs
from django.http import HttpResponse
from django.test import RequestFactory

from traitortrack.edge import is_api


@cache
def api_document() -> dict[str, Any]:
    """The document as /api/openapi.json serves it."""
    from overview.views import openapi_schema

    request = RequestFactory(SERVER_NAME="127.0.0.1").get("/api/openapi.json")  # in ALLOWED_HOSTS, like a real host
    return json.loads(openapi_schema(request).content)


ERROR = {"$ref": "#/components/schemas/Error"}


def _template(path: str) -> str | None:
    """The document's path template (``/api/bills/{bill_id}``) that ``path`` is, if any."""
    for template in api_document()["paths"]:
        if re.fullmatch(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)), path):
            return template
    return None


def _schema_for(path: str, method: str, status: int) -> tuple[dict[str, Any], str]:
    """The schema the answer must match, and what it is called in a failure."""
    document = api_document()
    template = _template(path)
    if template is None:
        return ERROR, "Error body (no such path)"
    operation = document["paths"][template].get(method)
    if operation is None:
        return ERROR, f"Error body ({method.upper()} is not documented)"
    key = str(status) if str(status) in operation["responses"] else "default"
    response = operation["responses"][key]
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return response["content"]["application/json"]["schema"], f"{method.upper()} {template} {key}"


@cache
def _validator(schema_text: str) -> Any:
    # The document's components sit beside the schema, so "#/components/schemas/X" resolves as it does there.
    return jsonschema_rs.Draft202012Validator({**json.loads(schema_text), "components": api_document()["components"]})


def check_api_answer(response: HttpResponse) -> None:
    """Fails the calling test if ``response`` to an /api/ request is not what the document promises."""
    request = getattr(response, "wsgi_request", None)
    if request is None or not is_api(request) or request.path_info == "/api/openapi.json":
        return
    where = f"{request.method} {request.path_info} answered {response.status_code}"
    assert response.get("Content-Type") == "application/json", f"{where} in {response.get('Content-Type')}"
    assert not response.streaming, f"{where} as a stream"
    schema, described = _schema_for(request.path_info, request.method.lower(), response.status_code)
    errors = [
        f"{error.message} at {list(error.instance_path)}"
        for error in _validator(json.dumps(schema, sort_keys=True)).iter_errors(json.loads(response.content))
    ]
    assert not errors, f"{where}: not the documented {described}:\n" + "\n".join(errors[:5])
