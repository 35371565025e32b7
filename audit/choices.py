"""The audit app's choices: every action the audit log names. Every app may read them (audit is the lowest
app layer above the project base)."""

from django.db import models


class AuditAction(models.TextChoices):
    """Every action the audit log names, as ``<object>.<verb>``: the object singular and, where it is a
    model, named as the model is (``billbag``), so the admin's ``<model>.<create|change|delete>`` are
    members too. ``record`` takes nothing else and a CHECK constraint holds the stored values to these:
    adding one means a migration that replaces audit_action_known.
    """

    AUDIT_PURGE = "audit.purge", "Audit log purged"
    BAG_CREATE = "bag.create", "Bag created"
    BAG_CHANGE = "bag.change", "Bag changed"
    BAG_DELETE = "bag.delete", "Bag deleted"
    BAG_IMPORT = "bag.import", "Bags imported"
    BAG_BULK_LOAD = "bag.bulk_load", "Bags bulk-loaded (demo data)"
    BILL_CREATE = "bill.create", "Bill created"
    BILL_CHANGE = "bill.change", "Bill changed"
    BILL_DELETE = "bill.delete", "Bill deleted"
    BILL_PARENT_ADD = "bill.parent_add", "Parent bag added to bill"
    BILL_PARENT_REMOVE = "bill.parent_remove", "Parent bag removed from bill"
    BILL_FINALISE = "bill.finalise", "Bill finalised"
    BILL_REOPEN = "bill.reopen", "Bill reopened"
    BILL_EXPORT = "bill.export", "Bill exported"
    BILL_IMPORT = "bill.import", "Bills imported"
    BILLBAG_CREATE = "billbag.create", "Bill entry created"
    BILLBAG_CHANGE = "billbag.change", "Bill entry changed"
    BILLBAG_DELETE = "billbag.delete", "Bill entry deleted"
    DISPATCHAREA_CREATE = "dispatcharea.create", "Dispatch area created"
    DISPATCHAREA_CHANGE = "dispatcharea.change", "Dispatch area changed"
    DISPATCHAREA_DELETE = "dispatcharea.delete", "Dispatch area deleted"
    LINK_DELETE = "link.delete", "Child unlinked"
    PRODUCT_CREATE = "product.create", "Product created"
    PRODUCT_CHANGE = "product.change", "Product changed"
    PRODUCT_DELETE = "product.delete", "Product deleted"
    PROMOTION_REQUEST = "promotion.request", "Promotion requested"
    PROMOTION_APPROVE = "promotion.approve", "Promotion approved"
    PROMOTION_REJECT = "promotion.reject", "Promotion rejected"
    SCAN_UNDO = "scan.undo", "Scan undone"
    # A whole table taken out from the exports page; which one is in ``after["table"]``.
    TABLE_EXPORT = "table.export", "Table exported"
    USER_CREATE = "user.create", "User created"
    USER_CHANGE = "user.change", "User changed"
    USER_DELETE = "user.delete", "User deleted"
    USER_ROLE_CHANGE = "user.role_change", "Role changed"
    USER_PASSWORD_CHANGE = "user.password_change", "Password changed"
    USER_PASSWORD_RESET = "user.password_reset", "Password reset"
    USER_LOGIN = "user.login", "Logged in"
    USER_LOGIN_FAILURE = "user.login_failure", "Login failed"
    USER_LOCKOUT = "user.lockout", "Locked out"
    USER_LOGOUT = "user.logout", "Logged out"
    USER_OTP_ENROL = "user.otp_enrol", "Two-factor app enrolled"
    USER_OTP_VERIFY = "user.otp_verify", "Two-factor code accepted"
    USER_OTP_RECOVERY_CODE = "user.otp_recovery_code", "Recovery code used"
    USER_OTP_FAILURE = "user.otp_failure", "Two-factor code refused"
    USER_OTP_RESET = "user.otp_reset", "Two-factor devices reset"
