"""Project-wide middleware: request ids and the security policy headers."""

import functools
import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
# Read from META: request.headers builds a mapping of every header, which nothing else on a scan needs.
REQUEST_ID_META_KEY = "HTTP_X_REQUEST_ID"
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
        incoming = request.META.get(REQUEST_ID_META_KEY, "")
        request.request_id = incoming if _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request.request_id
        return response


class SecurityPolicyMiddleware:
    """Sets settings.CONTENT_SECURITY_POLICY and settings.PERMISSIONS_POLICY on every response.

    It sits before whitenoise in MIDDLEWARE, so the static files whitenoise answers carry them too. A view
    that has set its own policy keeps it (like Django's SecurityMiddleware does with its headers): the
    scanner pages do, through camera_page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.content_security_policy = settings.CONTENT_SECURITY_POLICY
        self.permissions_policy = settings.PERMISSIONS_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.content_security_policy)
        response.headers.setdefault("Permissions-Policy", self.permissions_policy)
        return response


def camera_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The page may use the camera (its "Use camera" button, static/js/camera.js): Permissions-Policy
    camera=(self) and a script-src that lets zxing-wasm compile, on this page's answers only; every other
    page keeps camera=() from SecurityPolicyMiddleware."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response.headers["Permissions-Policy"] = settings.CAMERA_PAGE_PERMISSIONS_POLICY
        response.headers["Content-Security-Policy"] = settings.CAMERA_PAGE_CONTENT_SECURITY_POLICY
        return response

    return wrapped
