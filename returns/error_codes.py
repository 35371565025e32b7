"""The returns app's refusal codes (returns.services, returns.api)."""

from traitortrack.errors import RefusalCode


class ReturnRefusal(RefusalCode):
    """A return ticket change the rules refuse."""

    ALREADY_COMMITTED = "already_committed"
    ALREADY_ON_TICKET = "already_on_ticket"
    ALREADY_ON_THIS_TICKET = "already_on_this_ticket"
    ALREADY_RETURNED = "already_returned"
    BAD_CLIENT_SCAN_ID = "bad_client_scan_id"
    BILL_NOT_FINALISED = "bill_not_finalised"
    CLIENT_SCAN_ID_TAKEN = "client_scan_id_taken"
    FORBIDDEN = "forbidden"
    NOT_A_PARENT_CODE = "not_a_parent_code"
    NOT_ON_ANY_BILL = "not_on_any_bill"
    NOT_ON_THIS_TICKET = "not_on_this_ticket"
    TICKET_EMPTY = "ticket_empty"
    TICKET_NOT_DRAFT = "ticket_not_draft"
    UNKNOWN_PARENT = "unknown_parent"
    UNKNOWN_TICKET = "unknown_ticket"
