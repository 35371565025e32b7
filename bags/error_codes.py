"""The bags app's refusal codes: the QR rules' and the search's."""

from traitortrack.errors import RefusalCode


class QRRefusal(RefusalCode):
    """A code that cannot be a bag code here (bags.qr)."""

    BAD_CHARACTERS = "bad_characters"
    BAD_FORMAT = "bad_format"
    BAD_PARENT_FORMAT = "bad_parent_format"
    BAD_PREFIX = "bad_prefix"
    CHILD_WHERE_PARENT_EXPECTED = "child_where_parent_expected"
    COMMAND_CODE = "command_code"
    EMPTY = "empty"
    PARENT_WHERE_CHILD_EXPECTED = "parent_where_child_expected"
    TOO_LONG = "too_long"
    TOO_SHORT = "too_short"


class SearchRefusal(RefusalCode):
    """A search the database gave up on (bags.selectors)."""

    SEARCH_TOO_BROAD = "search_too_broad"
