"""Reading an import file (.csv or .xlsx) safely, a row at a time, and the row-by-row report shapes.

Nothing here touches the database. A file that cannot be an import (wrong extension, not really Excel,
not UTF-8 text, empty, no header, too many rows) raises ``FileRefused`` with a sentence for the operator;
the row checks of each import (imports/bag_import.py, imports/bill_import.py) produce ``RowIssue``s. Rows are
numbered as the operator sees them in a spreadsheet: the header is row 1 (in a CSV, row N is line N: a record
is one line, see _csv_records).

Both readers stream: a CSV through the csv module over an incremental UTF-8 decoder, a workbook's sheet
through our loop over openpyxl's cell parser (_SheetReader), so memory stays flat however long the file
is; the row cap (IMPORT_MAX_ROWS) is checked before reading when the file says how long it is (a CSV's
lines, a sheet's declared size), and again while reading. A workbook is first checked on its zip directory
(check_workbook_parts): a zip bomb is refused before anything is unpacked.
"""

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
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


# A workbook is a zip: a small file can unpack to gigabytes (a zip bomb). Its directory says what each part
# unpacks to, and zipfile never gives more than that (it stops and fails the CRC check), so the sizes below
# are checked on the directory, before anything is unpacked. Honest workbooks are far inside them: openpyxl
# writes about 130 bytes of sheet a row for two columns and 410 for seven, Excel about 90 for two (its
# texts once each in the shared strings table, about 25 bytes a distinct code), compressed 9 to 16 times.
MAX_ZIP_ENTRIES = 1_000  # Excel writes about 10; a directory of millions of entries alone takes gigabytes
SHEET_BYTES_PER_ROW = 1_024  # a worksheet part: up to IMPORT_MAX_ROWS rows of this many bytes
STRINGS_BYTES_PER_ROW = 64  # the shared strings table, parsed whole into memory: a distinct code or two a row
OTHER_PART_BYTES = 32 * 1024 * 1024  # styles, theme, images...: a few KB to a few MB in honest workbooks
MAX_RATIO = 100  # deflate reaches about 1,000; a bomb lives on high ratios
RATIO_FROM_BYTES = 4 * 1024 * 1024  # smaller parts unpack in a moment whatever their ratio
SHEETS_FOLDER = "xl/worksheets/"
SHARED_STRINGS = "xl/sharedStrings.xml"
EOCD = b"PK\x05\x06"  # the zip's end record, which says how many entries its directory holds
EOCD_SIZE = 22
# Excel's own limit; a cell beyond it, or a row of more elements than that many cells make, is junk.
MAX_COLUMNS = 16_384
MAX_ROW_ELEMENTS = 8 * MAX_COLUMNS
# The longest text or tag a sheet's XML may hold between two "<": a cell of MAX_CELL_CHARS characters,
# each up to 10 bytes written as a character reference. The XML parser holds a whole text before it
# hands it over, so one 1 GB cell would take gigabytes; reading stops at this instead.
MAX_XML_RUN = 10 * MAX_CELL_CHARS + 1_024


def _mb(size: int) -> str:
    return f"{size / 1_000_000:,.0f} MB" if size >= 1_000_000 else f"{size / 1_000_000:,.1f} MB"


REDO = "Save it again from Excel, or split it into smaller files."


def _check_entry_count(count: int) -> None:
    if count > MAX_ZIP_ENTRIES:
        raise FileRefused(
            ImportRefusal.XLSX_TOO_LARGE,
            f"The workbook holds {count:,} parts (Excel writes about 10, at most {MAX_ZIP_ENTRIES:,} are read). {REDO}",
        )


