"""Return tickets in the Django admin: searched and read here; made, scanned, committed and cancelled on the
ticket pages (their numbers and the bills they release are the services'). A draft's source and notes may
be corrected (audited); a committed ticket is view only and never deleted: its parents' bills name it."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.admin import AuditedAdminMixin
from returns.choices import ReturnStatus
from returns.models import ReturnTicket, ReturnTicketBag


class ReturnTicketBagInline(admin.TabularInline):
    model = ReturnTicketBag
    verbose_name_plural = "parent bags on this ticket"
    extra = 0
    can_delete = False
    fields = ("parent_qr", "bill_number", "added_by", "added_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReturnTicketBag]:
        return super().get_queryset(request).select_related("added_by", "ticket").order_by("added_at", "pk")

    def has_add_permission(self, request: HttpRequest, obj: ReturnTicket | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ReturnTicket | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ReturnTicket | None = None) -> bool:
        return False


@admin.register(ReturnTicket)
class ReturnTicketAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("number", "source", "status", "created_by", "created_at", "committed_at")
    list_select_related = ("created_by",)
    list_filter = ("status",)
    search_fields = ("^number", "source", "=entries__parent_qr")
    search_help_text = "A ticket number or the start of one, a source, or a parent's whole code."
    fields = (
        "number",
        "source",
        "notes",
        "status",
        "created_by",
        "created_at",
        "committed_by",
        "committed_at",
        "cancelled_by",
        "cancelled_at",
    )
    readonly_fields = (
        "number",
        "status",
        "created_by",
        "created_at",
        "committed_by",
        "committed_at",
        "cancelled_by",
        "cancelled_at",
    )
    inlines = (ReturnTicketBagInline,)
    ordering = ("-created_at", "-pk")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a ticket's number is made by returns.services.create_ticket: the pages make tickets

    def has_change_permission(self, request: HttpRequest, obj: ReturnTicket | None = None) -> bool:
        return (obj is None or obj.is_draft) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: ReturnTicket | None = None) -> bool:
        committed = obj is not None and obj.status == ReturnStatus.COMMITTED
        return not committed and super().has_delete_permission(request, obj)
