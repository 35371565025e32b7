"""The scan loop's refusal codes (scanning.services, scanning.api). A QR rule's refusal keeps its own
code (bags.error_codes.QRRefusal); the edge's (not_logged_in, busy ...) are traitortrack.errors'."""

from traitortrack.errors import RefusalCode


class ScanRefusal(RefusalCode):
    """A scan the rules refuse."""

    UNKNOWN_PARENT = "unknown_parent"
    UNKNOWN_BAG = "unknown_bag"
    NOT_YOUR_AREA = "not_your_area"
    AREA_REQUIRED = "area_required"
    UNKNOWN_AREA = "unknown_area"
    BAD_AREA_ID = "bad_area_id"
    CHILD_IN_OTHER_PARENT = "child_in_other_parent"
    ALREADY_IN_THIS_PARENT = "already_in_this_parent"
    PARENT_FULL = "parent_full"
    PARENT_COMPLETE = "parent_complete"
    PRODUCT_INACTIVE = "product_inactive"
    NOTHING_TO_UNDO = "nothing_to_undo"
    UNDO_TOO_LATE = "undo_too_late"
    ALREADY_UNDONE = "already_undone"
    MOVED = "moved"
    FORBIDDEN = "forbidden"
    NOT_IN_A_PARENT = "not_in_a_parent"
    ON_FINALISED_BILL = "on_finalised_bill"
    REASON_REQUIRED = "reason_required"
    BAD_SCANNED_AT = "bad_scanned_at"
    BAD_CLIENT_SCAN_ID = "bad_client_scan_id"
    CLIENT_SCAN_ID_TAKEN = "client_scan_id_taken"
