"""The admin's bill import: django-import-export's two steps over bills/imports.py (see bags/resources.py)."""

from typing import Any

from bags.import_files import ImportReport
from bags.resources import ServiceImportResource
from bills.imports import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, import_bills


class BillImportResource(ServiceImportResource):
    columns = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)

    def run(self, *, source, file_name: str, user, dry_run: bool, options: dict[str, Any]) -> ImportReport:
        return import_bills(source=source, file_name=file_name, user=user, dry_run=dry_run, **options)

    @classmethod
    def get_display_name(cls) -> str:
        return "Bills with their parent bags"
