"""Reading an import file in a gevent worker (the admin's import runs in one) lets the worker's other
requests run between rows, instead of freezing them until the whole file is read."""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from tests.imports.files import link_rows, write_csv

# A greenlet ticks while the main one reads the file, as a scan request would run beside an import.
READ_UNDER_GEVENT = """
from gevent import monkey

monkey.patch_all()

import sys

import django
import gevent

django.setup()

from imports.files import open_table

ticks = []
ticker = gevent.spawn(lambda: [ticks.append(1) or gevent.sleep(0) for _ in range(1_000_000)])
gevent.sleep(0)
with open(sys.argv[1], "rb") as source:
    ticks.clear()
    rows = sum(1 for _ in open_table(source, "links.csv").rows)
print(rows, len(ticks))
"""


def test_reading_a_file_under_gevent_lets_other_greenlets_run(tmp_path):
    path = write_csv(tmp_path / "links.csv", link_rows(200, 30))

    done = subprocess.run(
        [sys.executable, "-c", READ_UNDER_GEVENT, str(path)],
        cwd=Path(settings.BASE_DIR),
        # Reading needs no database; a URL stops the settings from starting the embedded server.
        env={**os.environ, "DATABASE_URL": "postgres://unused@127.0.0.1:1/unused"},
        capture_output=True,
        text=True,
        check=True,
    )

    rows, ticks = map(int, done.stdout.split())
    assert rows == 6_000
    assert ticks >= 5  # once per 1,000 rows