def check_workbook_parts(entries: list[zipfile.ZipInfo]) -> None:
    """Refuse a workbook whose zip directory says it unpacks to more than an import can hold: too many
    entries, a part (sheet, shared strings, other) bigger than its budget, too much in all, or a large part
    compressed far more than honest XML ever is."""
    too_large = ImportRefusal.XLSX_TOO_LARGE
    _check_entry_count(len(entries))
    rows = max_rows() + 1
    sheet_limit = SHEET_BYTES_PER_ROW * rows
    strings_limit = STRINGS_BYTES_PER_ROW * rows
    for entry in entries:
        if entry.filename.startswith(SHEETS_FOLDER):
            what, limit = "sheet", sheet_limit
        elif entry.filename == SHARED_STRINGS:
            what, limit = "table of texts (shared strings)", strings_limit
        else:
            what, limit = f"part {entry.filename}", OTHER_PART_BYTES
        if entry.file_size > limit:
            raise FileRefused(
                too_large,
                f"The workbook's {what} unpacks to {_mb(entry.file_size)}; at most {_mb(limit)} is read in one "
                f"import. {REDO}",
            )
        if entry.file_size > RATIO_FROM_BYTES and entry.file_size > MAX_RATIO * max(entry.compress_size, 1):
            raise FileRefused(
                too_large,
                f"The workbook's {what} unpacks to {_mb(entry.file_size)} from {_mb(entry.compress_size)}: "
                f"more than {MAX_RATIO} times, which no spreadsheet of codes does (a 'zip bomb'). {REDO}",
            )
    total = sum(entry.file_size for entry in entries)
    if total > sheet_limit + strings_limit:
        raise FileRefused(
            too_large,
            f"The workbook unpacks to {_mb(total)} in all; at most {_mb(sheet_limit + strings_limit)} is read "
            f"in one import. {REDO}",
        )


def _declared_entries(source: IO[bytes]) -> int | None:
    """The entries the zip's end record declares, read before zipfile loads the directory (a ZipInfo each)."""
    size = source.seek(0, io.SEEK_END)
    start = max(size - EOCD_SIZE - 0xFFFF, 0)  # the record, then a comment of up to 64 KB
    source.seek(start)
    tail = source.read()
    source.seek(0)
    at = tail.rfind(EOCD)
    if at < 0 or len(tail) - at < EOCD_SIZE:
        return None
    return int.from_bytes(tail[at + 10 : at + 12], "little")  # 0xFFFF: a zip64 directory, as many or more


class NonTextCell(str):
    """A workbook cell's text when Excel stored the cell as a number, TRUE/FALSE or a date, not as text:
    fine for a count or a date, refused in a code column (Excel has already turned 00012345 into 12345)."""

    code = ""
    described = ""

    def issue(self, row: int, column: str) -> "RowIssue":
        return RowIssue(
            row,
            self.code,
            f"The {column} cell holds {self.described.format(self)}; format the column as Text in Excel and "
            "type the codes again.",
        )


class NumberCell(NonTextCell):
    code = "number_cell"
    described = "the number {} (Excel dropped any leading zeros)"


class BooleanCell(NonTextCell):
    code = "boolean_cell"
    described = "Excel's {} (a true/false cell), not text"


class DateCell(NonTextCell):
    code = "date_cell"
    described = "the date or time {}, not text"


def _typed_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    text = cell_text(value)
    if isinstance(value, bool):
        return BooleanCell(text)
    if isinstance(value, int | float):
        return NumberCell(text)
    if isinstance(value, date | time_of_day | timedelta):
        return DateCell(text)
    return text


class _LongRun(Exception):
    """A text or tag of the sheet longer than MAX_XML_RUN bytes."""


class _RunCheck:
    """A sheet part, read through the check that no text or tag in it runs longer than MAX_XML_RUN bytes."""

    def __init__(self, part: IO[bytes]) -> None:
        self.part = part
        self.run = 0  # bytes since the last "<"

    def read(self, size: int = -1) -> bytes:
        # A chunk no longer than the limit: a run longer than it then always crosses a chunk's edge.
        chunk = self.part.read(MAX_XML_RUN if size < 0 else min(size, MAX_XML_RUN))
        first = chunk.find(b"<")
        if first < 0:
            self.run += len(chunk)
        else:
            if self.run + first > MAX_XML_RUN:
                raise _LongRun
            self.run = len(chunk) - chunk.rfind(b"<") - 1
        if self.run > MAX_XML_RUN:
            raise _LongRun
        return chunk


