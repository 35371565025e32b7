"""Project-wide middleware."""

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's id is kept so one request can be followed across its logs and ours; anything else (too
# long, or characters that could forge a log line) is replaced rather than trusted.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class RequestIdMiddleware:
    """Gives every request an id (``request.request_id``), echoed in the response's X-Request-ID header.

    The id of an incoming X-Request-ID header is kept when it is a sane token, so an entry in the audit
    log can be matched with the proxy's access log line; otherwise a fresh uuid4 is made.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request.request_id = incoming if _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request.request_id
        return response
