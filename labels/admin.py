from django.contrib import admin

from audit.admin import AuditedAdminMixin
from labels.models import LabelBatch, Printer


@admin.register(Printer)
class PrinterAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """The label printers the label page can send to; a changed address is audited like any other change."""

    list_display = ("name", "host", "port", "roll", "dpi", "timeout_seconds", "is_active")
    list_filter = ("is_active", "roll")
    search_fields = ("name", "host")


@admin.register(LabelBatch)
class LabelBatchAdmin(admin.ModelAdmin):
    """Read only: which parent codes were printed, by whom (kept by the label page). Never deleted here: a
    batch gone would let "the next N unused" hand its codes out again."""

    list_display = ("product", "first_number", "last_number", "layout", "printed_by", "printed_at")
    list_filter = ("product",)
    list_select_related = ("product", "printed_by")
    ordering = ("-printed_at",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
