"""The JavaScript side of the translations: Django's catalog of the ``djangojs`` strings in the request's
language, served from our own origin as a plain script (the CSP allows only 'self'). base.html loads it
before the modules, and static/js/i18n.js reads it."""

from django.views import i18n

from traitortrack.permissions import PUBLIC


class JavaScriptCatalog(i18n.JavaScriptCatalog):
    # The login and 2FA pages use it too; fetching it is not a person's activity (no idle-timer reset).
    access, otp_exempt, unattended = PUBLIC, True, True
    # Our catalog (LOCALE_PATHS, always read) without every installed app's: the Django admin's scripts'
    # strings are a third more on every page load (25.7 KB instead of 19.1 in Hindi), and the admin serves its own.
    packages = ["accounts"]
