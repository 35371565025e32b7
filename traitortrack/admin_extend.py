"""How a higher app adds to a lower app's ModelAdmin without the lower app importing it.

The lower app registers its admin; the higher app's admin.py (loaded later: INSTALLED_APPS is in layer
order) replaces the registration with a subclass that puts its mixins first. So the bag admin is bags',
its "on bill" column bills', its export button exports', and none of them imports upwards.
"""

from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest, HttpResponse


def extend_admin(model: type[models.Model], *mixins: type, **attributes: Any) -> type[admin.ModelAdmin]:
    """Re-register ``model``'s admin as a subclass of the registered one, ``mixins`` first in its bases and
    ``attributes`` set on it (e.g. ``fields`` with a column added); the new class keeps the old one's name."""
    current = type(admin.site.get_model_admin(model))
    extended = type(current.__name__, (*mixins, current), attributes)
    admin.site.unregister(model)
    admin.site.register(model, extended)
    return extended


@dataclass(frozen=True)
class ChangelistTool:
    """A button above a changelist (templates/admin/change_list_tools.html)."""

    url_name: str  # e.g. "admin:bags_bag_export"
    label: str
    with_filters: bool  # the link carries the list's filters and search (an export of what is shown)


class ChangelistToolsMixin:
    """Lets several mixins each add a button above the changelist: each adds its ChangelistTool in
    ``changelist_tools(request)`` and calls super()."""

    change_list_template = "admin/change_list_tools.html"

    def changelist_tools(self, request: HttpRequest) -> list[ChangelistTool]:
        return []

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "changelist_tools": self.changelist_tools(request)}
        return super().changelist_view(request, extra_context)
