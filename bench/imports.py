"""Bulk import and export at size: an 80,000-row .xlsx of links and a 2,000,000-row CSV of links, imported
with ``manage.py import_bags`` into a scratch database of its own, each run under /usr/bin/time -v for its
wall time and peak memory (RSS); then the same 80,000 rows again (all present: nothing changes), and the
whole bag table (2,080,000 bags) exported as CSV and as Excel through the export writer.

    .venv/bin/python bench/imports.py [--keep] [--rows 2000000] [--xlsx-rows 80000]

Targets (issue 6): the .xlsx in under 30 s, the CSV in under 5 minutes, memory flat (about the same peak
for 80,000 rows as for 2,000,000). Needs the PostgreSQL at 127.0.0.1:5432 (user postgres); makes and
drops the database tt_bench_imports (--keep leaves it).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.imports.files import write_excel_xlsx  # noqa: E402 (the project's folder first)

PYTHON = ROOT / ".venv" / "bin" / "python"
SERVER = "postgres://postgres@127.0.0.1:5432"
SCRATCH = "tt_bench_imports"
ADMIN = "bench_importer"
TARGETS = {"xlsx": 30.0, "csv": 300.0}

EXPORT_SNIPPET = """
import sys
from traitortrack import spreadsheets
from exports.tables import TABLES
table = TABLES["bags"]
write = spreadsheets.csv_chunks if sys.argv[1] == "csv" else lambda sheet: spreadsheets.xlsx_chunks([sheet])
size = sum(len(part) for part in write(table.sheet(table.queryset())))
print(f"exported {size:,} bytes")
"""


def parents_for(rows: int) -> list[str]:
    """Enough parent codes for rows / 30 parents: mustard SB00001.., then moong M444-00001.."""
    count = -(-rows // 30)
    mustard = min(count, 99_999)
    return [f"SB{n:05d}" for n in range(1, mustard + 1)] + [f"M444-{n:05d}" for n in range(1, count - mustard + 1)]


def link_rows(rows: int, child_prefix: str):
    for i, parent in enumerate(parents_for(rows)):
        for k in range(30):
            n = i * 30 + k
            if n >= rows:
                return
            yield parent, f"{child_prefix}{n:010d}"


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="") as out:
        out.write("parent,child\n")
        out.writelines(f"{parent},{child}\n" for parent, child in link_rows(rows, "IC"))


def write_xlsx(path: Path, rows: int) -> None:
    # As Excel saves a workbook (shared strings, the size declared): openpyxl and our export writer put each
    # text inline in its cell, which openpyxl's reader takes differently (no strings table read first).
    write_excel_xlsx(
        path, [["parent", "child"], *([_xlsx_parent(parent), child] for parent, child in link_rows(rows, "XC"))]
    )


def _xlsx_parent(parent: str) -> str:
    # The xlsx goes in after the CSV: its parents are the top of the moong range, which the CSV leaves free.
    number = int(parent[-5:])
    return f"M444-{99_999 - number:05d}"


def managed(args: list[str], database: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": f"{SERVER}/{database}", "DB_POOL_MAX_SIZE": "0"}
    return subprocess.run([str(PYTHON), "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def timed(args: list[str], database: str) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in MB, stdout) of manage.py ARGS under /usr/bin/time -v."""
    managed(["--version"], database)  # warm the file cache for the interpreter
    env = {**os.environ, "DATABASE_URL": f"{SERVER}/{database}", "DB_POOL_MAX_SIZE": "0"}
    done = subprocess.run(
        ["/usr/bin/time", "-v", str(PYTHON), "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    if wall is None or rss is None:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    hours, minutes, seconds = int(wall[1] or 0), int(wall[2]), float(wall[3])
    return hours * 3600 + minutes * 60 + seconds, int(rss[1]) // 1024, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the CSV (default %(default)s)")
    parser.add_argument("--xlsx-rows", type=int, default=80_000, help="rows of the .xlsx (default %(default)s)")
    parser.add_argument("--keep", action="store_true", help=f"leave the database {SCRATCH} in place")
    args = parser.parse_args()

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as server:
        server.execute(f"DROP DATABASE IF EXISTS {SCRATCH}")
        server.execute(f"CREATE DATABASE {SCRATCH}")
    try:
        for step in (["migrate", "--no-input"], ["shell", "-c", _MAKE_ADMIN]):
            done = managed(step, SCRATCH)
            if done.returncode:
                sys.exit(done.stderr[-3000:])
        with tempfile.TemporaryDirectory() as folder:
            csv_path, xlsx_path = Path(folder) / "links.csv", Path(folder) / "links.xlsx"
            write_csv(csv_path, args.rows)
            write_xlsx(xlsx_path, args.xlsx_rows)
            print(f"files: {csv_path.stat().st_size / 1e6:.1f} MB CSV, {xlsx_path.stat().st_size / 1e6:.1f} MB xlsx")
            results = []
            for label, path in (("csv", csv_path), ("xlsx", xlsx_path), ("xlsx again", xlsx_path)):
                seconds, mb, out = timed(["import_bags", str(path), "--user", ADMIN, "--verbosity", "0"], SCRATCH)
                summary = next(line for line in out.splitlines() if "rows read" in line)
                results.append((label, seconds, mb))
                target = TARGETS.get(label)
                verdict = f" (target < {target:.0f} s: {'met' if seconds < target else 'MISSED'})" if target else ""
                print(f"import {label:10} {seconds:7.1f} s  peak {mb:4d} MB{verdict}  {summary}")
            for file_format in ("csv", "xlsx"):
                seconds, mb, out = timed(
                    ["shell", "--no-imports", "-c", EXPORT_SNIPPET.replace("sys.argv[1]", repr(file_format))], SCRATCH
                )
                print(f"export bags {file_format:4} {seconds:7.1f} s  peak {mb:4d} MB  {out.strip().splitlines()[-1]}")
    finally:
        if not args.keep:
            with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as server:
                server.execute(f"DROP DATABASE IF EXISTS {SCRATCH}")


_MAKE_ADMIN = f"""
from accounts.models import Role, User
User.objects.create_user(username={ADMIN!r}, role=Role.ADMIN, is_staff=True, is_superuser=True)
"""

if __name__ == "__main__":
    main()