class _SheetReader:
    """The rows of a worksheet part, parsed with openpyxl's cell parser (types, shared strings, dates,
    formulas) in memory that stays flat, whatever the part holds: every element is dropped once read (the
    XML parser would otherwise keep an empty element per row and per cell read), and junk stops early.
    The declared size (<dimension>, before the rows) is read first and needs no pass over the rows."""

    def __init__(self, part: IO[bytes], parser) -> None:
        from openpyxl.xml.functions import iterparse

        self.parser = parser
        self.declared: int | None = None
        self.number = 0  # the last row read
        self._events = iterparse(_RunCheck(part), events=("start", "end"))
        self._rows = self._read()
        next(self._rows, None)  # up to the start of <sheetData>: the declared size is known by then

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        try:
            yield from self._rows
        except _LongRun:
            raise FileRefused(
                ImportRefusal.CELL_TOO_LONG,
                f"Row {self.number + 1} has a cell of more than {MAX_CELL_CHARS:,} characters.",
            ) from None

    def _read(self) -> Iterator[tuple[int, list[Any]] | None]:
        from openpyxl.utils.cell import range_boundaries
        from openpyxl.xml.constants import SHEET_MAIN_NS

        data_tag, row_tag, dimension_tag = (f"{{{SHEET_MAIN_NS}}}{name}" for name in ("sheetData", "row", "dimension"))
        open_elements = []  # from the root down, outside rows
        in_row = 0  # how deep inside the open row (whose elements are kept until it ends), 0 between rows
        row_elements = 0
        for event, element in self._events:
            if in_row:  # most elements: kept on no list, only counted
                if event == "start":
                    in_row += 1
                    row_elements += 1
                    if row_elements > MAX_ROW_ELEMENTS:
                        raise self._junk(f"Row {self.number + 1} holds more than {MAX_COLUMNS:,} cells")
                    continue
                in_row -= 1
                if not in_row:
                    yield self._row(element)
                    open_elements[-1].remove(element)
                continue
            if event == "start":
                if len(open_elements) == 2 and element.tag == row_tag and open_elements[1].tag == data_tag:
                    in_row, row_elements = 1, 0
                    continue
                open_elements.append(element)
                if len(open_elements) == 2 and element.tag == data_tag:
                    yield None
                continue
            open_elements.pop()
            if element.tag == dimension_tag and len(open_elements) == 1:
                self.declared = range_boundaries(element.get("ref", ""))[3]
            if open_elements:
                open_elements[-1].remove(element)  # its only child: each one before it went the same way

    def _row(self, element) -> tuple[int, list[Any]]:
        number = int(element.get("r") or self.number + 1)
        if number <= self.number:
            raise self._junk(f"Row {number} comes again after row {self.number}")
        if number > max_rows() + 1:
            raise _too_many_rows()
        self.number = self.parser.row_counter = number
        self.parser.col_counter = 0
        cells = [self.parser.parse_cell(cell) for cell in element]
        width = max((cell["column"] for cell in cells), default=0)
        if width > MAX_COLUMNS:
            raise self._junk(f"Row {number} has a cell beyond column {MAX_COLUMNS:,}")
        values: list[Any] = [None] * width
        for cell in cells:
            values[cell["column"] - 1] = cell["value"]
        return number, values

    @staticmethod
    def _junk(what: str) -> FileRefused:
        return FileRefused(
            ImportRefusal.NOT_XLSX, f"{what}: this is not a workbook Excel wrote. Save it again from Excel."
        )


def _open_sheet(source: IO[bytes]):
    """The workbook's first worksheet: openpyxl reads the parts around it (content types, shared strings,
    workbook, styles for the date formats) and our _SheetReader its rows. Not load_workbook: in read-only
    mode it parses every sheet with no <dimension> through to its end, only to learn its size."""
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.styles.stylesheet import apply_stylesheet
    from openpyxl.worksheet._reader import WorkSheetParser

    reader = ExcelReader(source, read_only=True, data_only=False)
    try:
        reader.read_manifest()
        reader.read_strings()
        reader.read_workbook()
        apply_stylesheet(reader.archive, reader.wb)
        path = next(
            rel.target
            for _, rel in reader.parser.find_sheets()
            if rel.target in reader.valid_files and "chartsheet" not in rel.Type
        )
        # data_only=False: a formula cell reads as its formula ("=A1&B1"), which the row checks refuse.
        parser = WorkSheetParser(
            None,
            reader.shared_strings,
            data_only=False,
            epoch=reader.wb.epoch,
            date_formats=reader.wb._date_formats,
            timedelta_formats=reader.wb._timedelta_formats,
        )
        return reader.archive, _SheetReader(reader.archive.open(path), parser)
    except BaseException:
        reader.archive.close()
        raise


