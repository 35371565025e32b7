"""The Django admin's bulk actions on bags (tracking/bag_actions.py): delete empty parents, after a confirm page,
and change the dispatch area. Attached to the bag admin (bags') with traitortrack/admin_extend.py, as the export
button is: bags cannot import this app."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from accounts.models import DispatchArea
from bags.models import Bag
from tracking import bag_actions
from tracking.bag_actions import BagActionRefused
from traitortrack.admin_extend import extend_admin


class BagActionForm(helpers.ActionForm):
    """The action bar with what the two actions need: the area to move to, the reason for deleting."""

    area = forms.ModelChoiceField(
        DispatchArea.objects.order_by("name"), required=False, empty_label="(area, to change to)"
    )
    reason = forms.CharField(
        required=False,
        max_length=bag_actions.REASON_MAX_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": "why (for a deletion)"}),
    )


class BagActionsMixin:
    action_form = BagActionForm

    def _codes(self, request: HttpRequest, queryset: QuerySet[Bag]) -> list[str] | None:
        codes = list(queryset.order_by("pk").values_list("qr_id", flat=True)[: bag_actions.MAX_BAGS + 1])
        if len(codes) > bag_actions.MAX_BAGS:
            self.message_user(request, f"Pick at most {bag_actions.MAX_BAGS} bags for one action.", messages.ERROR)
            return None
        return codes

    @admin.action(description="Delete selected empty parents (asks first)")
    def delete_empty_parents(self, request: HttpRequest, queryset: QuerySet[Bag]):
        codes = self._codes(request, queryset)
        if codes is None:
            return None
        reason = request.POST.get("reason", "")
        try:
            if request.POST.get("confirmed") != "yes":
                plan = bag_actions.delete_plan(codes)
                context = {
                    **self.admin_site.each_context(request),
                    "opts": self.opts,
                    "title": "Delete empty parents?",
                    "plan": plan,
                    "blocked": [entry for entry in plan if entry.blocker],
                    "reason": reason,
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                }
                return TemplateResponse(request, "admin/tracking/delete_empty_parents.html", context)
            count = bag_actions.delete_empty_parents(user=request.user, codes=codes, reason=reason, request=request)
        except BagActionRefused as refusal:
            self.message_user(request, refusal.message, messages.ERROR)
            return None
        self.message_user(request, f"Deleted {count} empty parent{'s' if count != 1 else ''}.", messages.SUCCESS)
        return None

    @admin.action(description="Change dispatch area of selected bags (a parent with its children)")
    def change_area(self, request: HttpRequest, queryset: QuerySet[Bag]):
        form = BagActionForm(request.POST)
        form.fields["action"].choices = self.get_action_choices(request)
        area = form.cleaned_data.get("area") if form.is_valid() else None
        if area is None:
            self.message_user(request, "Pick the area in the action bar first.", messages.ERROR)
            return None
        codes = self._codes(request, queryset)
        if codes is None:
            return None
        try:
            named, children = bag_actions.change_area(user=request.user, codes=codes, area=area, request=request)
        except BagActionRefused as refusal:
            self.message_user(request, refusal.message, messages.ERROR)
            return None
        along = f", with the {children} children in them" if children else ""
        self.message_user(request, f"Moved {named} bags to {area.name}{along}.", messages.SUCCESS)
        return None


_bag_admin = type(admin.site.get_model_admin(Bag))
extend_admin(Bag, BagActionsMixin, actions=[*(_bag_admin.actions or ()), "delete_empty_parents", "change_area"])
