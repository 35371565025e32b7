import json
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.db import models, transaction
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest
from django.utils.html import format_html
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV, XLSX

from audit.choices import AuditAction
from audit.models import AuditLog
from audit.services import record, snapshot
from traitortrack.admin_paginator import BigTableAdmin

# The apps whose rows the audit log names; listed for the filter so it never runs a DISTINCT over the log.
AUDITED_APPS = ("accounts", "bags", "bills")


def _stored_snapshot(obj: models.Model, exclude: tuple[str, ...]) -> dict[str, Any] | None:
    # A form has already written its values onto ``obj``: the "before" must come from the stored row.
    stored = type(obj)._base_manager.filter(pk=obj.pk).first()
    return snapshot(stored, exclude=exclude) if stored is not None else None


class AuditedAdminMixin:
    """Every add, change and delete made in this admin (and in its inlines) writes an audit entry.

    Actions are the AuditAction members ``<model>.<create|change|delete>``, e.g. ``bag.delete``
    (tests/audit/test_actions.py checks every audited admin has its members); ``before`` and ``after``
    are snapshots of the row's columns. Put the mixin before ``admin.ModelAdmin`` in the bases.
    """

    # Columns never copied into the audit log (the password hash).
    audit_exclude: tuple[str, ...] = ()
    # Relations __str__ needs, fetched with a bulk delete's rows rather than one query per row.
    audit_select_related: tuple[str, ...] = ()

    def audit_snapshot(self, obj: models.Model) -> dict[str, Any]:
        return snapshot(obj, exclude=self.audit_exclude)

    def audit_deleted_snapshot(self, obj: models.Model) -> dict[str, Any]:
        """The ``before`` of a deletion: a hook for rows whose cascade should be remembered too."""
        return self.audit_snapshot(obj)

    def audit_action(self, obj: models.Model, verb: str, before: dict | None, after: dict | None) -> AuditAction:
        return AuditAction(f"{obj._meta.model_name}.{verb}")

    def audit(
        self, request: HttpRequest, obj: models.Model, verb: str, *, before: dict | None, after: dict | None
    ) -> None:
        record(
            actor=request.user,
            action=self.audit_action(obj, verb, before, after),
            obj=obj,
            before=before,
            after=after,
            request=request,
        )

    def save_model(self, request: HttpRequest, obj: models.Model, form: ModelForm, change: bool) -> None:
        if change and not form.has_changed():  # "Save" pressed on an unchanged form: nothing to record
            super().save_model(request, obj, form, change)
            return
        before = _stored_snapshot(obj, self.audit_exclude) if change else None
        super().save_model(request, obj, form, change)
        self.audit(request, obj, "change" if change else "create", before=before, after=self.audit_snapshot(obj))

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        # Recorded first, while the row still has its id; the admin deletes inside one transaction,
        # so a refused deletion takes its audit entry with it.
        self.audit(request, obj, "delete", before=self.audit_deleted_snapshot(obj), after=None)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        rows = queryset
        if self.audit_select_related:  # select_related() with no names would join every foreign key
            rows = rows.select_related(*self.audit_select_related)
        # The "delete selected" action, unlike the delete page, runs outside a transaction.
        with transaction.atomic():
            for obj in rows:
                self.audit(request, obj, "delete", before=self.audit_deleted_snapshot(obj), after=None)
            super().delete_queryset(request, queryset)

    def save_formset(self, request: HttpRequest, form: ModelForm, formset: BaseInlineFormSet, change: bool) -> None:
        """Inline rows are audited one by one, like the row they belong to."""
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            self.audit(request, obj, "delete", before=snapshot(obj), after=None)
            obj.delete()
        changed = {obj.pk for obj, _fields in formset.changed_objects}
        for obj in instances:
            before = _stored_snapshot(obj, ()) if obj.pk in changed else None
            obj.save()
            verb = "change" if obj.pk in changed else "create"
            self.audit(request, obj, verb, before=before, after=snapshot(obj))
        formset.save_m2m()


