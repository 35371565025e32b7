from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    default = True
    name = "accounts"
    verbose_name = _("Users and access")

    def ready(self) -> None:
        from django.contrib.auth import get_user_model, signals
        from django.db.models.signals import post_delete, post_save

        from accounts import authentication, checks  # noqa: F401 (checks registers the rate limits' checks)
        from accounts import signals as handlers

        # Loaded here, not on the first request, so `manage.py check` (and CI) runs its system check
        # that every URL name has an entry in the one permission declaration.
        from traitortrack import permissions  # noqa: F401

        signals.user_logged_in.connect(handlers.audit_login, dispatch_uid="accounts.audit_login")
        signals.user_login_failed.connect(handlers.audit_login_failure, dispatch_uid="accounts.audit_login_failure")
        signals.user_logged_out.connect(handlers.audit_logout, dispatch_uid="accounts.audit_logout")
        # A user saved here is read again by this process's next request (accounts.authentication).
        user_model = get_user_model()
        post_save.connect(authentication.forget_user, sender=user_model, dispatch_uid="accounts.forget_user_saved")
        post_delete.connect(authentication.forget_user, sender=user_model, dispatch_uid="accounts.forget_user_deleted")


class TraitorTrackAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin whose ``admin.site`` is the OTP-only site, so every ``@admin.register`` lands on it."""

    default = False
    default_site = "accounts.otp.TraitorTrackAdminSite"
