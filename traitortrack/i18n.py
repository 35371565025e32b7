"""The JavaScript side of the translations: Django's catalog of the ``djangojs`` strings, served from our own
origin as a plain script (the CSP allows only 'self'). base.html loads it before the modules as
``/jsi18n/?lang=<the page's language>``, and static/js/i18n.js reads it."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views import i18n

from traitortrack.permissions import PUBLIC


class JavaScriptCatalog(i18n.JavaScriptCatalog):
    # The login and 2FA pages use it too; fetching it is not a person's activity (no idle-timer reset).
    access, otp_exempt, unattended = PUBLIC, True, True
    # Our catalog (LOCALE_PATHS, always read) without every installed app's: the Django admin's scripts'
    # strings are a third more on every page load (25.7 KB instead of 19.1 in Hindi), and the admin serves its own.
    packages = ["accounts"]

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """The catalog of ``?lang`` when it names one of ours, so that one address is always one language and
        any cache (the browser's, the offline shell's) may keep it; else of the request's language."""
        language = request.GET.get("lang", "")
        if language not in dict(settings.LANGUAGES):
            return super().get(request, *args, **kwargs)
        with translation.override(language):
            return super().get(request, *args, **kwargs)
