"""django-import-export's export of bills for the admin: a few thousand rows, read whole, written by tablib
(formulas escaped: IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT). The columns are the export page's
(exports/tables.py "bills")."""

from import_export import fields, resources

from bills.models import Bill


class BillResource(resources.ModelResource):
    product = fields.Field(attribute="product__code", column_name="product")
    # Annotated by the admin's queryset (Bill.objects.with_parent_count()).
    parents = fields.Field(attribute="parent_count", column_name="parents", readonly=True)
    created_by = fields.Field(attribute="created_by__username", column_name="created_by", readonly=True)
    date = fields.Field(attribute="bill_date", column_name="date")

    class Meta:
        model = Bill
        fields = (
            "bill_number",
            "customer",
            "date",
            "status",
            "product",
            "expected_parents",
            "parents",
            "notes",
            "created_by",
            "created_at",
            "finalised_at",
        )
        export_order = fields
