"""The HTTP edge: how a request is read and how every error leaves, in one place.

Under /api/ (``is_api``) every answer is JSON: a ``Refused`` raised anywhere, a 404 (resolved or not), a
403, a 400, a body too large, a method not allowed, a CSRF failure and any unhandled exception all become
the one body ``Refused.body`` builds, ``{"ok": false, "code", "message", ...}``. Pages get the branded
error page instead (templates/error.html; the 500 page needs no database). Django reaches this module
through settings (``CSRF_FAILURE_VIEW``, ``EdgeMiddleware``) and the root URL conf's handler400/403/404/500.
"""

import json
import logging
import sys
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext, gettext_lazy
from psycopg import OperationalError as DatabaseUnavailable

from traitortrack.errors import EdgeRefusal, Refused

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
# A scan or a bill change is a few short strings; anything bigger is a broken or hostile client.
MAX_BODY_BYTES = 4096
# Our bodies are flat objects (a form's errors are two deep); deeper is a hostile client, refused before
# it reaches code that walks it.
MAX_JSON_DEPTH = 4
# Seconds a client waits before retrying when the database is busy (the scan page's queue does).
BUSY_RETRY_SECONDS = 2

NOT_LOGGED_IN_MESSAGE = gettext_lazy("Your session has ended. Log in again; waiting scans are kept.")
SESSION_ENDED_MESSAGE = gettext_lazy(
    "Your session has ended or the page is out of date. Log in again; waiting scans are kept."
)
TOO_DEEP_MESSAGE = gettext_lazy("The request body is nested too deeply.")
BUSY_MESSAGE = gettext_lazy("The server is busy. Nothing was recorded; send it again in a moment.")


def is_api(request: HttpRequest) -> bool:
    """Whether the request is to the JSON API, whose every answer is JSON."""
    return request.path_info.startswith(API_PREFIX)


