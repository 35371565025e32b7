"""Reading an import file (.csv or .xlsx) safely, a row at a time, and the row-by-row report shapes.

Nothing here touches the database. A file that cannot be an import (wrong extension, not really Excel,
not UTF-8 text, empty, no header, too many rows) raises ``FileRefused`` with a sentence for the operator;
the row checks of each import (imports/bag_import.py, imports/bill_import.py) produce ``RowIssue``s. Rows are
numbered as the operator sees them in a spreadsheet: the header is row 1 (in a CSV, row N is line N: a record
is one line, see _csv_records).

Both readers stream: a CSV through the csv module over an incremental UTF-8 decoder, a workbook through
openpyxl's read-only mode, so memory stays flat however long the file is; the row cap (IMPORT_MAX_ROWS)
is checked before reading when the file says how long it is (a CSV's lines, a sheet's declared size),
and again while reading.
"""

import codecs
import csv
import io
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PurePath
from typing import IO, Any

from django.conf import settings

from imports.error_codes import ImportRefusal
from traitortrack.errors import Refused

EXTENSIONS = (".csv", ".xlsx")
# A .xlsx is a zip holding at least these parts.
XLSX_PARTS = ("[Content_Types].xml", "xl/workbook.xml")
ZIP_MAGIC = b"PK\x03\x04"
# No cell of ours is near this long; a longer one is junk, not a code (the csv module's own default is 128 KB).
MAX_CELL_CHARS = 10_000
COUNT_CHUNK_BYTES = 1024 * 1024
# Reading rows is pure Python: in a gevent worker (the admin's import) nothing else in that worker runs
# meanwhile, the scans of half the bay included. Every this many rows the reader lets them run.
YIELD_EVERY_ROWS = 1_000


class FileRefused(Refused):
    """The file as a whole cannot be imported; nothing was changed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, status=422)


@dataclass(frozen=True)
class RowIssue:
    """One row's problem (or, for ``already_present``, a note): the row as the spreadsheet numbers it."""

    row: int
    code: str
    message: str

    @property
    def is_error(self) -> bool:
        return self.code not in NOT_ERRORS


# Rows reported but not refused: a repeat import finds its rows there and changes nothing.
ALREADY_PRESENT = "already_present"
NOT_ERRORS = frozenset({ALREADY_PRESENT})


# Rows listed in a report; beyond these only counted. Without --skip-invalid, reading stops at this many
# bad rows: nothing would be written anyway, and a file of a million junk rows is refused in a moment.
MAX_LISTED = 1_000


@dataclass
class ImportReport:
    """What an import found and did: the listed issues (errors and notes, in row order) and the counts.

    Nothing is dropped unsaid: after a whole read (not stopped at MAX_LISTED bad rows), the lines below the
    header are ``rows + blank_rows``, and the rows read are those to import (imported) + already present +
    refused (``error_count``); a CSV line a broken quote swallowed is a refused row of its own.
    """

    subject: str  # "bags" or "bills"
    layout: str
    file_name: str
    dry_run: bool
    skip_invalid: bool
    rows: int = 0
    issues: list[RowIssue] = field(default_factory=list)
    error_count: int = 0
    present_count: int = 0
    blank_rows: int = 0
    created: dict[str, int] = field(default_factory=dict)
    written: bool = False
    stopped_at_row: int | None = None

    @property
    def errors(self) -> list[RowIssue]:
        return [issue for issue in self.issues if issue.is_error]

    @property
    def unlisted(self) -> int:
        return self.error_count + self.present_count - len(self.issues)

    @property
    def good_rows(self) -> int:
        """Rows to import or already there: what --skip-invalid keeps."""
        return self.rows - self.error_count

    def add(self, issue: RowIssue) -> None:
        if issue.is_error:
            self.error_count += 1
        else:
            self.present_count += 1
        if len(self.issues) < MAX_LISTED:
            self.issues.append(issue)

    def merge(self, issues: list[RowIssue], *, errors: int, present: int) -> None:
        """Add the issues found by the set-based checks (already counted in ``errors`` and ``present``)."""
        self.error_count += errors
        self.present_count += present
        self.issues = sorted(self.issues + issues, key=lambda issue: issue.row)[:MAX_LISTED]

    def summary(self) -> str:
        fine = self.rows - self.error_count - self.present_count
        text = f"{self.rows:,} rows read: {fine:,} to import, {self.present_count:,} already present, "
        text += f"{self.error_count:,} with errors"
        text += f"; {self.blank_rows:,} blank rows skipped." if self.blank_rows else "."
        if self.stopped_at_row is not None:
            text += f" Reading stopped at row {self.stopped_at_row:,} after {MAX_LISTED:,} bad rows."
        return text

    def outcome(self) -> str:
        made = ", ".join(f"{count:,} {what}" for what, count in self.created.items()) or "nothing"
        if self.written:
            if not self.error_count and not any(self.created.values()):
                return f"{self.present_count:,} rows already present; nothing to do."
            skipped = f"; {self.error_count:,} bad rows skipped" if self.error_count else ""
            return f"Imported: {made}{skipped}."
        if self.error_count and not self.good_rows:
            return "Nothing was written: every row was refused" + (" (dry run)." if self.dry_run else ".")
        if self.error_count and not self.skip_invalid:
            return (
                "Nothing was written: fix the rows listed, or import only the good rows "
                "(--skip-invalid on the command line, the tick box in the admin)."
            )
        return f"Dry run, nothing was written. The import would add {made}."

    def lines(self, *, list_present: bool = True) -> list[str]:
        """The report as an operator reads it: a line per listed row, then the summary and the outcome.
        Without ``list_present`` the rows already there are only counted (a repeat import of a big file)."""
        issues = [issue for issue in self.issues if list_present or issue.is_error]
        lines = [f"row {issue.row}: {issue.code}: {issue.message}" for issue in issues]
        more = self.error_count + (self.present_count if list_present else 0) - len(issues)
        if more > 0:
            lines.append(f"... and {more:,} more rows not listed.")
        if not list_present and self.present_count:
            lines.append(f"{self.present_count:,} rows already present, not listed (--verbosity 2 lists them).")
        return [*lines, self.summary(), self.outcome()]


