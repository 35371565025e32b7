from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from audit.admin import AuditedAdminMixin, AuditedExportMixin, GuardedDeleteMixin
from bags.admin import admin_link, bag_code_search_q, search_codes
from bags.models import Bag
from bills.events import acting
from bills.forms import BillForm
from bills.models import Bill, BillBag, BillStatus
from bills.resources import BillResource
from bills.services import BillRefused, check_parent_can_join
from bills.signals import announce_bills_changed
from traitortrack.admin_extend import extend_admin


def _is_finalised(bill: Bill | None) -> bool:
    return bill is not None and bill.status == BillStatus.FINALISED


class BillBagForm(forms.ModelForm):
    """A parent bag put on a bill by hand: the same rules and sentences as the biller's scan."""

    class Meta:
        model = BillBag
        fields = ("bill", "parent_bag")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        bill, bag = cleaned.get("bill"), cleaned.get("parent_bag")
        if bill is None or bag is None:
            return cleaned
        other = (
            BillBag.objects.current().filter(parent_bag=bag).exclude(pk=self.instance.pk).select_related("bill").first()
        )
        try:
            check_parent_can_join(
                bill=bill,
                bag=bag,
                on_bill=other.bill if other else None,
                parent_count=bill.bill_bags.exclude(pk=self.instance.pk).count(),
            )
        except BillRefused as refusal:
            field = "bill" if refusal.code in ("bill_finalised", "bill_full") else "parent_bag"
            self.add_error(field, ValidationError(refusal.message, code=refusal.code))
        return cleaned


class BillAdminForm(BillForm):
    class Meta(BillForm.Meta):
        widgets = {}  # the admin's own date widget


class BillBagOnBillInline(admin.TabularInline):
    """The parents already on the bill, shown read-only in one query; they can be taken off."""

    model = BillBag
    verbose_name_plural = "parent bags on this bill"
    extra = 0
    fields = ("parent_bag", "children", "added_by", "added_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[BillBag]:
        # The row titles print "<bag> on <bill>": fetch the bill with the rows, not once per row.
        rows = super().get_queryset(request).select_related("parent_bag", "bill", "added_by")
        return rows.order_by("added_at", "pk")

    @admin.display(description="children")
    def children(self, entry: BillBag) -> int:
        return entry.parent_bag.child_count

    def has_add_permission(self, request: HttpRequest, obj: Bill | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Bill | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Bill | None = None) -> bool:
        return not _is_finalised(obj) and super().has_delete_permission(request, obj)


class BillBagAddInline(admin.TabularInline):
    """Empty rows for adding parents, each an autocomplete: a select of every parent would never load."""

    model = BillBag
    form = BillBagForm
    verbose_name_plural = "add parent bags"
    extra = 1
    can_delete = False
    fields = ("parent_bag",)
    autocomplete_fields = ("parent_bag",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[BillBag]:
        return super().get_queryset(request).none()

    def has_add_permission(self, request: HttpRequest, obj: Bill | None = None) -> bool:
        return not _is_finalised(obj) and super().has_add_permission(request, obj)


@admin.register(Bill)
class BillAdmin(AuditedExportMixin, AuditedAdminMixin, GuardedDeleteMixin, admin.ModelAdmin):
    """Bills. Status and finalising belong to the bill pages (finalising snapshots the bill); a finalised
    bill is frozen here: view only. Exported by django-import-export (bills/resources.py); the bulk import
    of bills with their parents is imports/admin.py's."""

    resource_classes = [BillResource]
    export_table_name = "bills"

    form = BillAdminForm
    list_display = (
        "bill_number",
        "customer",
        "bill_date",
        "status",
        "parent_count",
        "expected_parents",
        "created_by",
        "finalised_at",
    )
    list_select_related = ("created_by", "product")
    list_filter = ("status",)
    # Thousands of bills, not millions: the year list's DISTINCT is cheap here.
    date_hierarchy = "bill_date"
    search_fields = ("^bill_number", "customer")
    fields = (
        "bill_number",
        "customer",
        "bill_date",
        "product",
        "expected_parents",
        "notes",
        "status",
        "finalised_at",
        "finalised_by",
        "created_by",
        "created_at",
        "updated_at",
    )
    readonly_fields = ("status", "finalised_at", "finalised_by", "created_by", "created_at", "updated_at")
    inlines = (BillBagOnBillInline, BillBagAddInline)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Bill]:
        return super().get_queryset(request).with_parent_count()

    @admin.display(description="parents", ordering="parent_count")
    def parent_count(self, bill: Bill) -> int:
        return bill.parent_count

    def has_change_permission(self, request: HttpRequest, obj: Bill | None = None) -> bool:
        return not _is_finalised(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Bill | None = None) -> bool:
        return not _is_finalised(obj) and super().has_delete_permission(request, obj)

    def audit_deleted_snapshot(self, obj: Bill) -> dict[str, Any]:
        # The bill's parents go with it (cascade): remember which they were.
        parents = obj.bill_bags.order_by("parent_bag__qr_id").values_list("parent_bag__qr_id", flat=True)
        return {**self.audit_snapshot(obj), "parent_bags": list(parents)}

    def save_model(self, request: HttpRequest, obj: Bill, form: forms.ModelForm, change: bool) -> None:
        if not change:
            obj.created_by = request.user
            announce_bills_changed()  # the dashboard's bills by status
        super().save_model(request, obj, form, change)

    def delete_model(self, request: HttpRequest, obj: Bill) -> None:
        with transaction.atomic():
            acting(request.user)  # the bill events of its parents going with it
            super().delete_model(request, obj)
        announce_bills_changed()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Bill]) -> None:
        with transaction.atomic():
            acting(request.user)
            super().delete_queryset(request, queryset)
        announce_bills_changed()

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset: Any, change: bool) -> None:
        for row in formset.forms:
            if row.instance.pk is None:
                row.instance.added_by = request.user
        with transaction.atomic():
            acting(request.user)  # who put on or took off the parents of the bill events
            super().save_formset(request, form, formset, change)