def _xlsx_table(source: IO[bytes], file_name: str) -> Table:
    not_excel = FileRefused(
        ImportRefusal.NOT_XLSX, f"'{PurePath(file_name).name}' is not really an Excel workbook (.xlsx)."
    )
    if not zipfile.is_zipfile(source):
        raise not_excel
    _check_entry_count(_declared_entries(source) or 0)
    try:
        with zipfile.ZipFile(source) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise not_excel from error
    if not all(part in {entry.filename for entry in entries} for part in XLSX_PARTS):
        raise not_excel
    check_workbook_parts(entries)
    source.seek(0)
    try:
        archive, sheet = _open_sheet(source)
    except FileRefused:
        raise
    except Exception as error:  # openpyxl raises many kinds (KeyError, XML errors, IndexError) for a broken file
        raise FileRefused(
            ImportRefusal.NOT_XLSX,
            f"'{PurePath(file_name).name}' could not be read as an Excel workbook ({type(error).__name__}).",
        ) from error
    declared = sheet.declared
    try:
        _check_declared(declared - 1 if declared else None)
        # The declared size may be wrong (written by another program): the rows are counted as they come.
        records = _xlsx_records(sheet)
        # Blank rows above the header are skipped, so a sheet of blank cells is refused as empty.
        number, first = next(((n, cells) for n, cells in records if any(cell.strip() for cell in cells)), (0, []))
        if not number:
            raise FileRefused(
                ImportRefusal.EMPTY_FILE, "The workbook's first sheet holds no rows (or only blank cells)."
            )
        header = _header(first if number == 1 else [])
    except BaseException:
        archive.close()
        raise

    def rows() -> Iterator[tuple[int, list[str]]]:
        # A header and nothing (or only blank cells) below it is refused by the import (no_rows).
        try:
            yield from _data_rows(records, len(header))
        finally:
            archive.close()

    return Table(file_name, header, rows(), declared_rows=declared - 1 if declared else None)


def _xlsx_records(sheet: _SheetReader) -> Iterator[tuple[int, list[str]]]:
    from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

    def text(value: Any) -> str:
        # openpyxl gives most formulas as their text (=A1&B1), but an array formula (what Excel 365 writes
        # for every formula that spills) and a what-if table as objects: the row checks must see "=" too.
        if isinstance(value, ArrayFormula):
            return value.text or "="
        if isinstance(value, DataTableFormula):
            return f"=TABLE({value.r1 or ''},{value.r2 or ''})"
        return _typed_text(value)

    number = 0
    try:
        for number, values in sheet.rows():
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
            ImportRefusal.NOT_XLSX,
            f"Row {sheet.number + 1} of the workbook could not be read ({type(error).__name__}).",
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


def cell_issue(row: int, header: list[str], cells: list[str], *, codes: tuple[str, ...] = ()) -> RowIssue | None:
    """A cell holding a formula (=...) or Excel's error value (#N/A...) is refused: the file must carry the
    values themselves, and an error is never a customer's name or a code. So is a number, TRUE/FALSE or
    date cell of a workbook in one of the ``codes`` columns: a code is text, and Excel has changed it
    already (00012345 is 12345, a long number lost its last digits)."""
    for name, cell in zip(header, cells, strict=True):
        if name in codes and isinstance(cell, NonTextCell):
            return cell.issue(row, name)
        text = cell.strip()
        if text.startswith("="):
            shown = text if len(text) <= 30 else text[:27] + "..."
            return RowIssue(row, "formula", f"The {name} cell holds a formula ({shown}); put the value itself.")
        if text.upper() in EXCEL_ERRORS:
            message = f"The {name} cell holds Excel's error {text} (a failed formula); put the value itself."
            return RowIssue(row, "excel_error", message)
    return None
