from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from reports.models import ExceptionThresholds


@admin.register(ExceptionThresholds)
class ExceptionThresholdsAdmin(admin.ModelAdmin):
    """The one row of thresholds: changed, never added or deleted (the migration made it)."""

    list_display = ["__str__", "open_parent_hours", "unbilled_parent_hours", "draft_bill_days", "draft_return_hours"]
    fieldsets = [
        (None, {"fields": ["open_parent_hours", "unbilled_parent_hours", "draft_bill_days", "draft_return_hours"]}),
        (_("Refusal rate"), {"fields": ["refusal_factor", "refusal_min_scans", "refusal_floor_percent"]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ExceptionThresholds | None = None) -> bool:
        return False
