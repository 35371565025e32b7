"""Import files made for tests (and bench/imports.py): CSV text, .xlsx workbooks written by openpyxl, and
workbooks laid out as Excel itself saves them."""

import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.utils import get_column_letter


def write_csv(path: Path, rows: list[list[str]], *, encoding: str = "utf-8") -> Path:
    path.write_text("".join(",".join(row) + "\r\n" for row in rows), encoding=encoding)
    return path


def write_xlsx(path: Path, rows: list[list]) -> Path:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Bags")
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_EXCEL_PARTS = {
    "[Content_Types].xml": (
        f'{_XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>'
        f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_CT}.sharedStrings+xml"/></Types>'
    ),
    "_rels/.rels": (
        f'{_XML}<Relationships xmlns="{_PACKAGE_REL}">'
        f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
        '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        f'{_XML}<Relationships xmlns="{_PACKAGE_REL}">'
        f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
    ),
}


def write_excel_xlsx(path: Path, rows: Sequence[Sequence[str | int | float | None]], *, dimension: bool = True) -> Path:
    """A workbook as Excel saves one (openpyxl writes every text inline in its cell): each distinct text
    once in the shared strings table, xl/sharedStrings.xml, the cells holding its index, and the sheet's
    size declared before its rows (<dimension>; other programs may leave it out)."""
    strings: dict[str, int] = {}
    width = max((len(row) for row in rows), default=1)
    size = f'<dimension ref="A1:{get_column_letter(width)}{max(len(rows), 1)}"/>' if dimension else ""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as book:
        for name, content in _EXCEL_PARTS.items():
            book.writestr(name, content)
        with book.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(f'{_XML}<worksheet xmlns="{_MAIN}">{size}<sheetData>'.encode())
            for number, row in enumerate(rows, start=1):
                cells = "".join(
                    _excel_cell(f"{get_column_letter(n)}{number}", value, strings) for n, value in enumerate(row, 1)
                )
                sheet.write(f'<row r="{number}">{cells}</row>'.encode())
            sheet.write(b"</sheetData></worksheet>")
        texts = "".join(f"<si><t>{escape(text)}</t></si>" for text in strings)
        book.writestr(
            "xl/sharedStrings.xml",
            f'{_XML}<sst xmlns="{_MAIN}" count="{len(strings)}" uniqueCount="{len(strings)}">{texts}</sst>',
        )
    return path


SHEET_HEAD = f'{_XML}<worksheet xmlns="{_MAIN}"><sheetData>'.encode()
SHEET_TAIL = b"</sheetData></worksheet>"
STRINGS_HEAD = f'{_XML}<sst xmlns="{_MAIN}">'.encode()
STRINGS_TAIL = b"</sst>"


def inline_row(number: int, *texts: str) -> bytes:
    """A sheet's row of text cells, written inline as openpyxl does."""
    cells = "".join(
        f'<c r="{get_column_letter(n)}{number}" t="inlineStr"><is><t>{escape(text)}</t></is></c>'
        for n, text in enumerate(texts, 1)
    )
    return f'<row r="{number}">{cells}</row>'.encode()


def repeated(chunk: bytes, size: int) -> Iterable[bytes]:
    """``chunk`` again and again, at least ``size`` bytes in all, a megabyte at a time (never all in memory)."""
    block = chunk * max(1, 1024 * 1024 // len(chunk))
    for _ in range(-(-size // len(block))):
        yield block


def write_parts_xlsx(
    path: Path, sheet: Iterable[bytes], strings: Iterable[bytes] = (STRINGS_HEAD, STRINGS_TAIL)
) -> Path:
    """A workbook laid out as Excel's (write_excel_xlsx) whose sheet and shared strings parts are the chunks
    given, streamed into the zip as they come: a zip bomb of a gigabyte is written in memory of a megabyte.
    Deflate's fastest level: it still packs repeated XML about 150 times."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as book:
        for name, content in _EXCEL_PARTS.items():
            book.writestr(name, content)
        for name, chunks in (("xl/worksheets/sheet1.xml", sheet), ("xl/sharedStrings.xml", strings)):
            with book.open(name, "w", force_zip64=True) as part:
                for chunk in chunks:
                    part.write(chunk)
    return path


def _excel_cell(ref: str, value: str | int | float | None, strings: dict[str, int]) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="s"><v>{strings.setdefault(value, len(strings))}</v></c>'


def link_rows(parents: int, children_each: int, *, parent_start: int = 1, child_prefix: str = "CH") -> list[list[str]]:
    """A links file's rows (header first): parents SB00001.. with children CH000001.. in order."""
    rows = [["parent", "child"]]
    n = 0
    for p in range(parent_start, parent_start + parents):
        for _ in range(children_each):
            n += 1
            rows.append([f"SB{p:05d}", f"{child_prefix}{n:06d}"])
    return rows


def zip_bombs(size: int) -> dict[str, Callable[[], dict[str, Iterable[bytes]]]]:
    """The zip bombs an operator tried (issue 16), ``size`` bytes of XML each, as write_parts_xlsx's parts;
    none has a <dimension>, so nothing says how long its sheet is."""
    header = inline_row(1, "code")

    def cell(filler: bytes) -> dict:  # one cell of a data row holding ``size`` bytes of ``filler``
        start = b'<row r="2"><c r="A2" t="inlineStr"><is><t>'
        return {"sheet": [SHEET_HEAD, header, start, *repeated(filler, size), b"</t></is></c></row>", SHEET_TAIL]}

    return {
        "junk_rows": lambda: {
            "sheet": [
                SHEET_HEAD,
                header,
                *repeated(b'<row><c t="inlineStr"><is><t>#junk!</t></is></c></row>', size),
                SHEET_TAIL,
            ]
        },
        "one_row_repeated": lambda: {
            "sheet": [SHEET_HEAD, header, *repeated(inline_row(2, "SB00001"), size), SHEET_TAIL]
        },
        "one_huge_cell": lambda: cell(b"SB00001"),
        "one_huge_blank_cell": lambda: cell(b" "),
        "shared_strings": lambda: {
            "sheet": [SHEET_HEAD, b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>', SHEET_TAIL],
            "strings": [STRINGS_HEAD, b"<si><t>code</t></si>", *repeated(b"<si><t>a</t></si>", size), STRINGS_TAIL],
        },
    }
