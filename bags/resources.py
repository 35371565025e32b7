"""django-import-export's admin export of products (formulas escaped: IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT).
Export only: a product's parent format is checked by its admin form against every existing product's."""

from import_export import resources

from bags.models import Product


class ProductResource(resources.ModelResource):
    class Meta:
        model = Product
        fields = ("code", "name", "parent_prefix", "parent_digits", "capacity", "child_weight_kg", "is_active")
        export_order = fields
