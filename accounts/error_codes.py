"""The accounts app's refusal codes (accounts.services)."""

from traitortrack.errors import RefusalCode


class PromotionRefusal(RefusalCode):
    """A promotion request or decision the rules refuse."""

    ADMIN_ONLY = "admin_only"
    ALREADY_DECIDED = "already_decided"
    ALREADY_PENDING = "already_pending"
    NOT_A_PROMOTION = "not_a_promotion"
    REASON_REQUIRED = "reason_required"
    ROLE_CHANGED = "role_changed"
    UNKNOWN_ROLE = "unknown_role"


class OTPRefusal(RefusalCode):
    """A second-factor code django-otp would not check yet."""

    THROTTLED = "otp_throttled"