@admin.register(BillBag)
class BillBagAdmin(AuditedAdminMixin, GuardedDeleteMixin, admin.ModelAdmin):
    form = BillBagForm
    list_display = ("parent_bag", "bill", "children", "added_by", "added_at")
    list_select_related = ("parent_bag", "bill", "added_by")
    list_filter = ("bill__status",)
    search_fields = ("parent_bag__qr_id", "bill__bill_number")
    search_help_text = "A parent's code or the start of one, or a bill number."
    autocomplete_fields = ("bill", "parent_bag")
    fields = ("bill", "parent_bag", "added_by", "added_at")
    readonly_fields = ("added_by", "added_at")
    audit_select_related = ("parent_bag", "bill")
    ordering = ("-pk",)

    @admin.display(description="children")
    def children(self, entry: BillBag) -> int:
        return entry.parent_bag.child_count

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[BillBag], search_term: str):
        codes = search_codes(search_term)
        if not codes:
            return queryset, False
        by_bag = queryset.filter(bag_code_search_q(search_term, "parent_bag_id"))
        by_bill = queryset.filter(Q.create([("bill__bill_number__iexact", code) for code in codes], connector=Q.OR))
        return by_bag | by_bill, False

    def has_change_permission(self, request: HttpRequest, obj: BillBag | None = None) -> bool:
        return not (obj is not None and _is_finalised(obj.bill)) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: BillBag | None = None) -> bool:
        return not (obj is not None and _is_finalised(obj.bill)) and super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: BillBag, form: forms.ModelForm, change: bool) -> None:
        if not change:
            obj.added_by = request.user
        with transaction.atomic():
            acting(request.user)
            super().save_model(request, obj, form, change)

    def delete_model(self, request: HttpRequest, obj: BillBag) -> None:
        with transaction.atomic():
            acting(request.user)
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[BillBag]) -> None:
        with transaction.atomic():
            acting(request.user)
            super().delete_queryset(request, queryset)


class BagOnBillMixin:
    """The bag admin's "on bill" line, and a parent on a bill refused deletion before Django's collector
    walks the bill's rows: bills' knowledge, so it is added here to bags' admin."""

    @admin.display(description="on bill")
    def on_bill(self, bag: Bag) -> str:
        if not bag.pk:
            return "-"
        entry = BillBag.objects.current().filter(parent_bag_id=bag.pk).select_related("bill").first()
        return admin_link(entry.bill) if entry is not None else "-"


def _after(names: tuple[str, ...], anchor: str, name: str) -> tuple[str, ...]:
    at = names.index(anchor) + 1
    return (*names[:at], name, *names[at:])


_bag_admin = admin.site.get_model_admin(Bag)
extend_admin(
    Bag,
    BagOnBillMixin,
    fields=_after(tuple(_bag_admin.fields), "in_parent", "on_bill"),
    readonly_fields=(*_bag_admin.readonly_fields, "on_bill"),
    delete_blockers=(*_bag_admin.delete_blockers, ("bills.BillBag", "parent_bag")),
)