def no_rows() -> FileRefused:
    """A header and nothing under it (blank rows at most) is no import: refused like an empty file, unaudited."""
    return FileRefused(ImportRefusal.NO_ROWS, "The file has a header but no rows.")


def max_rows() -> int:
    return settings.IMPORT_MAX_ROWS


def cell_text(value: Any) -> str:
    """A cell as text: numbers as Excel shows them (12345.0 is 12345), dates as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def header_name(value: Any) -> str:
    return "_".join(cell_text(value).strip().lower().split())


@dataclass
class Table:
    """An open import file: its header (names lower-case, spaces as _) and its data rows."""

    name: str
    header: list[str]
    # (row number, cells as text, as long as the header; blank rows too), or a CSV's unreadable line's RowIssue
    rows: Iterator[tuple[int, list[str] | RowIssue]]
    declared_rows: int | None  # data rows the file says it holds (an upper bound), when it says

    def column(self, name: str) -> int | None:
        return self.header.index(name) if name in self.header else None


def open_table(source: IO[bytes], file_name: str) -> Table:
    """The file's header and a stream of its rows. Refused: an extension other than .csv or .xlsx, a file
    whose content is not what its name says, an empty file, no header, more rows than IMPORT_MAX_ROWS."""
    extension = PurePath(file_name).suffix.lower()
    if extension not in EXTENSIONS:
        hint = " Save it from Excel as .xlsx (Excel Workbook)." if extension in (".xls", ".xlsm", ".ods") else ""
        raise FileRefused(
            ImportRefusal.WRONG_EXTENSION,
            f"'{PurePath(file_name).name}' is not a .csv or .xlsx file.{hint}",
        )
    head = source.read(len(ZIP_MAGIC))
    source.seek(0)
    if not head:
        raise FileRefused(ImportRefusal.EMPTY_FILE, "The file is empty.")
    if extension == ".csv":
        if head == ZIP_MAGIC:
            raise FileRefused(
                ImportRefusal.NOT_CSV, "This file is a zip archive (perhaps an Excel workbook), not CSV text."
            )
        return _csv_table(source, file_name)
    return _xlsx_table(source, file_name)


def _check_declared(declared: int | None) -> None:
    if declared is not None and declared > max_rows():
        raise FileRefused(
            ImportRefusal.TOO_MANY_ROWS,
            f"The file holds about {declared:,} rows; at most {max_rows():,} are taken in one import. Split it.",
        )


def _too_many_rows() -> FileRefused:
    return FileRefused(ImportRefusal.TOO_MANY_ROWS, f"The file holds more than {max_rows():,} rows; split it.")


def _is_utf16(head: bytes) -> bool:
    """Excel's "Unicode Text" and Notepad's "Unicode" are UTF-16: a byte order mark, or (without one) the NUL
    of every other byte that ASCII text has in UTF-16. Said so, rather than refused as a binary file."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    sample = head[: min(len(head), 512) // 2 * 2]
    odd, even = sample[1::2], sample[0::2]
    return bool(sample) and ((not any(odd) and all(even)) or (not any(even) and all(odd)))


