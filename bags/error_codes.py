"""The bags app's refusal codes: the QR rules', the imports' and the search's."""

from traitortrack.errors import RefusalCode


class QRRefusal(RefusalCode):
    """A code that cannot be a bag code here (bags.qr)."""

    BAD_CHARACTERS = "bad_characters"
    BAD_FORMAT = "bad_format"
    BAD_PARENT_FORMAT = "bad_parent_format"
    BAD_PREFIX = "bad_prefix"
    CHILD_WHERE_PARENT_EXPECTED = "child_where_parent_expected"
    EMPTY = "empty"
    PARENT_WHERE_CHILD_EXPECTED = "parent_where_child_expected"
    TOO_LONG = "too_long"
    TOO_SHORT = "too_short"


class ImportRefusal(RefusalCode):
    """A file or an import refused whole (bags.import_files, bags.imports, bills.imports)."""

    CELL_TOO_LONG = "cell_too_long"
    DATABASE_REFUSED = "database_refused"
    DUPLICATE_COLUMNS = "duplicate_columns"
    EMPTY_FILE = "empty_file"
    MISSING_COLUMNS = "missing_columns"
    NO_HEADER = "no_header"
    NOT_CSV = "not_csv"
    NOT_TEXT = "not_text"
    NOT_UTF8 = "not_utf8"
    NOT_XLSX = "not_xlsx"
    PARENT_TAKEN = "parent_taken"
    TOO_MANY_ROWS = "too_many_rows"
    UNKNOWN_COLUMNS = "unknown_columns"
    WRONG_EXTENSION = "wrong_extension"


class SearchRefusal(RefusalCode):
    """A search the database gave up on (bags.selectors)."""

    SEARCH_TOO_BROAD = "search_too_broad"
