"""The labels app's refusal codes (labels.codes, labels.services)."""

from traitortrack.errors import RefusalCode


class LabelRefusal(RefusalCode):
    """Labels that cannot be made or printed as asked."""

    BAD_CODE = "bad_code"
    BAD_RANGE = "bad_range"
    DUPLICATE_CODE = "duplicate_code"
    NO_CODES = "no_codes"
    NO_CODES_LEFT = "no_codes_left"
    NOT_A_ROLL = "not_a_roll"
    PRINTER_UNREACHABLE = "printer_unreachable"
    TOO_MANY = "too_many"