def _scan_csv(source: IO[bytes]) -> int:
    """One pass over the raw bytes before parsing: the lines (an upper bound on the rows), and a refusal
    naming the row of a NUL byte or of text that is not UTF-8 (what a binary file or a legacy export has)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    lines = 0
    last = b""
    while chunk := source.read(COUNT_CHUNK_BYTES):
        if not lines and not last and _is_utf16(chunk):
            raise FileRefused(
                ImportRefusal.UTF16_TEXT, "This file is UTF-16 text (Excel's 'Unicode Text'); save it as 'CSV UTF-8'."
            )
        nul = chunk.find(b"\x00")
        if nul >= 0:
            row = lines + chunk.count(b"\n", 0, nul) + 1
            raise FileRefused(ImportRefusal.NOT_TEXT, f"Row {row} holds a NUL byte: this is not a CSV text file.")
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as error:
            row = lines + chunk.count(b"\n", 0, max(error.start, 0)) + 1
            raise FileRefused(
                ImportRefusal.NOT_UTF8,
                f"Row {row} is not UTF-8 text ({error.reason}). Save the file as 'CSV UTF-8', or as .xlsx.",
            ) from error
        lines += chunk.count(b"\n")
        last = chunk
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:
        raise FileRefused(
            ImportRefusal.NOT_UTF8, f"Row {lines + 1} ends in the middle of a character: not UTF-8 text."
        ) from error
    source.seek(0)
    return lines + (1 if last and not last.endswith(b"\n") else 0)


def _csv_table(source: IO[bytes], file_name: str) -> Table:
    # Lines bound the rows from above: refuse a huge file before parsing it.
    lines = _scan_csv(source)
    _check_declared(lines - 1)
    text = io.TextIOWrapper(source, encoding="utf-8-sig", errors="strict", newline="")
    # strict: a quote still open at the end of the file, or text after a closing quote, is an error; the
    # default dialect quietly keeps what it read as the cell (`SB20001,"CB00` at the end imported CB00).
    reader = csv.reader(text, strict=True)
    records = _csv_records(reader)
    try:
        _, first = next(records)
    except StopIteration:
        raise FileRefused(ImportRefusal.EMPTY_FILE, "The file holds no rows.") from None
    if isinstance(first, RowIssue):
        raise unreadable_file(first)
    _check_delimiter(first)
    header = _header(first)

    def rows() -> Iterator[tuple[int, list[str] | RowIssue]]:
        yield from _data_rows(records, len(header))

    return Table(file_name, header, rows(), declared_rows=max(lines - 1, 0))


def _csv_records(reader) -> Iterator[tuple[int, list[str] | RowIssue]]:
    """The records, each numbered by its line: a record that is not one whole line is unreadable, and comes
    as a RowIssue for each line it took, so every line of the file is accounted for.

    A cell holding a line break is legal CSV, but no code, bill number, customer or date has one, and
    taking such records is what lets one unclosed quote swallow the lines below it into a single cell (the
    rows silently gone). So a record must be one line, and row N of a CSV is always its line N. (A bill's
    notes on several lines come in an .xlsx, whose cells cannot run into each other.)"""
    last_line = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            # The csv module's errors differ only in their text; line_num is the last line the record took.
            first, last = last_line + 1, reader.line_num
            if "field larger than field limit" in str(error) and last == first:
                raise _cell_too_long(first) from error
            if "field larger than field limit" in str(error):
                # The parser gave up inside the cell: the lines after this one can no longer be told apart.
                raise FileRefused(
                    ImportRefusal.UNCLOSED_QUOTE,
                    f"Line {first:,}: a cell runs on from line {first:,} to past line {last:,} (more than "
                    f"{csv.field_size_limit():,} characters): a quote opened there is probably never closed. "
                    "Fix the quote and import again.",
                ) from error
            if "unexpected end of data" in str(error):
                code, why = ImportRefusal.UNCLOSED_QUOTE, "a quote opened on this line is never closed"
                if first == last:
                    why += ", so the file ends inside it"
                else:
                    why += f": lines {first:,} to {last:,} (the end) were read as one cell"
            else:
                code, why = ImportRefusal.BAD_QUOTE, f"a quote in it is out of place ({error})"
                if last > first:
                    why = (
                        f"a quote opened on this line closes only on line {last:,}, with text after it: "
                        f"lines {first:,} to {last:,} were read as one record"
                    )
            yield from _unreadable(first, last, code, why)
            last_line = last
            continue
        first, last_line = last_line + 1, reader.line_num
        if last_line > first:
            why = f"a quoted cell runs from this line to line {last_line:,}: a cell never holds a line break here"
            yield from _unreadable(first, last_line, ImportRefusal.LINE_BREAK_IN_CELL, why)
            continue
        if any(len(cell) > MAX_CELL_CHARS for cell in record):
            raise _cell_too_long(first)
        yield first, record


def _cell_too_long(row: int) -> FileRefused:
    return FileRefused(ImportRefusal.CELL_TOO_LONG, f"Row {row} has a cell of more than {MAX_CELL_CHARS:,} characters.")


def _unreadable(first: int, last: int, code: ImportRefusal, why: str) -> Iterator[tuple[int, RowIssue]]:
    """A refused row for each line of an unreadable record: its first line says why, the others point to it."""
    yield first, RowIssue(first, str(code), f"Line {first:,}: {why}. Close or remove the quote.")
    for line in range(first + 1, last + 1):
        yield line, RowIssue(line, str(code), f"Line {line:,} was read into the record of line {first:,} (see there).")


def unreadable_file(issue: RowIssue) -> FileRefused:
    """Unreadable CSV lines refuse the file, unless only the good rows are imported (then they are rows refused)."""
    return FileRefused(ImportRefusal(issue.code), f"{issue.message} Nothing was imported.")


# What CSV files saved with a list separator other than the comma hold in row 1 (Excel in many locales).
OTHER_DELIMITERS = ((";", "';'"), ("\t", "tabs"), ("|", "'|'"))


def _check_delimiter(cells: list[str]) -> None:
    filled = [cell.strip() for cell in cells if cell.strip()]
    if len(filled) != 1:
        return
    for delimiter, name in OTHER_DELIMITERS:
        if delimiter in filled[0]:
            shown = filled[0].replace("\t", "\\t")
            raise FileRefused(
                ImportRefusal.WRONG_DELIMITER,
                f"Row 1 has one column '{shown}': the file seems to be separated by {name}, save it as CSV "
                "with commas (CSV UTF-8).",
            )


def _xlsx_table(source: IO[bytes], file_name: str) -> Table:
    from openpyxl import load_workbook

    not_excel = FileRefused(
        ImportRefusal.NOT_XLSX, f"'{PurePath(file_name).name}' is not really an Excel workbook (.xlsx)."
    )
    if not zipfile.is_zipfile(source):
        raise not_excel
    source.seek(0)
    try:
        with zipfile.ZipFile(source) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise not_excel from error
    if not all(part in names for part in XLSX_PARTS):
        raise not_excel
    source.seek(0)
    try:
        # data_only=False: a formula cell reads as its formula ("=A1&B1"), which the row checks refuse.
        book = load_workbook(source, read_only=True, data_only=False)
        sheet = book.worksheets[0]
        declared = sheet.max_row
    except Exception as error:  # openpyxl raises many kinds (KeyError, XML errors, IndexError) for a broken file
        raise FileRefused(
            ImportRefusal.NOT_XLSX,
            f"'{PurePath(file_name).name}' could not be read as an Excel workbook ({type(error).__name__}).",
        ) from error
    _check_declared(declared - 1 if declared else None)
    # The declared size may be wrong (written by another program): read what is really there.
    sheet.reset_dimensions()
    records = _xlsx_records(book, sheet)
    try:
        _, first = next(records)
    except StopIteration:
        book.close()
        raise FileRefused(ImportRefusal.EMPTY_FILE, "The workbook's first sheet holds no rows.") from None
    header = _header(first)

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            yield from _data_rows(records, len(header))
        finally:
            book.close()

    return Table(file_name, header, rows(), declared_rows=declared - 1 if declared else None)


def _xlsx_records(book, sheet) -> Iterator[tuple[int, list[str]]]:
    from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

    def text(value: Any) -> str:
        # openpyxl gives most formulas as their text (=A1&B1), but an array formula (what Excel 365 writes
        # for every formula that spills) and a what-if table as objects: the row checks must see "=" too.
        if isinstance(value, ArrayFormula):
            return value.text or "="
        if isinstance(value, DataTableFormula):
            return f"=TABLE({value.r1 or ''},{value.r2 or ''})"
        return cell_text(value)

    number = 0
    try:
        for values in sheet.iter_rows(values_only=True):
            number += 1
            cells = [text(value) for value in values]
            if any(len(cell) > MAX_CELL_CHARS for cell in cells):
                raise FileRefused(
                    ImportRefusal.CELL_TOO_LONG, f"Row {number} has a cell of more than {MAX_CELL_CHARS:,} characters."
                )
            yield number, cells
    except FileRefused:
        raise
    except Exception as error:  # a broken sheet part shows only when it is read
        raise FileRefused(
            ImportRefusal.NOT_XLSX, f"Row {number + 1} of the workbook could not be read ({type(error).__name__})."
        ) from error


def _header(cells: list[str]) -> list[str]:
    header = [header_name(cell) for cell in cells]
    while header and not header[-1]:
        header.pop()
    if not header:
        raise FileRefused(ImportRefusal.NO_HEADER, "Row 1 must name the columns (e.g. parent, child); it is empty.")
    return header


def _data_rows(
    records: Iterator[tuple[int, list[str] | RowIssue]], width: int
) -> Iterator[tuple[int, list[str] | RowIssue]]:
    """Rows below the header, padded or cut to the header's width, blank ones too (read_rows counts them);
    a CSV's unreadable lines pass as their RowIssue."""
    limit = max_rows() + 1
    for number, cells in records:
        if number > limit:
            raise _too_many_rows()
        if number % YIELD_EVERY_ROWS == 0:
            time.sleep(0)  # gevent's cooperative yield once it has patched time; a bare system call otherwise
        if isinstance(cells, RowIssue):
            yield number, cells
        else:
            yield number, list(cells[:width]) + [""] * (width - len(cells))


