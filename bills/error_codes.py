"""The bills app's refusal codes (bills.services, bills.api)."""

from traitortrack.errors import RefusalCode


class BillRefusal(RefusalCode):
    """A bill change the rules refuse."""

    ADMIN_ONLY = "admin_only"
    ALREADY_FINALISED = "already_finalised"
    ALREADY_ON_BILL = "already_on_bill"
    ALREADY_ON_THIS_BILL = "already_on_this_bill"
    BILL_EMPTY = "bill_empty"
    BILL_FINALISED = "bill_finalised"
    BILL_FULL = "bill_full"
    BILL_NUMBER_TAKEN = "bill_number_taken"
    FORBIDDEN = "forbidden"
    HAS_RETURNED_PARENTS = "has_returned_parents"
    NOT_A_PARENT_CODE = "not_a_parent_code"
    NOT_FINALISED = "not_finalised"
    NOT_ON_THIS_BILL = "not_on_this_bill"
    PRODUCT_INACTIVE = "product_inactive"
    UNKNOWN_BILL = "unknown_bill"
    UNKNOWN_PARENT = "unknown_parent"
