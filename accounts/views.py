"""Account pages: logging in (rate limited), the page a locked-out login gets (django-axes), and the
language switch."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext
from django.views import i18n
from django.views.decorators.http import require_POST

from accounts.ratelimits import login_rate_limit
from accounts.services import choose_language
from traitortrack.edge import api_error, is_api
from traitortrack.errors import EdgeRefusal, Refused
from traitortrack.permissions import PUBLIC, access


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    access, otp_exempt = PUBLIC, True


class LogoutView(auth_views.LogoutView):
    access, otp_exempt = PUBLIC, True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Said on the login page it sends to, so a shared phone shows that the last user is gone. Stored in the
        # fresh session logging out leaves (MESSAGE_STORAGE is the session's).
        was_logged_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if was_logged_in:
            messages.success(request, gettext("You have been logged out."))
        return response


# Only POSTs (attempts) count: 10 a minute per username typed (LOGIN_RATE_LIMIT), falling back to the IP.
login_view = login_rate_limit(LoginView.as_view())


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """django-axes' answer to a locked-out login (AXES_LOCKOUT_CALLABLE): JSON under /api/, else the page.

    With a cool-off the lock ends LOGIN_LOCKOUT_MINUTES after this attempt (each attempt while locked
    starts the wait again), so 429 with Retry-After; without one only an admin can end it, so 403.
    """
    cool_off = settings.AXES_COOLOFF_TIME
    retry_at = timezone.localtime() + cool_off if cool_off else None
    if retry_at is not None:
        message = gettext(
            "Too many failed logins for this username from this device. "
            "Try again at %(retry_at)s, or ask an admin to unlock it."
        ) % {"retry_at": retry_at.strftime("%H:%M")}
        status = 429
    else:
        message = gettext("Too many failed logins for this username from this device. Ask an admin to unlock it.")
        status = 403
    if is_api(request):
        headers = {"Retry-After": str(int(cool_off.total_seconds()))} if cool_off else None
        return api_error(Refused(EdgeRefusal.LOCKED_OUT, message, status=status, headers=headers))
    context = {"message": message, "retry_at": retry_at, "lockout_minutes": settings.LOGIN_LOCKOUT_MINUTES}
    response = render(request, "accounts/locked_out.html", context, status=status)
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response


@access(PUBLIC, otp_exempt=True)
@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The navbar's language switch: Django's set_language (it checks the language and the next URL and
    sets the language cookie, which is what an anonymous user keeps), and a logged-in user's choice is
    saved on them, so it follows them to another phone."""
    response = i18n.set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        choose_language(user=request.user, language=language)
    return response
