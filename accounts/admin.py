from typing import Any

from axes.admin import AccessAttemptAdmin
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import DispatchArea, LoginLockout, PromotionRequest, PromotionStatus, Role, User
from accounts.otp import reset_otp_devices
from accounts.resources import DispatchAreaResource, UserResource
from accounts.services import PromotionRefused, decide_promotion
from audit.admin import AuditedAdminMixin, AuditedExportMixin, GuardedDeleteMixin
from audit.choices import AuditAction
from audit.services import record

admin.site.site_header = "TraitorTrack admin"
admin.site.site_title = "TraitorTrack admin"
admin.site.index_title = "Administration"
# Access is by role (admin, biller, dispatcher), never by Django groups: a groups page would only mislead.
admin.site.unregister(Group)
# Two-factor devices are reset from the user list (an audited action), never edited or deleted one by one,
# and nobody should read another admin's TOTP secret.
admin.site.unregister(TOTPDevice)
admin.site.unregister(StaticDevice)


class RoleRulesFormMixin:
    """The role rules the database enforces, checked first so the admin reads a sentence, not a constraint name.

    The role decides Django admin access (the database holds admin = staff = superuser), so the flags
    are set from it rather than offered as tick boxes that could disagree.
    """

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        role = cleaned.get("role")
        if role == Role.DISPATCHER and "dispatch_area" in self.fields and cleaned.get("dispatch_area") is None:
            self.add_error("dispatch_area", "A dispatcher works in one dispatch area: choose it.")
        if role:
            self.instance.is_staff = self.instance.is_superuser = role == Role.ADMIN
        return cleaned


class UserCreationForm(RoleRulesFormMixin, AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "email", "role", "dispatch_area")


class UserEditForm(RoleRulesFormMixin, UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User


@admin.register(User)
class UserAdmin(AuditedExportMixin, AuditedAdminMixin, GuardedDeleteMixin, DjangoUserAdmin):
    resource_classes = [UserResource]
    export_table_name = "users"
    form = UserEditForm
    add_form = UserCreationForm
    # No groups or per-user permissions: access is by role.
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email", "language")}),
        ("Role", {"fields": ("role", "dispatch_area")}),
        ("Access", {"fields": ("is_active",)}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "email", "usable_password", "password1", "password2")}),
        ("Role", {"classes": ("wide",), "fields": ("role", "dispatch_area")}),
    )
    readonly_fields = ("last_login", "date_joined")
    filter_horizontal = ()
    list_display = ("username", "email", "role", "dispatch_area", "is_active", "last_login")
    list_select_related = ("dispatch_area",)
    list_filter = ("role", "dispatch_area", "is_active")
    # The hash is a secret even in the audit log.
    audit_exclude = ("password",)
    actions = ("reset_two_factor_devices",)
    # A dispatcher's scans and a biller's bills keep them (PROTECT): deactivate such a user instead.
    delete_blockers = (
        ("scanning.Scan", "user"),
        ("bills.Bill", "created_by"),
        ("bills.Bill", "finalised_by"),
    )

    def audit_action(self, obj: User, verb: str, before: dict | None, after: dict | None) -> AuditAction:
        # Role changes are audited by name, so they can be found among the other user edits.
        if verb == "change" and before and after and before.get("role") != after.get("role"):
            return AuditAction.USER_ROLE_CHANGE
        return super().audit_action(obj, verb, before, after)

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        # Django's password page saves through its own form, not save_model: audit it here.
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name == "auth_user_password_change":
            record(actor=request.user, action=AuditAction.USER_PASSWORD_CHANGE, obj=obj, request=request)
        return super().log_change(request, obj, message)

    @admin.action(description="Reset two-factor devices")
    def reset_two_factor_devices(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        # For a lost phone: the user enrols a new authenticator app at their next login.
        for user in queryset:
            reset_otp_devices(actor=request.user, user=user, request=request)
        self.message_user(
            request,
            f"Two-factor devices reset for {len(queryset)} user(s); they set up an authenticator app at next login.",
            messages.SUCCESS,
        )


@admin.register(DispatchArea)
class DispatchAreaAdmin(AuditedExportMixin, AuditedAdminMixin, GuardedDeleteMixin, admin.ModelAdmin):
    resource_classes = [DispatchAreaResource]
    export_table_name = "areas"
    list_display = ("name", "code", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "code")
    prepopulated_fields = {"code": ("name",)}
    # Users and bags keep their area (PROTECT): deactivate an area instead of deleting it.
    delete_blockers = (("accounts.User", "dispatch_area"), ("bags.Bag", "dispatch_area"))


@admin.register(LoginLockout)
class LockoutAdmin(AccessAttemptAdmin):
    """Failed-login counts per username and IP; deleting one unlocks that pair (django-axes)."""


@admin.register(PromotionRequest)
class PromotionRequestAdmin(admin.ModelAdmin):
    """Requests are decided only through the two actions, which go through accounts.services.decide_promotion
    (audited, the user notified); the rows themselves are read-only here."""

    list_display = ("user", "from_role", "to_role", "status", "created_at", "decided_by", "decided_at")
    list_filter = ("status", "to_role")
    list_select_related = ("user", "decided_by")
    search_fields = ("user__username",)
    readonly_fields = (
        "user",
        "from_role",
        "to_role",
        "reason",
        "status",
        "decided_by",
        "decided_at",
        "decision_note",
        "created_at",
    )
    actions = ("approve", "reject")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PromotionRequest | None = None) -> bool:
        return False

    def _decide(self, request: HttpRequest, queryset: QuerySet[PromotionRequest], *, approve: bool) -> None:
        decided = 0
        for promotion in queryset.filter(status=PromotionStatus.PENDING):
            try:
                decide_promotion(promotion=promotion, admin=request.user, approve=approve, request=request)
            except PromotionRefused as refusal:
                self.message_user(request, f"{promotion.user}: {refusal.message}", messages.ERROR)
            else:
                decided += 1
        verb = "approved" if approve else "rejected"
        self.message_user(request, f"{decided} request(s) {verb}; the users are notified.", messages.SUCCESS)

    @admin.action(description="Approve")
    def approve(self, request: HttpRequest, queryset: QuerySet[PromotionRequest]) -> None:
        self._decide(request, queryset, approve=True)

    @admin.action(description="Reject")
    def reject(self, request: HttpRequest, queryset: QuerySet[PromotionRequest]) -> None:
        self._decide(request, queryset, approve=False)