def read_rows(table: Table, report: ImportReport) -> Iterator[tuple[int, list[str]]]:
    """The table's rows with content, each counted in the report: blank rows as skipped; a CSV's unreadable
    lines as refused rows when only the good rows are imported, else they refuse the file (FileRefused).
    So a whole read accounts for every line below the header (ImportReport's invariant)."""
    for number, cells in table.rows:
        if isinstance(cells, RowIssue):
            if not report.skip_invalid:
                raise unreadable_file(cells)
            report.rows += 1
            report.add(cells)
        elif any(cell.strip() for cell in cells):
            report.rows += 1
            yield number, cells
        else:
            report.blank_rows += 1


def check_columns(table: Table, *, required: tuple[str, ...], optional: tuple[str, ...], layout: str) -> None:
    """Refuse a header missing a required column or naming one we do not know (a typo would be ignored)."""
    missing = [name for name in required if name not in table.header]
    if missing:
        raise FileRefused(
            ImportRefusal.MISSING_COLUMNS,
            f"Row 1 has no {', '.join(missing)} column: {layout} files need {', '.join(required)}"
            + (f" (and may have {', '.join(optional)})." if optional else "."),
        )
    known = set(required) | set(optional)
    unknown = [name for name in table.header if name not in known]
    if unknown:
        raise FileRefused(
            ImportRefusal.UNKNOWN_COLUMNS,
            f"Row 1 names columns this import does not know: {', '.join(repr(n) for n in unknown)}. "
            f"{layout.capitalize()} files have {', '.join(required + optional)}.",
        )
    duplicated = sorted({name for name in table.header if table.header.count(name) > 1})
    if duplicated:
        raise FileRefused(
            ImportRefusal.DUPLICATE_COLUMNS, f"Row 1 names the column {', '.join(duplicated)} more than once."
        )


# What Excel writes for a cell whose formula failed, in a workbook (an error cell) and in a CSV it saves alike.
EXCEL_ERRORS = frozenset(
    {
        "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA", "#SPILL!", "#CALC!",
        "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!",
    }
)  # fmt: skip


def cell_issue(row: int, header: list[str], cells: list[str]) -> RowIssue | None:
    """A cell holding a formula (=...) or Excel's error value (#N/A...) is refused: the file must carry the
    values themselves, and an error is never a customer's name or a code."""
    for name, cell in zip(header, cells, strict=True):
        text = cell.strip()
        if text.startswith("="):
            shown = text if len(text) <= 30 else text[:27] + "..."
            return RowIssue(row, "formula", f"The {name} cell holds a formula ({shown}); put the value itself.")
        if text.upper() in EXCEL_ERRORS:
            message = f"The {name} cell holds Excel's error {text} (a failed formula); put the value itself."
            return RowIssue(row, "excel_error", message)
    return None
