"""django-import-export's admin exports of dispatch areas and users (formulas escaped:
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT). Export only: a user is made through the admin's form, which
applies the role rules and hashes the password; a file could do neither."""

from import_export import fields, resources

from accounts.models import DispatchArea, User


class DispatchAreaResource(resources.ModelResource):
    class Meta:
        model = DispatchArea
        fields = ("name", "code", "is_active", "created_at")
        export_order = fields


class UserResource(resources.ModelResource):
    # Never the password hash.
    dispatch_area = fields.Field(attribute="dispatch_area__code", column_name="dispatch_area")

    class Meta:
        model = User
        fields = ("username", "email", "first_name", "last_name", "role", "dispatch_area", "is_active", "last_login")
        export_order = fields
