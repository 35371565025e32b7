"""The promotion request page (ask an admin for a higher role) and the notifications page."""

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts import services
from accounts.models import ROLE_RANK, Role
from accounts.services import PromotionRefused
from traitortrack.permissions import LOGGED_IN, access


class PromotionRequestForm(forms.Form):
    to_role = forms.ChoiceField(label=_("Role you need"))
    reason = forms.CharField(
        label=_("Why you need it"), widget=forms.Textarea(attrs={"rows": 4}), max_length=2000, strip=True
    )

    def __init__(self, *args, role: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Only the roles above the user's own are offered.
        self.fields["to_role"].choices = [
            (value, label) for value, label in Role.choices if ROLE_RANK[Role(value)] > ROLE_RANK[Role(role)]
        ]


@access(LOGGED_IN)
@require_http_methods(["GET", "POST"])
def promotion(request: HttpRequest) -> HttpResponse:
    user = request.user
    can_request = not user.is_admin
    form = PromotionRequestForm(request.POST or None, role=user.role) if can_request else None
    status = 200
    if request.method == "POST" and form is not None:
        if form.is_valid():
            try:
                services.request_promotion(
                    user=user, to_role=form.cleaned_data["to_role"], reason=form.cleaned_data["reason"], request=request
                )
            except PromotionRefused as refusal:
                messages.error(request, refusal.message)
                status = refusal.status
            else:
                messages.success(
                    request, gettext("Your request has gone to the admins. You will be notified of their answer.")
                )
                return redirect("accounts:promotion")
        else:
            status = 422
    context = {"form": form, "can_request": can_request, "latest": services.latest_promotion(user=user)}
    return render(request, "accounts/promotion.html", context, status=status)


@access(LOGGED_IN)
@require_GET
def notifications(request: HttpRequest) -> HttpResponse:
    # Read first, then marked read: the page still shows which ones are new.
    shown = services.recent_notifications(user=request.user)
    services.mark_notifications_read(user=request.user)
    return render(request, "accounts/notifications.html", {"notifications": shown})
