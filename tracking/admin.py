"""The bag admin's actions (attached to bags' admin with traitortrack/admin_extend.py, as bags cannot import this
app): "Delete wrong bags", the bag page's deletion (tracking.services: a parent with its children, after a page
listing exactly what goes and asking why), with a ``delete`` event for the admin's own Delete too; and the bag
list's bulk actions (tracking/bag_actions.py): delete empty parents after a confirm page, change the dispatch area.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from accounts.models import DispatchArea
from bags.models import Bag, Link
from tracking import bag_actions, services
from tracking.bag_actions import BagActionRefused
from traitortrack.admin_extend import extend_admin
from traitortrack.errors import Refused

# Each bag is its own transaction (and a parent may take 30 children with it): a few at a time.
MAX_BAGS = 50


ADMIN_DELETE_REASON = "Deleted in the Django admin"


class DeleteWrongBagsMixin:
    """The action below, and the admin's own Delete (an empty parent, a loose or linked child: bags' and
    scanning's admins unlink and audit it) leaving a ``delete`` event too, so the bag's story ends there."""

    def delete_model(self, request: HttpRequest, obj: Bag) -> None:
        link = Link.objects.filter(child_id=obj.pk).select_related("parent").first()
        services.record_deletions(
            user=request.user, bags=[(obj, link.parent if link else None)], reason=ADMIN_DELETE_REASON
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Bag]) -> None:
        parents = dict(Link.objects.filter(child__in=queryset).values_list("child_id", "parent_id"))
        held = Bag.objects.in_bulk(set(parents.values()))
        with transaction.atomic():  # the "delete selected" action has no transaction of its own
            bags = [(bag, held.get(parents.get(bag.pk))) for bag in queryset]
            services.record_deletions(user=request.user, bags=bags, reason=ADMIN_DELETE_REASON)
            super().delete_queryset(request, queryset)

    @admin.action(description="Delete wrong bags (a parent with its children), saying why")
    def delete_wrong_bags(self, request: HttpRequest, queryset: QuerySet[Bag]) -> TemplateResponse | None:
        bags = list(queryset.order_by("qr_id")[: MAX_BAGS + 1])
        if len(bags) > MAX_BAGS:
            self.message_user(request, f"Select at most {MAX_BAGS} bags to delete at once.", messages.ERROR)
            return None
        reason = request.POST.get("reason", "").strip()
        if request.POST.get("confirm") == "yes" and reason:
            deleted = 0
            for bag in bags:
                try:
                    deleted += services.delete_bag(
                        user=request.user, code=bag.qr_id, reason=reason, request=request
                    ).count
                except Refused as refusal:
                    self.message_user(request, refusal.message, messages.ERROR)
            self.message_user(request, f"Deleted {deleted} bag{'s' if deleted != 1 else ''}.", messages.SUCCESS)
            return None
        plans = []
        for bag in bags:
            try:
                plans.append((bag, services.plan_deletion(user=request.user, code=bag.qr_id), None))
            except Refused as refusal:
                plans.append((bag, None, refusal.message))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Delete wrong bags",
            "plans": plans,
            "total": sum(plan.count for _, plan, _ in plans if plan is not None),
            "reason": reason,
            "asked": request.POST.get("confirm") == "yes",
            "max_reason": services.REASON_MAX_LENGTH,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "tracking/bag_admin_delete.html", context)


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


_bag_admin = admin.site.get_model_admin(Bag)
extend_admin(
    Bag,
    DeleteWrongBagsMixin,
    BagActionsMixin,
    actions=(*(_bag_admin.actions or ()), "delete_wrong_bags", "delete_empty_parents", "change_area"),
)
