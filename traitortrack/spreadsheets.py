"""The one way data leaves TraitorTrack as a file: CSV or an Excel workbook, both streamed as they are made.

Shared by the bill export (bills/exports.py), the export page (exports/views.py) and the admin's export button
(exports/admin.py). Rows come from an iterator (a server-side cursor for the big tables) and go out as they
arrive (StreamingHttpResponse), so neither format ever holds the table in memory. The workbook is written
here rather than by openpyxl: its write-only mode is slow and gives nothing until the whole file is done,
where a zip written straight into the response (sheet XML with inline strings, a data descriptor per part)
starts at once and is several times faster (bench/imports.py and the README's Benchmarks measure it).
The tests read every workbook back with openpyxl.

Both writers hand the response pieces of tens of kilobytes (a socket write each; a CSV line each was 96 bytes a
write, hundreds of thousands of writes an export), and every TURN_EVERY_SECONDS they let the other greenlets
of a gevent worker run: formatting rows is pure Python, and a worker runs nothing else meanwhile, so an export
that never waited on its socket held up every scan in its worker (bench/exports.py measures it).

Every text cell goes through ``safe_cell``: a value starting with = + - @ (or a tab or carriage return) is
what a spreadsheet runs as a formula, so it gets a leading apostrophe (CSV injection: customer names, notes
and audit snapshots are typed by people).
"""

