"""The imports app's refusal codes."""

from traitortrack.errors import RefusalCode


class ImportRefusal(RefusalCode):
    """A file or an import refused whole (imports.files, imports.bag_import, imports.bill_import)."""

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
    XLSX_TOO_LARGE = "xlsx_too_large"
