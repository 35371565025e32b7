import re

from django.contrib import admin
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from audit.admin import AuditedAdminMixin, AuditedExportMixin, GuardedDeleteMixin
from bags.forms import BagAdminForm, ProductAdminForm
from bags.managers import forget_parent_formats
from bags.models import Bag, BagKind, Link, Product
from bags.resources import ProductResource
from traitortrack.admin_paginator import BigTableAdmin

# A search box takes one code or a pasted list of them; more than this is a mistake, not a search.
MAX_SEARCH_CODES = 50
# Searching links, scans or bill bags by code goes through the bags first (see bag_ids_for_search).
MAX_SEARCHED_BAGS = 500

# Which kind of bag each autocomplete pointing at Bag may offer: a parent field never lists children.
AUTOCOMPLETE_KINDS = {
    ("bags", "link", "parent"): BagKind.PARENT,
    ("bags", "link", "child"): BagKind.CHILD,
    ("bills", "billbag", "parent_bag"): BagKind.PARENT,
}


def search_codes(search_term: str) -> list[str]:
    """Codes typed or pasted into a search box, cleaned up as a scan would be (trimmed, upper-case)."""
    return [code.upper() for code in re.split(r"[\s,;]+", search_term) if code][:MAX_SEARCH_CODES]


def code_prefix_q(codes: list[str]) -> Q:
    """Bags whose code starts with any of ``codes`` (already upper-case).

    Case-sensitive ``startswith`` on the stored upper-case code is what the varchar_pattern_ops
    index on qr_id serves; ``istartswith`` would wrap the column in UPPER() and scan 2 million rows.
    """
    return Q.create([("qr_id__startswith", code) for code in codes], connector=Q.OR)


def bag_ids_for_search(search_term: str) -> list[int]:
    """The ids of (at most MAX_SEARCHED_BAGS) bags matching the search, for searching the tables that point at bags.

    Fetched first as plain ids, so ``child_id IN (...) OR parent_id IN (...)`` can use each column's
    index; an OR across two joins would make PostgreSQL read the whole links or scans table.
    """
    codes = search_codes(search_term)
    if not codes:
        return []
    matching = Bag.objects.filter(code_prefix_q(codes)).order_by("qr_id")
    return list(matching.values_list("pk", flat=True)[:MAX_SEARCHED_BAGS])


def bag_code_search_q(search_term: str, *fields: str) -> Q | None:
    """Rows whose bag ``fields`` (e.g. "child_id", "parent_id") point at a bag matching the search.

    None when the search holds no code, so the caller keeps its queryset as it is.
    """
    if not search_codes(search_term):
        return None
    ids = bag_ids_for_search(search_term)
    return Q.create([(f"{field}__in", ids) for field in fields], connector=Q.OR)


def admin_link(obj: models.Model) -> str:
    """A link to ``obj``'s change page, named by its __str__."""
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, obj)


@admin.register(Product)
class ProductAdmin(AuditedExportMixin, AuditedAdminMixin, GuardedDeleteMixin, admin.ModelAdmin):
    resource_classes = [ProductResource]
    export_table_name = "products"
    form = ProductAdminForm
    list_display = (
        "name",
        "code",
        "parent_prefix",
        "parent_digits",
        "capacity",
        "child_weight_kg",
        "full_parent_weight_kg",
        "is_active",
    )
    list_filter = ("is_active",)
    search_fields = ("name", "code", "parent_prefix")
    delete_blockers = (("bags.Bag", "product"),)

    @admin.display(description="full parent weight (kg)")
    def full_parent_weight_kg(self, product: Product) -> str:
        return str(product.full_parent_weight_kg)

    # Every scan reads the cached parent formats: drop them once the change is committed.
    def save_model(self, request: HttpRequest, obj: Product, form: ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        transaction.on_commit(forget_parent_formats)

    def delete_model(self, request: HttpRequest, obj: Product) -> None:
        super().delete_model(request, obj)
        transaction.on_commit(forget_parent_formats)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        super().delete_queryset(request, queryset)
        transaction.on_commit(forget_parent_formats)


@admin.register(Bag)
class BagAdmin(AuditedAdminMixin, GuardedDeleteMixin, BigTableAdmin):
    """Bags. The higher apps add to it (traitortrack/admin_extend.py): scanning the unlinking before a child's
    deletion, bills the "on bill" line and its delete guard, exports the export button, imports the import."""

    form = BagAdminForm
    list_display = ("qr_id", "kind", "product", "dispatch_area", "child_count", "completed_at", "created_at")
    list_select_related = ("product", "dispatch_area")
    # Few products and areas: plain filters are cheap.
    list_filter = ("kind", "product", "dispatch_area")
    # Declared for the autocompletes; the search itself is get_search_results below.
    search_fields = ("qr_id",)
    search_help_text = "A code or the start of one (SB123); several codes separated by spaces."
    # Sorting 2 million rows by an unindexed column is a full scan per click.
    sortable_by = ("qr_id",)
    # "Refused while it holds children": said before Django's collector lists them all.
    delete_blockers = (("bags.Link", "parent"),)
    fields = (
        "qr_id",
        "kind",
        "product",
        "dispatch_area",
        "completed_at",
        "child_count",
        "children",
        "in_parent",
        "created_by",
        "created_at",
        "updated_at",
    )
    # child_count is kept by the database from the links (bags/migrations/0013_*): shown, never edited.
    readonly_fields = ("child_count", "children", "in_parent", "created_by", "created_at", "updated_at")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Bag], search_term: str):
        codes = search_codes(search_term)
        if codes:
            queryset = queryset.filter(code_prefix_q(codes))
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name == "autocomplete":
            source = (request.GET.get("app_label"), request.GET.get("model_name"), request.GET.get("field_name"))
            if source in AUTOCOMPLETE_KINDS:
                queryset = queryset.filter(kind=AUTOCOMPLETE_KINDS[source])
        return queryset, False

    @admin.display(description="children")
    def children(self, bag: Bag) -> str:
        if bag.pk is None or not bag.is_parent:
            return "-"
        url = reverse("admin:bags_link_changelist") + f"?parent__id__exact={bag.pk}"
        return format_html('<a href="{}">{} of {}</a>', url, bag.child_count, bag.product.capacity)

    @admin.display(description="in parent")
    def in_parent(self, bag: Bag) -> str:
        link = Link.objects.filter(child_id=bag.pk).select_related("parent").first() if bag.pk else None
        return admin_link(link.parent) if link is not None else "-"

    def save_model(self, request: HttpRequest, obj: Bag, form: ModelForm, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        else:
            # The save writes every column, and child_count is the links' trigger's (the database refuses any
            # other write of it): lock the row, as a scan would, and write back its count as it is now.
            obj.child_count = Bag.objects.select_for_update().values_list("child_count", flat=True).get(pk=obj.pk)
        super().save_model(request, obj, form, change)