import csv
import io
import json
import re
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A CSV piece goes to the response once it holds this many characters (bytes, for the ASCII most cells are),
# the line that reached it included.
CSV_CHUNK_BYTES = 64 * 1024
# The most a writer works between two turns of the other greenlets. Each of a scan's round trips to PostgreSQL
# or Redis can wait this long for its turn; in rows it would differ by table and format (an Excel bag row
# costs twice a CSV one, an audit row with its JSON more), so it is time (bench/exports.py).
TURN_EVERY_SECONDS = 0.002
# A turn is a sleep on a timer, never time.sleep(0): gevent runs a sleep(0)'s wake-up with the callbacks it is
# already running, before it looks at the sockets again, so a greenlet that only sleeps(0) starves those
# waiting on a socket (the scans waiting on PostgreSQL). Measured: a busy greenlet doing sleep(0) every 3 ms
# of work left another's socket round trip waiting 300 ms; a timer lets the loop poll its sockets first.
TURN_SECONDS = 1e-6
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Excel shows at most 1,048,576 rows a sheet: a longer table goes on into "Bags (2)", "Bags (3)"...
XLSX_SHEET_ROWS = 1_048_576
XLSX_BATCH_ROWS = 500  # rows of XML handed to the zip at a time
XLSX_CHUNK_BYTES = 256 * 1024  # bytes of workbook handed to the response at a time
XLSX_COMPRESSION = 1  # deflate's fastest: the XML shrinks almost as much, at several times the speed
EXCEL_EPOCH = datetime(1899, 12, 30)
# Characters XML 1.0 cannot hold (control characters other than tab and line breaks), shown as U+FFFD.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_REL = _RELS_NS
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_SHEET_START = f'{_XML}<worksheet xmlns="{_MAIN}"><sheetData>'
_SHEET_END = "</sheetData></worksheet>"
# Cell styles by index: 0 plain, 1 bold (headers and totals), 2 a date, 3 a date and time.
_STYLES = (
    f'{_XML}<styleSheet xmlns="{_MAIN}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_value(value: Any, zone: tzinfo | None = None) -> Any:
    """A cell as CSV text: local times with their offset, JSON for snapshots, formulas escaped. ``zone`` is
    the current time zone, looked up once per export by the writers (a lookup costs more than the cell)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value, zone).isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return safe_cell(value)


def xlsx_value(value: Any, zone: tzinfo | None = None) -> Any:
    if isinstance(value, datetime):
        # Excel has no time zones: the warehouse's local time, naive. Done here only, so callers pass aware times.
        return timezone.localtime(value, zone).replace(tzinfo=None)
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if value is not None and not isinstance(value, str | int | float | Decimal | date | bool):
        value = str(value)
    return safe_cell(value)


@dataclass
class Sheet:
    """One sheet of a workbook (or the whole of a CSV): a bold header, the rows, an optional bold last row."""

    title: str
    header: Sequence[str] | None
    rows: Iterable[Sequence[Any]]
    footer: Sequence[Any] | None = None


def taking_turns(rows: Iterable[Sequence[Any]]) -> Iterator[Sequence[Any]]:
    """The rows, with a turn for the other greenlets whenever TURN_EVERY_SECONDS have gone since the last."""
    due = time.monotonic() + TURN_EVERY_SECONDS
    for row in rows:
        if time.monotonic() >= due:
            time.sleep(TURN_SECONDS)  # gevent's timer once it has patched time; a bare system call otherwise
            due = time.monotonic() + TURN_EVERY_SECONDS
        yield row


def csv_chunks(sheet: Sheet) -> Iterator[bytes]:
    """The sheet as UTF-8 CSV, a piece each time CSV_CHUNK_BYTES characters have been written."""
    zone = timezone.get_current_timezone()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # a byte-order mark, so Excel reads names as UTF-8
    if sheet.header is not None:
        writer.writerow([csv_value(name, zone) for name in sheet.header])
    for row in taking_turns(sheet.rows):
        writer.writerow([csv_value(value, zone) for value in row])
        if buffer.tell() >= CSV_CHUNK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if sheet.footer is not None:
        writer.writerow([csv_value(value, zone) for value in sheet.footer])
    yield buffer.getvalue().encode()


def _column_letters(count: int) -> list[str]:
    letters = []
    for n in range(1, count + 1):
        name = ""
        while n:
            n, rest = divmod(n - 1, 26)
            name = chr(65 + rest) + name
        letters.append(name)
    return letters


def _text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value).translate(_XML_ESCAPES)


def _cell(ref: str, value: Any, bold: bool, zone: tzinfo) -> str:
    """One <c> element: numbers and dates as numbers (dates with a date style), the rest as inline text."""
    value = xlsx_value(value, zone)
    if value is None or value == "":
        return ""
    style = ' s="1"' if bold else ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"{style}><v>{int(value)}</v></c>'
    if isinstance(value, int | float | Decimal):
        return f'<c r="{ref}"{style}><v>{value}</v></c>'
    if isinstance(value, datetime):
        serial = (value - EXCEL_EPOCH).total_seconds() / 86400
        return f'<c r="{ref}" s="3"><v>{serial}</v></c>'
    if isinstance(value, date):
        return f'<c r="{ref}" s="2"><v>{(value - EXCEL_EPOCH.date()).days}</v></c>'
    return f'<c r="{ref}" t="inlineStr"{style}><is><t xml:space="preserve">{_text(value)}</t></is></c>'


class _Pipe:
    """What zipfile writes into: bytes collected until the generator hands them on. It cannot seek, so
    zipfile streams each part with a data descriptor instead of going back to patch its header."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        self.size = 0
        return data


class _SheetXml:
    """One worksheet part being written: rows turned into XML and passed to the zip a batch at a time."""

    def __init__(self, part) -> None:
        self.part = part
        self.rows = 0
        self.letters = _column_letters(26)
        self.zone = timezone.get_current_timezone()
        self.buffer: list[str] = [_SHEET_START]

    def add(self, values: Sequence[Any], *, bold: bool = False) -> None:
        self.rows += 1
        if len(values) > len(self.letters):
            self.letters = _column_letters(len(values))
        number = self.rows
        cells = "".join(_cell(f"{self.letters[i]}{number}", value, bold, self.zone) for i, value in enumerate(values))
        self.buffer.append(f'<row r="{number}">{cells}</row>')
        if len(self.buffer) >= XLSX_BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        self.part.write("".join(self.buffer).encode())
        self.buffer.clear()

    def close(self) -> None:
        self.buffer.append(_SHEET_END)
        self.flush()


def xlsx_chunks(sheets: Iterable[Sheet]) -> Iterator[bytes]:
    """A workbook of the sheets, as bytes while it is made: each sheet's XML goes into the zip as its rows
    arrive, and the index parts that name the sheets come last. A sheet past Excel's row limit goes on
    into "Title (2)", with the header again."""
    pipe = _Pipe()
    titles: list[str] = []
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=XLSX_COMPRESSION) as archive:
        for spec in sheets:
            rows = taking_turns(spec.rows)
            carried = None  # the first row of the next part, read before the limit was seen
            done = False
            part_number = 0
            while not done:
                part_number += 1
                titles.append(spec.title if part_number == 1 else f"{spec.title} ({part_number})")
                with archive.open(f"xl/worksheets/sheet{len(titles)}.xml", "w", force_zip64=True) as part:
                    sheet = _SheetXml(part)
                    if spec.header is not None:
                        sheet.add(spec.header, bold=True)
                    if carried is not None:
                        sheet.add(carried)
                        carried = None
                    done = True
                    for row in rows:
                        if sheet.rows == XLSX_SHEET_ROWS:
                            carried, done = row, False
                            break
                        sheet.add(row)
                        if pipe.size >= XLSX_CHUNK_BYTES:
                            yield pipe.take()
                    if done and spec.footer is not None:
                        sheet.add(spec.footer, bold=True)
                    sheet.close()
                yield pipe.take()
        for path, content in _index_parts(titles).items():
            archive.writestr(path, content)
    yield pipe.take()


