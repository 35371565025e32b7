from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from bags.admin import bag_code_search_q
from scanning.models import Scan, ScanReply
from traitortrack.admin_paginator import BigTableAdmin


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
