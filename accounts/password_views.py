"""Password change (logged in) and reset by e-mail: Django's auth views with our templates, our URL
names and an audit entry when a password actually changes."""

from typing import Any

from django.contrib.auth import forms as auth_forms
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.urls import reverse_lazy
from django.utils import translation
from django.utils.decorators import method_decorator

from accounts.ratelimits import password_reset_rate_limit
from audit.choices import AuditAction
from audit.services import record
from traitortrack.permissions import LOGGED_IN, PUBLIC


class PasswordChangeView(auth_views.PasswordChangeView):
    access = LOGGED_IN
    template_name = "accounts/password_change_form.html"
    success_url = reverse_lazy("accounts:password_change_done")

    def form_valid(self, form: Any) -> HttpResponse:
        # Django's view keeps the user logged in (update_session_auth_hash); the admin's own password
        # page records the same action, so both ways read alike in the log.
        response = super().form_valid(form)
        record(actor=self.request.user, action=AuditAction.USER_PASSWORD_CHANGE, obj=form.user, request=self.request)
        return response


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    access = LOGGED_IN
    template_name = "accounts/password_change_done.html"


class PasswordResetForm(auth_forms.PasswordResetForm):
    """The reset mail is written in the language its reader chose (User.language), else in the page's."""

    def send_mail(self, subject_template_name, email_template_name, context, *args: Any, **kwargs: Any) -> None:
        language = getattr(context.get("user"), "language", "") or translation.get_language()
        with translation.override(language):
            super().send_mail(subject_template_name, email_template_name, context, *args, **kwargs)


@method_decorator(password_reset_rate_limit, name="dispatch")
class PasswordResetView(auth_views.PasswordResetView):
    """The same page whether or not the address belongs to an account, so nobody can find out who has one.
    Requests are limited per address typed (PASSWORD_RESET_RATE_LIMIT), so nobody can flood a mailbox."""

    access = PUBLIC
    template_name = "accounts/password_reset_form.html"
    form_class = PasswordResetForm
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    access = PUBLIC
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    access = PUBLIC
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        # Nobody is logged in here: the actor is the account whose e-mailed link was used.
        record(actor=form.user, action=AuditAction.USER_PASSWORD_RESET, obj=form.user, request=self.request)
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    access = PUBLIC
    template_name = "accounts/password_reset_complete.html"
