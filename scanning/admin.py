from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from audit.admin import AuditedAdminMixin, GuardedDeleteMixin
from bags.admin import bag_code_search_q
from bags.models import Bag, Link
from scanning.models import Scan, ScanReply
from scanning.services import REASON_MAX_LENGTH, unlink_child
from traitortrack.admin_extend import extend_admin
from traitortrack.admin_paginator import BigTableAdmin


@admin.register(Link)
class LinkAdmin(AuditedAdminMixin, GuardedDeleteMixin, BigTableAdmin):
    """Children in parents. Links are made by scanning; the admin may only unlink (delete), with a reason,
    which is a scan event of its own (scanning.services.unlink_child), so this admin lives with the scans.
    A child whose parent is on a finalised bill is not unlinked (the confirm page names the bill).

    Moving a child is done by scanning (the scan page's Move), so the scan history stays whole.
    """

    list_display = ("child", "parent", "created_by", "created_at")
    list_select_related = ("child", "parent", "created_by")
    search_fields = ("child__qr_id", "parent__qr_id")
    search_help_text = "A child's or a parent's code, or the start of one."
    sortable_by = ()
    fields = ("child", "parent", "created_by", "created_at")
    readonly_fields = fields
    # Only used if links ever become editable here: never a select of 2 million bags.
    autocomplete_fields = ("parent", "child")
    actions = ["delete_selected"]  # the method below, in place of Django's

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Link], search_term: str):
        matching = bag_code_search_q(search_term, "child_id", "parent_id")
        return (queryset if matching is None else queryset.filter(matching)), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Link | None = None) -> bool:
        return False

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[list, dict, set, list]:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for link in list(objs[: self.max_bulk_delete]):
            bill_number = Scan.objects.finalised_bill(link.parent_id)
            if bill_number is not None:
                protected.append(f"{link}: {link.parent} is on finalised bill {bill_number}")
        return deleted, counts, perms_needed, protected

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        if request.method == "POST" and request.POST.get("post") and not _reason_given(request):
            return HttpResponseRedirect(request.get_full_path())  # back to the confirm page, saying why
        return super().delete_view(request, object_id, extra_context)

    @admin.action(permissions=["delete"], description="Unlink the selected children")
    def delete_selected(self, request: HttpRequest, queryset: QuerySet[Link]) -> HttpResponse | None:
        """Django's "delete selected", asking for the reason on its confirm page (the same name replaces it)."""
        if request.POST.get("post") and not _reason_given(request):
            request.POST = request.POST.copy()
            del request.POST["post"]  # so the confirm page is shown again
        return delete_selected(self, request, queryset)

    def delete_model(self, request: HttpRequest, obj: Link) -> None:
        unlink_child(link=obj, actor=request.user, reason=request.POST.get("reason"), request=request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Link]) -> None:
        reason = request.POST.get("reason")
        with transaction.atomic():  # the "delete selected" action has no transaction of its own
            for link in queryset.select_related("child").order_by("parent_id", "child_id"):
                unlink_child(link=link, actor=request.user, reason=reason, request=request)


def _reason_given(request: HttpRequest) -> bool:
    reason = request.POST.get("reason", "").strip()
    if reason and len(reason) <= REASON_MAX_LENGTH:
        return True
    messages.error(request, f"Say why the children are unlinked (1 to {REASON_MAX_LENGTH} characters).")
    return False


class UnlinkBeforeDeleteMixin:
    """A child's link goes with it: the bag admin unlinks it properly first, so its parent's count and
    history stay right."""

    UNLINK_REASON = "The child was deleted in the admin."

    def delete_model(self, request: HttpRequest, obj: Bag) -> None:
        link = Link.objects.filter(child_id=obj.pk).select_related("child").first()
        if link is not None:
            unlink_child(link=link, actor=request.user, reason=self.UNLINK_REASON, request=request)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Bag]) -> None:
        links = Link.objects.filter(child__in=queryset).select_related("child").order_by("parent_id", "child_id")
        with transaction.atomic():  # the "delete selected" action has no transaction of its own
            for link in links:
                unlink_child(link=link, actor=request.user, reason=self.UNLINK_REASON, request=request)
            super().delete_queryset(request, queryset)


extend_admin(Bag, UnlinkBeforeDeleteMixin)


@admin.register(Scan)
class ScanAdmin(BigTableAdmin):
    """Scan events, read-only: they are the bags' history and are only ever appended, by the scan services."""

    list_display = ("created_at", "action", "bag_qr", "parent_qr", "user", "dispatch_area", "client_scan_id")
    list_select_related = ("user", "dispatch_area")
    # The created_at filter's ranges (today, past 7 days...) use the scan_created_idx index.
    list_filter = ("action", "dispatch_area", "user", ("created_at", admin.DateFieldListFilter))
    search_fields = ("bag__qr_id", "parent__qr_id")
    search_help_text = "A bag's code or the start of one: its own scans and, for a parent, its children's."
    sortable_by = ()
    fields = (
        "created_at",
        "action",
        "bag",
        "bag_qr",
        "parent",
        "parent_qr",
        "user",
        "dispatch_area",
        "client_scan_id",
        "reverts",
        "from_parent_qr",
        "reason",
        "device_time",
    )
    readonly_fields = fields

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Scan], search_term: str):
        matching = bag_code_search_q(search_term, "bag_id", "parent_id")
        return (queryset if matching is None else queryset.filter(matching)), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Scan | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Scan | None = None) -> bool:
        return False


@admin.register(ScanReply)
class ScanReplyAdmin(BigTableAdmin):
    """The answers kept per client scan id (what a phone was told), read-only: for support questions."""

    list_display = ("created_at", "client_scan_id", "user", "status")
    list_select_related = ("user",)
    search_fields = ("=client_scan_id",)
    search_help_text = "The exact client scan id."
    sortable_by = ()
    fields = ("created_at", "client_scan_id", "user", "status", "body")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ScanReply | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ScanReply | None = None) -> bool:
        return False
