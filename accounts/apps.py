from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and dispatch areas"

    def ready(self) -> None:
        from django.contrib.auth import signals

        from accounts import signals as handlers

        signals.user_logged_in.connect(handlers.audit_login, dispatch_uid="accounts.audit_login")
        signals.user_login_failed.connect(handlers.audit_login_failure, dispatch_uid="accounts.audit_login_failure")
        signals.user_logged_out.connect(handlers.audit_logout, dispatch_uid="accounts.audit_logout")
