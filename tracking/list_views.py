"""The bag management list (/bags/, every role; a dispatcher sees their own area) and the admins' bulk actions
on it: tick bags, pick an action, read the confirm page listing exactly what happens, confirm."""

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts.models import DispatchArea
from bags.selectors import SearchTooBroad
from tracking import bag_actions
from tracking.bag_actions import BagActionRefused
from tracking.bag_list import BagListForm, list_bags
from traitortrack.pagination import KeysetPage
from traitortrack.permissions import ADMIN, LOGGED_IN, access

DELETE, CHANGE_AREA = "delete", "area"
ACTIONS = [(DELETE, "Delete empty parents"), (CHANGE_AREA, "Change area")]


class BagActionForm(forms.Form):
    """What the list's tick boxes post: the bags, the action and what it needs."""

    action = forms.ChoiceField(choices=ACTIONS)
    area = forms.ModelChoiceField(DispatchArea.objects.order_by("name"), required=False, to_field_name="code")
    reason = forms.CharField(required=False, max_length=bag_actions.REASON_MAX_LENGTH)
    # The list's own query string, to go back to it as it was.
    back = forms.CharField(required=False, max_length=2000)
    confirmed = forms.BooleanField(required=False)

    def clean(self) -> dict:
        cleaned = super().clean()
        cleaned["bag"] = self.data.getlist("bag")  # the codes ticked, checked by the action
        if cleaned.get("action") == CHANGE_AREA and cleaned.get("area") is None and "area" not in self.errors:
            self.add_error("area", "Pick the area the bags go to.")
        if cleaned.get("action") == DELETE and not (cleaned.get("reason") or "").strip():
            self.add_error("reason", "Say why these bags are deleted.")
        return cleaned


@access(LOGGED_IN)
@require_GET
def bag_list(request: HttpRequest) -> HttpResponse:
    form = BagListForm(request.GET, user=request.user)
    filters = form.bag_filter()
    sort, after = form.sort_and_after()
    error = None
    try:
        page = list_bags(request.user, filters, sort=sort, after=after)
    except SearchTooBroad as refusal:
        page, error = KeysetPage([], None), refusal.message
    values = form.values()
    context = {
        "form": form,
        "page": page,
        "error": error,
        "filter_fields": form.filter_fields(),
        "filtered": bool(set(values) - {"sort", "after"}),
        "paged": "after" in values,
        "actions": ACTIONS,
        "areas": DispatchArea.objects.order_by("name").values_list("code", "name") if request.user.is_admin else (),
        "reason_max_length": bag_actions.REASON_MAX_LENGTH,
    }
    return render(request, "tracking/bag_list.html", context)


def _back(form: BagActionForm) -> str:
    query = form.cleaned_data.get("back", "") if hasattr(form, "cleaned_data") else ""
    return reverse("tracking:bag-list") + (f"?{query.lstrip('?')}" if query else "")


@access(ADMIN)
@require_POST
def bag_action(request: HttpRequest) -> HttpResponse:
    """First the confirm page (what goes, what cannot and why), then, confirmed, the action itself."""
    form = BagActionForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect(_back(form))
    data = form.cleaned_data
    action, codes, user = data["action"], data["bag"], request.user
    try:
        if not data["confirmed"]:
            plan = bag_actions.delete_plan(codes) if action == DELETE else bag_actions.area_plan(codes)
            context = {"form": form, "plan": plan, "action": action, "area": data["area"], "back": _back(form)}
            context["blocked"] = [entry for entry in plan if entry.blocker]
            return render(request, "tracking/bag_action_confirm.html", context)
        if action == DELETE:
            count = bag_actions.delete_empty_parents(user=user, codes=codes, reason=data["reason"], request=request)
            messages.success(
                request,
                ngettext("Deleted %(count)s empty parent.", "Deleted %(count)s empty parents.", count)
                % {"count": count},
            )
        else:
            named, children = bag_actions.change_area(user=user, codes=codes, area=data["area"], request=request)
            along = gettext(", with the %(count)s children in them") % {"count": children} if children else ""
            messages.success(
                request,
                ngettext(
                    "Moved %(count)s bag to %(area)s%(along)s.", "Moved %(count)s bags to %(area)s%(along)s.", named
                )
                % {"count": named, "area": data["area"].name, "along": along},
            )
    except BagActionRefused as refusal:
        messages.error(request, refusal.message)
    return redirect(_back(form))