def _depth(value: Any) -> int:
    """How deeply ``value`` nests lists and objects, walked without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            pending.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def json_body(request: HttpRequest, *, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The request's JSON object; anything else is refused (400/413/415) before it is read into memory."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > max_bytes:
        raise Refused(
            EdgeRefusal.TOO_LARGE,
            gettext("The request is larger than %(max_bytes)s bytes.") % {"max_bytes": max_bytes},
            status=413,
        )
    if request.content_type != "application/json":
        raise Refused(
            EdgeRefusal.UNSUPPORTED_MEDIA_TYPE, gettext("Send JSON (Content-Type: application/json)."), status=415
        )
    raw = request.body
    if len(raw) > max_bytes:  # a chunked body has no Content-Length to refuse it by
        raise Refused(
            EdgeRefusal.TOO_LARGE,
            gettext("The request is larger than %(max_bytes)s bytes.") % {"max_bytes": max_bytes},
            status=413,
        )
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Refused(EdgeRefusal.BAD_REQUEST, gettext("The request body is not valid JSON."), status=400) from None
    except RecursionError:  # deeper than the parser's own limit
        raise Refused(EdgeRefusal.BAD_REQUEST, TOO_DEEP_MESSAGE, status=400) from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise Refused(EdgeRefusal.BAD_REQUEST, TOO_DEEP_MESSAGE, status=400)
    if not isinstance(data, dict):
        raise Refused(EdgeRefusal.BAD_REQUEST, gettext("The request body must be a JSON object."), status=400)
    return data


def _with_headers(response: HttpResponse, refusal: Refused) -> HttpResponse:
    for header, value in refusal.headers.items():
        response[header] = value
    return response


def api_error(refusal: Refused) -> JsonResponse:
    return _with_headers(JsonResponse(refusal.body(), status=refusal.status), refusal)


def _page(refusal: Refused, request: HttpRequest | None) -> HttpResponse:
    """The error page; without a request (the 500 handler) it needs no session, user or database."""
    context = {
        "status": refusal.status,
        "title": _TITLES.get(refusal.status, gettext_lazy("Not possible")),
        "message": refusal.message,
    }
    content = render_to_string("error.html", context, request=request)
    return _with_headers(HttpResponse(content, status=refusal.status), refusal)


def refusal_response(request: HttpRequest, refusal: Refused) -> HttpResponse:
    """A refusal as the client reads it: the JSON body under /api/, else the error page saying it."""
    return api_error(refusal) if is_api(request) else _page(refusal, request)


_TITLES = {
    400: gettext_lazy("Something in the request is wrong"),
    403: gettext_lazy("Not allowed"),
    404: gettext_lazy("Not found"),
    405: gettext_lazy("Not possible here"),
    413: gettext_lazy("Too large"),
    429: gettext_lazy("Too many attempts"),
    500: gettext_lazy("Server error"),
    503: gettext_lazy("The server is busy"),
}


def invalid_fields(errors: dict[str, list[str]], *, labels: dict[str, str] | None = None) -> Refused:
    """Per-field errors (a form's, a model's, a JSON type check's) as one 422 refusal, its message naming
    the first field (by its label when given) and ``errors`` holding them all."""
    field, messages = next(iter(errors.items()))
    prefix = "" if field == "__all__" else f"{(labels or {}).get(field) or field}: "
    return Refused(EdgeRefusal.INVALID, prefix + messages[0], status=422, errors=errors)


# The root URL conf's handlers (traitortrack.urls): Django calls them for the exceptions it catches.


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig | TooManyFieldsSent):
        refusal = Refused(EdgeRefusal.TOO_LARGE, gettext("The request is too large."), status=413)
    else:
        refusal = Refused(EdgeRefusal.BAD_REQUEST, gettext("The request could not be understood."), status=400)
    return refusal_response(request, refusal)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception) if exception is not None and str(exception) else gettext("You may not do this.")
    return refusal_response(request, Refused(EdgeRefusal.FORBIDDEN, message, status=403))


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # Django's Http404 text is for developers (it names URL patterns); people get ours.
    message = gettext("There is nothing at this address. Check it, or start again from the home page.")
    return refusal_response(request, Refused(EdgeRefusal.NOT_FOUND, message, status=404))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Usually a session that ended (a new login rotates the token) or a page open since yesterday: the
    API says so in JSON, so the scan page's queue keeps the scan and waits for the next login."""
    return refusal_response(request, Refused(EdgeRefusal.CSRF_FAILED, SESSION_ENDED_MESSAGE, status=403))


def _database_busy() -> bool:
    """Whether the error being handled is the database being out of reach for a moment, which is worth a
    retry, unlike a bug: the pool ran out of connections (a burst of requests), or a connection broke (a
    PostgreSQL restart, until traitortrack.dbpool replaces the pool's), or PostgreSQL gave up on a
    statement (deadlock, serialization failure, statement timeout: psycopg's OperationalError)."""
    error = sys.exc_info()[1]
    while error is not None:
        if isinstance(error, DatabaseUnavailable):  # psycopg_pool's PoolTimeout is one too
            return True
        error = error.__cause__ or error.__context__
    return False


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 handler. A database too busy or briefly out of reach is a 503 with Retry-After (the scan
    page keeps the scan queued and sends it again; its client id makes the retry safe). The page is
    rendered without a request context: no session, user or database is needed to say sorry."""
    if _database_busy():
        refusal = Refused(EdgeRefusal.BUSY, BUSY_MESSAGE, status=503, headers={"Retry-After": str(BUSY_RETRY_SECONDS)})
    else:
        refusal = Refused(
            EdgeRefusal.SERVER_ERROR, gettext("Something went wrong on the server. It has been logged."), status=500
        )
    return api_error(refusal) if is_api(request) else _page(refusal, None)


class EdgeMiddleware:
    """Turns what views raise or answer outside the one error model into it: a Refused anywhere (a page
    gets the error page), a ValidationError under /api/ (422 with ``errors`` per field), and the empty
    405 that Django's require_http_methods answers (JSON under /api/, the Allow header kept)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith("application/json"):
            allowed = response.get("Allow", "")
            refusal = Refused(
                EdgeRefusal.METHOD_NOT_ALLOWED,
                gettext("%(method)s is not possible here (allowed: %(allowed)s).")
                % {"method": request.method, "allowed": allowed or gettext("none")},
                status=405,
                headers={"Allow": allowed} if allowed else None,
            )
            return refusal_response(request, refusal)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Refused):
            return refusal_response(request, exception)
        if isinstance(exception, ValidationError) and is_api(request):
            errors = exception.message_dict if hasattr(exception, "error_dict") else {"__all__": exception.messages}
            return api_error(invalid_fields(errors))
        return None
