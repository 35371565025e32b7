"""The imports app's refusal codes."""

from traitortrack.errors import RefusalCode


class ImportRefusal(RefusalCode):
    """A file or an import refused whole (imports.files, imports.bag_import, imports.bill_import)."""

    BAD_QUOTE = "bad_quote"
    CELL_TOO_LONG = "cell_too_long"
    CREATED_MEANWHILE = "created_meanwhile"
    DATABASE_REFUSED = "database_refused"
    DUPLICATE_COLUMNS = "duplicate_columns"
    EMPTY_FILE = "empty_file"
    LINE_BREAK_IN_CELL = "line_break_in_cell"
    MISSING_COLUMNS = "missing_columns"
    NO_HEADER = "no_header"
    NO_ROWS = "no_rows"
    NOT_CSV = "not_csv"
    NOT_TEXT = "not_text"
    NOT_UTF8 = "not_utf8"
    NOT_XLSX = "not_xlsx"
    PARENT_TAKEN = "parent_taken"
    TOO_MANY_ROWS = "too_many_rows"
    UNCLOSED_QUOTE = "unclosed_quote"
    UNKNOWN_COLUMNS = "unknown_columns"
    UTF16_TEXT = "utf16_text"
    WRONG_DELIMITER = "wrong_delimiter"
    WRONG_EXTENSION = "wrong_extension"
    XLSX_TOO_LARGE = "xlsx_too_large"
