"""A workbook that cannot fit an import is refused from its zip directory, before a byte is unpacked (zip
bombs: a few MB that unpack to gigabytes), and the sheet is read in memory that stays flat whatever it holds.

The bombs are built here with zipfile, streamed a megabyte at a time. They are 200 MB, not the 1.1 GB
an operator tried: as far past the limits and faster to build, and the old reader took about a bomb's
size in memory (1.1 GB for 1.1 GB; gigabytes for shared strings), past the 150 MB that the process
reading each one must stay under now."""

import os
import re
import subprocess
import sys
import tracemalloc
import zipfile
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from bags.models import Bag
from imports.error_codes import ImportRefusal
from imports.files import (
    MAX_RATIO,
    FileRefused,
    check_workbook_parts,
    open_table,
)
from tests import factories
from tests.imports.files import (
    SHEET_HEAD,
    SHEET_TAIL,
    STRINGS_HEAD,
    STRINGS_TAIL,
    inline_row,
    link_rows,
    write_excel_xlsx,
    write_parts_xlsx,
    write_xlsx,
    zip_bombs,
)

BOMB_BYTES = 200_000_000
PEAK_RSS_MB = 150


BOMBS = zip_bombs(BOMB_BYTES)


# Reads files as an import does, in a process of its own, so its peak memory is its own: a line for each.
READ_FILES = """
import sys

import django

django.setup()

from imports.files import FileRefused, open_table

for path in sys.argv[1:]:
    try:
        with open(path, "rb") as source:
            print("read", sum(1 for _ in open_table(source, "book.xlsx").rows))
    except FileRefused as refusal:
        print(refusal.code, refusal.message)

# This process's own peak (VmHWM, in kB). Not getrusage's ru_maxrss: that counts the test process too,
# whose memory the child shared between the fork and the exec.
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


def read_in_child(paths: list[Path], tmp_path: Path) -> tuple[list[str], float]:
    """What reading each file printed, and the reading process's peak RSS in MB."""
    output = tmp_path / "output.txt"
    with output.open("w") as out:
        child = subprocess.Popen(
            [sys.executable, "-c", READ_FILES, *map(str, paths)],
            cwd=Path(settings.BASE_DIR),
            # Reading needs no database; a URL stops the settings from starting the embedded server.
            env={**os.environ, "DATABASE_URL": "postgres://unused@127.0.0.1:1/unused"},
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
    assert child.wait() == 0
    *printed, peak_kb = output.read_text().splitlines()
    return printed, int(peak_kb) / 1024


def test_zip_bombs_are_refused_from_the_zip_directory_in_little_memory(tmp_path):
    # One process reads them all (a process takes seconds to start): its peak is the largest of theirs.
    paths = [write_parts_xlsx(tmp_path / f"{kind}.xlsx", **make()) for kind, make in BOMBS.items()]
    assert all(path.stat().st_size < BOMB_BYTES / MAX_RATIO for path in paths)

    printed, peak_mb = read_in_child(paths, tmp_path)

    sheet_bomb = r"xlsx_too_large The workbook's sheet unpacks to 20\d MB from [\d.]+ MB: more than 100 times, "
    # The shared strings' budget (64 bytes a row, 134 MB) is smaller than this bomb: refused by its size first.
    strings_bomb = (
        r"xlsx_too_large The workbook's table of texts \(shared strings\) unpacks to 20\d MB; at most 134 MB "
    )
    assert [
        bool(re.match(strings_bomb if kind == "shared_strings" else sheet_bomb, line))
        for kind, line in zip(BOMBS, printed, strict=True)
    ] == [True] * len(BOMBS)
    assert all(line.endswith("Save it again from Excel, or split it into smaller files.") for line in printed)
    assert peak_mb < PEAK_RSS_MB


def _distinct_rows(count: int) -> list[bytes]:
    """Rows of codes that compress as honest ones do (about 10 times)."""
    return [inline_row(n + 2, f"SB{n:05d}", f"CH{n * 7919 % 1_000_003:07d}") for n in range(count)]


@pytest.mark.django_db
def test_a_sheet_past_its_bytes_a_row_is_refused_by_the_command_however_it_compresses(tmp_path, settings):
    settings.IMPORT_MAX_ROWS = 1_000  # a sheet of at most 1,001 x 1,024 bytes
    path = write_parts_xlsx(
        tmp_path / "links.xlsx", [SHEET_HEAD, inline_row(1, "parent", "child"), *_distinct_rows(20_000), SHEET_TAIL]
    )
    factories.make_user("importer", role="admin")

    with pytest.raises(CommandError) as error:
        call_command("import_bags", str(path), "--user", "importer", stdout=StringIO(), verbosity=0)

    assert str(error.value).startswith("The workbook's sheet unpacks to 3 MB; at most 1 MB is read in one import.")
    assert not Bag.objects.exists()


def test_a_shared_strings_table_past_its_bytes_a_row_is_refused(tmp_path, settings):
    settings.IMPORT_MAX_ROWS = 1_000  # at most 1,001 x 64 bytes of shared strings
    texts = [f"<si><t>CH{n:07d}</t></si>".encode() for n in range(3_000)]
    sheet = [SHEET_HEAD, b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>', SHEET_TAIL]
    path = write_parts_xlsx(tmp_path / "bags.xlsx", sheet, [STRINGS_HEAD, *texts, STRINGS_TAIL])

    with path.open("rb") as source, pytest.raises(FileRefused) as refusal:
        open_table(source, "bags.xlsx")

    assert refusal.value.code == ImportRefusal.XLSX_TOO_LARGE
    assert refusal.value.message.startswith("The workbook's table of texts (shared strings) unpacks to 0.1 MB; at most")


def test_a_workbook_of_too_many_parts_is_refused_before_its_directory_is_loaded(tmp_path):
    path = write_xlsx(tmp_path / "bags.xlsx", [["code"], ["SB00001"]])
    with zipfile.ZipFile(path, "a") as book:
        for n in range(1_000):
            book.writestr(f"xl/media/image{n}.png", b"")

    with path.open("rb") as source, pytest.raises(FileRefused) as refusal:
        open_table(source, "bags.xlsx")

    assert refusal.value.code == ImportRefusal.XLSX_TOO_LARGE
    assert re.match(
        r"The workbook holds 1,0\d\d parts \(Excel writes about 10, at most 1,000 are read\)", refusal.value.message
    )


def _lie_about_size(path: Path, part: str, size: int) -> None:
    """Rewrite the uncompressed size the zip's central directory gives ``part``."""
    data = bytearray(path.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    entry = int.from_bytes(data[end + 16 : end + 20], "little")  # where the central directory starts
    name = part.encode()
    while data[entry + 46 : entry + 46 + len(name)] != name:
        entry = data.find(b"PK\x01\x02", entry + 1)
    data[entry + 24 : entry + 28] = size.to_bytes(4, "little")
    path.write_bytes(bytes(data))


def test_a_zip_directory_lying_about_a_size_never_unpacks_past_it(tmp_path):
    path = write_excel_xlsx(tmp_path / "links.xlsx", link_rows(100, 30))
    _lie_about_size(path, "xl/worksheets/sheet1.xml", 1_000)

    unpacked = 0
    with zipfile.ZipFile(path) as book, book.open("xl/worksheets/sheet1.xml") as part:
        assert book.getinfo("xl/worksheets/sheet1.xml").file_size == 1_000
        with pytest.raises(zipfile.BadZipFile, match="CRC"):
            while chunk := part.read(64):
                unpacked += len(chunk)
    assert unpacked <= 1_000
    with path.open("rb") as source, pytest.raises(FileRefused) as refusal:
        sum(1 for _ in open_table(source, "links.xlsx").rows)
    assert refusal.value.code == ImportRefusal.NOT_XLSX
    assert refusal.value.message.endswith("(BadZipFile).")


def test_honest_workbooks_grown_to_the_row_cap_pass_the_limits(tmp_path):
    # What Excel writes for 80,000 links, openpyxl for 20,000 and for 5,000 rows of seven bill columns
    # with text, each part scaled up to IMPORT_MAX_ROWS rows.
    bills = [["bill_number", "customer", "date", "expected_parents", "product", "notes", "parent"]] + [
        [
            f"INV-{n // 400:06d}",
            "Ajmer Traders Pvt Ltd",
            "2026-01-05",
            400,
            "Mustard",
            "to gate 3 by noon",
            f"SB{n:05d}",
        ]
        for n in range(5_000)
    ]
    books = [
        (write_excel_xlsx(tmp_path / "excel.xlsx", link_rows(2_667, 30)), 80_010),
        (write_xlsx(tmp_path / "openpyxl.xlsx", link_rows(667, 30)), 20_010),
        (write_xlsx(tmp_path / "bills.xlsx", bills), 5_000),
    ]
    for path, rows in books:
        with zipfile.ZipFile(path) as book:
            entries = book.infolist()
        grow = settings.IMPORT_MAX_ROWS / rows
        grown = []
        for entry in entries:
            assert entry.file_size <= MAX_RATIO / 4 * max(entry.compress_size, 1) or entry.file_size < 100_000
            if entry.filename.startswith("xl/worksheets/") or entry.filename == "xl/sharedStrings.xml":
                entry.file_size, entry.compress_size = int(entry.file_size * grow), int(entry.compress_size * grow)
            grown.append(entry)

        check_workbook_parts(grown)


def _read_rows(path: Path) -> int:
    with path.open("rb") as source:
        return sum(1 for _ in open_table(source, "links.xlsx").rows)


def test_a_sheet_without_a_dimension_is_read_in_flat_memory(tmp_path):
    # Inline texts: no shared strings table grows with the rows, so only the reader could.
    def peak(rows: int) -> int:
        path = write_parts_xlsx(
            tmp_path / f"{rows}.xlsx", [SHEET_HEAD, inline_row(1, "parent", "child"), *_distinct_rows(rows), SHEET_TAIL]
        )
        tracemalloc.start()
        try:
            assert _read_rows(path) == rows
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(1_000), peak(5_000)

    # The old reader kept an empty element per row and per cell read: 4,000 rows more, about 1 MB more.
    assert large - small < 256 * 1024


@pytest.mark.parametrize(
    ("sheet", "message"),
    [
        (
            [inline_row(1, "  ", ""), inline_row(2, " \t ")],
            "The workbook's first sheet holds no rows (or only blank cells).",
        ),
        (
            [inline_row(2, "code"), inline_row(3, "SB00001")],
            "Row 1 must name the columns (e.g. parent, child); it is empty.",
        ),
        (
            [inline_row(1, "code"), inline_row(2, "SB00001"), inline_row(2, "SB00002")],
            "Row 2 comes again after row 2: this is not a workbook Excel wrote. Save it again from Excel.",
        ),
        (
            [inline_row(1, "code"), inline_row(2, "SB00001"), inline_row(3, "SB" + " " * 120_000)],
            "Row 3 has a cell of more than 10,000 characters.",
        ),
    ],
    ids=["blank_cells", "no_row_1", "row_twice", "cell_too_long_for_the_parser"],
)
def test_a_sheet_of_blank_or_junk_rows_is_refused(tmp_path, sheet, message):
    path = write_parts_xlsx(tmp_path / "bags.xlsx", [SHEET_HEAD, *sheet, SHEET_TAIL])

    with pytest.raises(FileRefused) as refusal:
        _read_rows(path)

    assert refusal.value.message == message