def _index_parts(titles: list[str]) -> dict[str, str]:
    sheets = "".join(
        f'<sheet name="{_text(title)}" sheetId="{n}" r:id="rId{n}"/>' for n, title in enumerate(titles, start=1)
    )
    relations = "".join(
        f'<Relationship Id="rId{n}" Type="{_REL}/worksheet" Target="worksheets/sheet{n}.xml"/>'
        for n in range(1, len(titles) + 1)
    )
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{_CT}.worksheet+xml"/>'
        for n in range(1, len(titles) + 1)
    )
    styles_id = len(titles) + 1
    return {
        "[Content_Types].xml": (
            f'{_XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>{overrides}</Types>'
        ),
        "_rels/.rels": (
            f'{_XML}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_RELS_NS}"><sheets>{sheets}</sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'{_XML}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'{relations}<Relationship Id="rId{styles_id}" Type="{_REL}/styles" Target="styles.xml"/>'
            "</Relationships>"
        ),
        "xl/styles.xml": _STYLES,
    }


class _Closing:
    """A response's content that calls ``on_close`` once when the response is closed (the server does it
    when the download ends, finished or not) or, failing that, dropped."""

    def __init__(self, chunks: Iterator, on_close: Callable[[], None]) -> None:
        self.chunks = chunks
        self.on_close: Callable[[], None] | None = on_close

    def __iter__(self) -> Iterator:
        return self.chunks

    def close(self) -> None:
        on_close, self.on_close = self.on_close, None
        try:
            getattr(self.chunks, "close", lambda: None)()
        finally:
            if on_close is not None:
                on_close()

    def __del__(self) -> None:
        # Never closed by the server: still give the place back (the rows' generator closes itself when freed).
        on_close, self.on_close = self.on_close, None
        if on_close is not None:
            on_close()


def _response(chunks: Iterator, content_type: str, filename: str, on_close: Callable[[], None] | None):
    content = chunks if on_close is None else _Closing(chunks, on_close)
    response = StreamingHttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def csv_response(sheet: Sheet, filename: str, *, on_close: Callable[[], None] | None = None) -> StreamingHttpResponse:
    return _response(csv_chunks(sheet), "text/csv; charset=utf-8", filename, on_close)


def xlsx_response(
    sheets: Iterable[Sheet], filename: str, *, on_close: Callable[[], None] | None = None
) -> StreamingHttpResponse:
    return _response(xlsx_chunks(sheets), XLSX_CONTENT_TYPE, filename, on_close)
