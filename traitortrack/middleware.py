"""Project-wide middleware."""

import re
import uuid
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from traitortrack.edge import NOT_LOGGED_IN_MESSAGE, api_error, is_api, refusal_response
from traitortrack.errors import EdgeRefusal, Refused

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
    that has set its own policy keeps it (like Django's SecurityMiddleware does with its headers).
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


# What the 403 page says when this middleware, not a view, refused the request.
ROLE_REFUSED = "Your role may not open this page."


class AccessMiddleware:
    """Enforces each view's declared access (traitortrack.permissions) before it runs, failing closed.

    In order: an admin without a verified second factor this session reaches only views declared
    ``otp_exempt`` (pages go to enrolment or verification, the API answers 403 otp_required); anonymous
    users on a page go to the login page, on the API get 401 not_logged_in; a logged-in user whose role is
    not allowed gets 403 forbidden; a view that declares nothing is refused to everyone. Must come after
    accounts.middleware.AuthenticationMiddleware (the OTP state) and SessionTimeoutMiddleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        # Imported here: they load models, which are not ready when this module is imported.
        from django.contrib.auth.views import redirect_to_login

        from accounts import otp
        from traitortrack.permissions import access_of, is_otp_exempt

        user = request.user
        if otp.otp_required(user) and not user.is_verified() and not is_otp_exempt(view_func):
            return self._second_factor_first(request, has_device=otp.user_has_device(user))
        level = access_of(view_func)
        if level is not None and level.allows(user):
            return None
        if level is not None and not user.is_authenticated:
            if is_api(request):
                return api_error(Refused(EdgeRefusal.NOT_LOGGED_IN, NOT_LOGGED_IN_MESSAGE, status=401))
            return redirect_to_login(request.get_full_path())
        message = "Your role may not do this." if is_api(request) else ROLE_REFUSED
        return refusal_response(request, Refused(EdgeRefusal.FORBIDDEN, message, status=403))

    @staticmethod
    def _second_factor_first(request: HttpRequest, *, has_device: bool) -> HttpResponse:
        if is_api(request):
            message = "Two-factor authentication is required: open TraitorTrack in the browser and verify."
            return api_error(Refused(EdgeRefusal.OTP_REQUIRED, message, status=403))
        target = reverse("accounts:otp_verify" if has_device else "accounts:otp_setup")
        next_url = request.get_full_path() if request.method == "GET" else "/"
        return redirect(f"{target}?{urlencode({'next': next_url})}")
