"""The tracking app's refusal codes: deleting a wrong bag (tracking.services)."""

from traitortrack.errors import RefusalCode


class DeleteRefusal(RefusalCode):
    """A deletion the rules refuse."""

    ADMIN_ONLY = "admin_only"
    UNKNOWN_BAG = "unknown_bag"
    REASON_REQUIRED = "reason_required"
    ON_BILL = "on_bill"
    IN_USE = "in_use"
