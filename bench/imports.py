"""Bulk import and export at size: an 80,000-row .xlsx of links and a 2,000,000-row CSV of links, imported
with ``manage.py import_bags`` into a scratch database of its own, each run under /usr/bin/time -v for its
wall time and peak memory (RSS); then the same 80,000 rows again (all present: nothing changes), and the
whole bag table (2,080,000 bags) exported as CSV and as Excel through the export writer. Then the zip
bombs an operator tried (issue 16, 1.1 GB of XML each: --bomb-mb), each through ``manage.py import_bags``,
and the imports again as the admin runs them: the upload kept in the database, a real background worker
(``manage.py procrastinate worker``) running the job, timed from queued to finished, with the peak memory
of the job's process as the kernel counted it.

    .venv/bin/python bench/imports.py [--keep] [--rows 2000000] [--xlsx-rows 80000] [--bomb-mb 1100]

Targets (issue 6): the .xlsx in under 30 s, the CSV in under 5 minutes, memory flat (about the same peak
for 80,000 rows as for 2,000,000); (issue 16) each bomb refused in under 2 s and 150 MB. Needs the
PostgreSQL at 127.0.0.1:5432 (user postgres); makes and drops the database tt_bench_imports (--keep
leaves it).
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.imports.files import write_excel_xlsx, write_parts_xlsx, zip_bombs  # noqa: E402 (the project's folder first)

PYTHON = ROOT / ".venv" / "bin" / "python"
SERVER = "postgres://postgres@127.0.0.1:5432"
SCRATCH = "tt_bench_imports"
ADMIN = "bench_importer"
TARGETS = {"xlsx": 30.0, "csv": 300.0}
BOMB_TARGET = (2.0, 150)  # seconds, MB

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


QUEUE_JOB = """
from django.core.files import File
from accounts.models import User
from imports import jobs
with open(PATH, "rb") as source:
    upload = jobs.store_upload(File(source, name=PATH.rsplit("/", 1)[-1]), User.objects.get(username=ADMIN))
job = jobs.queue(queue_name="bench", subject="bags", file_name=upload.file_name, upload=upload,
                 dry_run=False, requested_by=upload.uploaded_by)
print(job.pk)
"""


class Worker:
    """A real background worker (``manage.py procrastinate worker``) on the scratch database, taking the
    bench's queue; warmed by a first job, so the fork server's start (about 2 s) is not in any figure."""

    def __init__(self, database: str, warm_with: Path) -> None:
        self.database = database
        env = {**os.environ, "DATABASE_URL": f"{SERVER}/{database}"}
        self.process = subprocess.Popen(
            [str(PYTHON), "manage.py", "procrastinate", "worker", "--queues", "bench", "--concurrency", "1"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.run(warm_with)

    def run(self, path: Path) -> tuple[float, float, int, str]:
        """(seconds from queued to finished, seconds the job ran, the job's process's peak RSS in MB, its
        outcome) of an import of ``path`` as the admin runs it: the upload kept in the database first."""
        script = QUEUE_JOB.replace("PATH", repr(str(path))).replace("ADMIN", repr(ADMIN))
        job_id = int(managed(["shell", "--no-imports", "-c", script], self.database).stdout.split()[-1])
        with psycopg.connect(f"{SERVER}/{self.database}", autocommit=True) as db:
            while True:
                status, queued, ran, peak_kb, message, report = db.execute(
                    "SELECT status, extract(epoch FROM finished_at - queued_at),"
                    " extract(epoch FROM finished_at - started_at), peak_rss_kb, message, report"
                    " FROM imports_importjob WHERE id = %s",
                    [job_id],
                ).fetchone()
                if status in ("done", "refused", "failed"):
                    break
                if self.process.poll() is not None:
                    sys.exit("the worker stopped")
                time.sleep(0.1)
        outcome = message[:80] if message else f"{report['rows']:,} rows, made {dict(report['created'])}"
        return float(queued), float(ran), (peak_kb or 0) // 1024, f"{status}: {outcome}"

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=60)


def bombs(folder: Path, size: int) -> list[tuple[str, Path]]:
    made = []
    for kind, parts in zip_bombs(size).items():
        path = write_parts_xlsx(folder / f"{kind}.xlsx", **parts())
        made.append((kind, path))
    return made


def fresh(database: str) -> None:
    """The scratch database made anew: migrated, with the importing admin."""
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as server:
        server.execute(f"DROP DATABASE IF EXISTS {database}")
        server.execute(f"CREATE DATABASE {database}")
    for step in (["migrate", "--no-input"], ["shell", "-c", _MAKE_ADMIN]):
        done = managed(step, database)
        if done.returncode:
            sys.exit(done.stderr[-3000:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the CSV (default %(default)s)")
    parser.add_argument("--xlsx-rows", type=int, default=80_000, help="rows of the .xlsx (default %(default)s)")
    parser.add_argument("--bomb-mb", type=int, default=1_100, help="MB of XML in each bomb (default %(default)s)")
    parser.add_argument("--keep", action="store_true", help=f"leave the database {SCRATCH} in place")
    args = parser.parse_args()

    try:
        fresh(SCRATCH)
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
            # The admin's way, on a fresh database (the same rows again would all be present).
            fresh(SCRATCH)
            warm = Path(folder) / "warm.csv"
            warm.write_text("code\nSB99999\n")
            worker = Worker(SCRATCH, warm)
            try:
                for kind, path in bombs(Path(folder), args.bomb_mb * 1_000_000):
                    size = f"{path.stat().st_size / 1e6:.1f} MB"
                    # The command's time includes starting Django (about 2 s here); the job's is the refusal's.
                    seconds, mb, _ = timed(["import_bags", str(path), "--user", ADMIN, "--verbosity", "0"], SCRATCH)
                    print(f"bomb {kind:19} {size:>7} command    {seconds:5.1f} s         peak {mb:4d} MB")
                    queued, ran, mb, outcome = worker.run(path)
                    met = "met" if queued < BOMB_TARGET[0] and mb < BOMB_TARGET[1] else "MISSED"
                    print(
                        f"bomb {kind:19} {size:>7} worker job {queued:5.1f} s (ran {ran:4.2f} s) peak {mb:4d} MB"
                        f" (target < 2 s, 150 MB: {met})  {outcome}"
                    )
                    path.unlink()
                for label, path in (("xlsx", xlsx_path), ("csv", csv_path)):
                    queued, ran, mb, outcome = worker.run(path)
                    print(f"worker import {label:5} {queued:7.1f} s (ran {ran:.1f} s)  peak {mb:4d} MB  {outcome}")
            finally:
                worker.stop()
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
