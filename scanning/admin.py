from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.admin import AuditedAdminMixin, GuardedDeleteMixin
from bags.admin import bag_code_search_q
from bags.models import Bag, Link
from scanning.models import Scan, ScanReply
from scanning.services import unlink_child
from traitortrack.admin_extend import extend_admin
from traitortrack.admin_paginator import BigTableAdmin


@admin.register(Link)
class LinkAdmin(AuditedAdminMixin, GuardedDeleteMixin, BigTableAdmin):
    """Children in parents. Links are made by scanning; the admin may only unlink (delete), which is a scan
    event of its own (scanning.services.unlink_child), so this admin lives with the scans.

    Moving a child is an unlink here and a scan into the new parent, so the scan history stays whole.
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

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Link], search_term: str):
        matching = bag_code_search_q(search_term, "child_id", "parent_id")
        return (queryset if matching is None else queryset.filter(matching)), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Link | None = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Link) -> None:
        unlink_child(link=obj, actor=request.user, request=request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Link]) -> None:
        with transaction.atomic():  # the "delete selected" action has no transaction of its own
            for link in queryset.select_related("child").order_by("parent_id", "child_id"):
                unlink_child(link=link, actor=request.user, request=request)


class UnlinkBeforeDeleteMixin:
    """A child's link goes with it: the bag admin unlinks it properly first, so its parent's count and
    history stay right."""

    def delete_model(self, request: HttpRequest, obj: Bag) -> None:
        link = Link.objects.filter(child_id=obj.pk).select_related("child").first()
        if link is not None:
            unlink_child(link=link, actor=request.user, request=request)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Bag]) -> None:
        links = Link.objects.filter(child__in=queryset).select_related("child").order_by("parent_id", "child_id")
        with transaction.atomic():  # the "delete selected" action has no transaction of its own
            for link in links:
                unlink_child(link=link, actor=request.user, request=request)
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