class AuditedExportMixin(ExportMixin):
    """django-import-export's export button for a small table (its ModelResource in ``resource_classes``), in
    CSV or Excel, each export audited as the export page's are: who, which table, which format and filters."""

    formats = [CSV, XLSX]
    # The table's name in the audit entry, e.g. "bills" (as the export page names the same table).
    export_table_name = ""

    def get_export_data(self, file_format, request: HttpRequest, queryset: QuerySet, **kwargs) -> Any:
        data = super().get_export_data(file_format, request, queryset, **kwargs)
        filters = {key: value for key, value in request.GET.items() if key not in ("o", "p")}
        record(
            actor=request.user,
            action=AuditAction.TABLE_EXPORT,
            after={"table": self.export_table_name, "format": file_format.get_extension(), "filters": filters},
            request=request,
        )
        return data


class GuardedDeleteMixin:
    """Refuses a deletion cheaply, before Django's delete collector walks millions of related rows.

    The admin's delete page loads every row a PROTECT relation points at (to list them): a product
    with a million bags, or a dispatcher with years of scans, would be read into memory. The
    blockers are checked first with a LIMIT, and a bulk delete is capped.
    """

    # (related model label, lookup from it to the deleted rows): any such row refuses the deletion.
    delete_blockers: tuple[tuple[str, str], ...] = ()
    max_bulk_delete: int = 500
    blockers_shown: int = 10

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[list, dict, set, list]:
        pks = [obj.pk for obj in objs[: self.max_bulk_delete + 1]]
        if len(pks) > self.max_bulk_delete:
            plural = self.opts.verbose_name_plural
            return [], {}, set(), [f"Too many {plural} at once: select at most {self.max_bulk_delete}."]
        protected: list[str] = []
        for label, lookup in self.delete_blockers:
            model = apps.get_model(label)
            # select_related(): the rows' __str__ often names related rows (a link names both bags).
            related = model._base_manager.filter(**{f"{lookup}__in": pks}).select_related()
            rows = list(related[: self.blockers_shown + 1])
            protected += [f"{model._meta.verbose_name.capitalize()}: {row}" for row in rows[: self.blockers_shown]]
            if len(rows) > self.blockers_shown:
                protected.append(f"... and more {model._meta.verbose_name_plural}")
        if protected:
            return [], {}, set(), protected
        return super().get_deleted_objects(objs, request)


def pretty_json(value: Any) -> str:
    if value is None:
        return "-"
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


class ObjectTypeFilter(admin.SimpleListFilter):
    title = "object type"
    parameter_name = "object_type"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            (model._meta.label_lower, model._meta.verbose_name)
            for label in AUDITED_APPS
            for model in apps.get_app_config(label).get_models()
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(object_type=self.value()) if self.value() else queryset


class ActionFilter(admin.SimpleListFilter):
    """Every AuditAction by its name: known without reading the log, which may hold millions of entries."""

    title = "action"
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return AuditAction.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditLog)
class AuditLogAdmin(BigTableAdmin):
    """Read-only: entries are written by audit.services.record and never edited or deleted. Its export button
    is exports/admin.py's."""

    list_display = ("created_at", "actor_username", "action", "object_type", "object_id", "object_repr", "ip_address")
    list_filter = (ActionFilter, ObjectTypeFilter, ("created_at", admin.DateFieldListFilter))
    search_fields = ("=object_id", "=request_id", "^action", "^actor_username", "^object_repr")
    search_help_text = (
        "An object id or a request id (exact), or the start of an action, a username or an object's name."
    )
    fields = (
        "created_at",
        "actor",
        "actor_username",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "before_json",
        "after_json",
        "request_id",
        "ip_address",
    )
    readonly_fields = fields

    @admin.display(description="before")
    def before_json(self, entry: AuditLog) -> str:
        return pretty_json(entry.before)

    @admin.display(description="after")
    def after_json(self, entry: AuditLog) -> str:
        return pretty_json(entry.after)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False
