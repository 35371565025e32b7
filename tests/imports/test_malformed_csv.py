"""CSV files whose quotes are broken: refused whole, naming the line the quote opened on, or with
--skip-invalid each line the broken record took refused as a row; never a line silently lost. After a whole
read every line below the header is a row to import (imported), already present, refused or blank."""

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from bags.models import Bag, Link
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(area):
    return factories.make_user("importer", role="admin")


def good(line: int) -> str:
    """A links row that is fine on its own: its codes name its line, so the test can tell which got in."""
    return f"SB{line:05d},CH{line:06d}"


def lines_from(start: int, end: int) -> list[str]:
    return [good(line) for line in range(start, end + 1)]


# (name, the data lines (line 2 first, "" is a blank line), how the file ends, the line the trouble starts on).
MALFORMED = [
    ("unclosed-on-the-last-line", [*lines_from(2, 6), 'SB00007,"CH000007'], "", 7),
    ("unclosed-on-the-last-line-ended", [*lines_from(2, 6), 'SB00007,"CH000007'], "\n", 7),
    # The quote on line 5 swallows the 15 good lines below it.
    ("unclosed-mid-file", [*lines_from(2, 4), 'SB00005,"CH000005', *lines_from(6, 20)], "\n", 5),
    # ... up to the quote of line 8, which closes it with text after it.
    (
        "closed-lines-later",
        [*lines_from(2, 4), 'SB00005,"CH000005', *lines_from(6, 7), 'SB00008,"CH000008"', *lines_from(9, 12)],
        "\n",
        5,
    ),
    ("text-after-a-closing-quote", [*lines_from(2, 4), '"SB00005"x,CH000005', *lines_from(6, 8)], "\n", 5),
    # Legal CSV, but no code has a line break: refused as well (lines 4 and 5).
    ("line-break-in-a-cell", [*lines_from(2, 3), 'SB00004,"CH00\n0004"', "", *lines_from(7, 8), ",", ""], "\r\n", 4),
    (
        "blank-rows-a-bad-code-and-an-unclosed-quote",
        [*lines_from(2, 3), "", "SB00005,x", *lines_from(6, 7), '"SB00008,CH000008'],
        "\n",
        8,
    ),
]


def malformed(tmp_path: Path, lines: list[str], ending: str) -> Path:
    path = tmp_path / "links.csv"
    path.write_bytes(("parent,child\n" + "\n".join(lines) + ending).encode())
    return path


def call(path: Path, *args: str) -> tuple[int, str, str]:
    """(the exit code, the CommandError's message, the report)."""
    out = StringIO()
    try:
        call_command("import_bags", str(path), "--user", "importer", *args, stdout=out, verbosity=0)
    except CommandError as error:
        return error.returncode, str(error), out.getvalue()
    return 0, "", out.getvalue()


@pytest.mark.parametrize(
    ("lines", "ending", "opened_on"), [case[1:] for case in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_a_broken_quote_refuses_the_file_naming_the_line_it_opened_on(admin, tmp_path, lines, ending, opened_on):
    path = malformed(tmp_path, lines, ending)

    code, message, _ = call(path)

    assert code == 1
    assert message.startswith(f"Line {opened_on}: ")
    assert "quote" in message
    assert (Bag.objects.count(), Link.objects.count()) == (0, 0)


SUMMARY = re.compile(
    r"(?P<read>[\d,]+) rows read: (?P<fine>[\d,]+) to import, (?P<present>[\d,]+) already present, "
    r"(?P<errors>[\d,]+) with errors(?:; (?P<blank>[\d,]+) blank rows skipped)?\."
)


@pytest.mark.parametrize(
    ("lines", "ending", "opened_on"), [case[1:] for case in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_with_skip_invalid_every_line_is_imported_present_refused_or_blank(admin, tmp_path, lines, ending, opened_on):
    factories.link(factories.make_parent("SB00002"), factories.make_child("CH000002"))  # line 2 is there already
    path = malformed(tmp_path, lines, ending)
    data_lines = path.read_bytes().decode().count("\n") + (0 if ending else 1) - 1

    code, message, output = call(path, "--skip-invalid")

    counts = {name: int((value or "0").replace(",", "")) for name, value in SUMMARY.search(output).groupdict().items()}
    assert counts["read"] + counts["blank"] == data_lines
    assert counts["fine"] + counts["present"] + counts["errors"] == counts["read"]
    # The same, line by line: each line is one of these, once.
    refused = {int(n) for n in re.findall(r"^row (\d+): ", output, re.MULTILINE)} - {2}
    imported = {int(child[2:]) for child in Link.objects.values_list("child__qr_id", flat=True)} - {2}
    blank = {number for number, line in enumerate(path.read_text().splitlines()[1:], start=2) if not line.strip(",")}
    assert len(refused) == counts["errors"] and len(imported) == counts["fine"] and len(blank) == counts["blank"]
    assert sorted([2, *refused, *imported, *blank]) == list(range(2, data_lines + 2))
    assert opened_on in refused
    kept = counts["read"] - counts["errors"]
    assert (code, message) == (3, f"{counts['errors']} rows refused; the other {kept} were imported or already there.")


def test_the_lines_an_unclosed_quote_swallowed_are_each_named(admin, tmp_path):
    path = malformed(tmp_path, [*lines_from(2, 4), 'SB00005,"CH000005', *lines_from(6, 20)], "\n")

    _, _, output = call(path, "--skip-invalid")

    listed = output.splitlines()
    assert listed[0] == (
        "row 5: unclosed_quote: Line 5: a quote opened on this line is never closed: lines 5 to 20 (the end) were "
        "read as one cell. Close or remove the quote."
    )
    assert listed[1] == "row 6: unclosed_quote: Line 6 was read into the record of line 5 (see there)."
    assert "19 rows read: 3 to import, 0 already present, 16 with errors." in output


@pytest.mark.parametrize("args", [(), ("--skip-invalid",)])
def test_a_quote_open_past_the_csv_field_limit_refuses_the_file_even_with_skip_invalid(admin, tmp_path, args):
    # The csv module gives up inside such a cell, and the lines after it can no longer be told apart.
    path = malformed(tmp_path, [good(2), 'SB00003,"CH000003', *lines_from(4, 10_003)], "\n")

    code, message, _ = call(path, *args)

    assert code == 1
    assert message.startswith("Line 3: a cell runs on from line 3 to past line ")
    assert "a quote opened there is probably never closed" in message
    assert Bag.objects.count() == 0


@pytest.mark.parametrize("length", [20_000, 200_000])
def test_a_cell_longer_than_any_code_refuses_the_file_below_and_above_the_csv_field_limit(admin, tmp_path, length):
    path = malformed(tmp_path, [good(2), f"SB00003,{'A' * length}", good(4)], "\n")

    assert call(path, "--skip-invalid")[:2] == (1, "Row 3 has a cell of more than 10,000 characters.")


def test_a_bills_file_with_an_unclosed_quote_is_refused_naming_its_line(admin, tmp_path):
    path = tmp_path / "bills.csv"
    path.write_text(
        'bill_number,customer,date,expected_parents,parent\nB-1,Acme,2026-11-23,2,\nB-2,"Acme,2026-11-23,2,\n'
    )

    out = StringIO()
    with pytest.raises(CommandError) as error:
        call_command("import_bills", str(path), "--user", "importer", stdout=out, verbosity=0)

    assert error.value.returncode == 1
    assert str(error.value).startswith("Line 3: a quote opened on this line is never closed")
