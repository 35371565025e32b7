"""The admin's bill import: django-import-export's two steps over imports/bill_import.py (see imports/resources.py)."""

from typing import Any

from imports.bill_import import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, import_bills
from imports.files import ImportReport
from imports.resources import ServiceImportResource


class BillImportResource(ServiceImportResource):
    columns = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)

    def run(self, *, source, file_name: str, user, dry_run: bool, options: dict[str, Any]) -> ImportReport:
        return import_bills(source=source, file_name=file_name, user=user, dry_run=dry_run, **options)

    @classmethod
    def get_display_name(cls) -> str:
        return "Bills with their parent bags"
