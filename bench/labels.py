"""Label rendering: 1,000 labels in each layout as PDF, and as ZPL, timed in one process; then the label
page's PDF download of 1,000 labels through Django's whole stack (the form, the codes' checks, the PDF).

Each figure is the median (and the slowest) of --runs runs, with the median CPU time of the process (what the
work costs, whatever else the machine runs); the target is 1,000 labels under 5 s. The PDF sizes are printed
too. The page part needs a migrated database (DATABASE_URL, default tt_bench) and makes a biller
"bench_labels" there; its codes are a child range, so no label batch is kept.

With --decode it also reads every label of each layout's PDF back (PDFium at 203 and 150 dpi, zxing-cpp, as
tests/labels does with fewer) for 1,000 codes of both products' parents and 20-character children, and says
how many decoded to their code, in order.

    .venv/bin/python bench/labels.py [--runs 5] [--labels 1000] [--no-page] [--decode]
"""

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "traitortrack.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tt_bench")

import django  # noqa: E402 (settings first)

django.setup()

from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from accounts.models import Role, User  # noqa: E402
from labels.layouts import LAYOUTS, LayoutKey  # noqa: E402
from labels.pdf import labels_pdf  # noqa: E402
from labels.zpl import labels_zpl  # noqa: E402

TARGET_SECONDS = 5.0


def timed(runs: int, work: Callable[[], bytes]) -> tuple[float, float, float, int]:
    """Median and slowest wall-clock seconds of ``runs`` runs, the median CPU seconds of this process (what
    the work costs, whatever else the machine is doing), and the output's size."""
    seconds, cpu, size = [], [], 0
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        size = len(work())
        seconds.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return statistics.median(seconds), max(seconds), statistics.median(cpu), size


def row(what: str, median: float, slowest: float, cpu: float, size: int) -> None:
    verdict = "met" if median < TARGET_SECONDS else "NOT MET"
    print(
        f"{what:<44} median {median:6.2f} s  slowest {slowest:6.2f} s  CPU {cpu:6.2f} s"
        f"  {size / 1024:8.0f} KB  ({verdict})"
    )


def page_download(labels: int) -> Callable[[], bytes]:
    user, _made = User.objects.get_or_create(username="bench_labels", defaults={"role": Role.BILLER})
    client = Client(HTTP_HOST="127.0.0.1")  # one of the default ALLOWED_HOSTS
    client.force_login(user)
    form = {
        "source": "range",
        "first": "BENCH00001",
        "last": f"BENCH{labels:05d}",
        "layout": LayoutKey.A4_3X8,
        "dpi": "203",
        "action": "pdf",
    }

    def download() -> bytes:
        answer = client.post("/labels/", form)
        assert answer.status_code == 200, answer.content[:500]
        return answer.content

    return download


def decode_back(labels: int) -> None:
    from tests.labels.decoding import decoded_pages

    parents = labels // 2
    codes = [f"SB{number:05d}" for number in range(1, parents + 1)]
    codes += [f"M444-{99999 - number:05d}" for number in range(labels // 4)]
    codes += [f"CHILD{number:015d}" for number in range(labels - len(codes))]
    for key in LayoutKey:
        pdf = labels_pdf(codes, LAYOUTS[key])
        for dpi in (203, 150):
            read = [code for page in decoded_pages(pdf, dpi=dpi) for code in page]
            right = sum(got == wanted for got, wanted in zip(read, codes, strict=False))
            verdict = "all, in order" if read == codes else "NOT ALL"
            print(f"decoded back: PDF {key.value:<12} at {dpi} dpi  {right:,} of {len(codes):,} ({verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--labels", type=int, default=1000)
    parser.add_argument("--no-page", action="store_true", help="only the rendering, no database")
    parser.add_argument("--decode", action="store_true", help="read every label back (needs requirements-dev.txt)")
    options = parser.parse_args()
    codes = [f"SB{number:05d}" for number in range(1, options.labels + 1)]
    print(f"{options.labels:,} labels, {options.runs} runs each (target: under {TARGET_SECONDS:.0f} s)")
    print(f"load average before: {' '.join(f'{load:.1f}' for load in os.getloadavg())}")
    for key in LayoutKey:
        row(f"PDF {key.value}", *timed(options.runs, lambda key=key: labels_pdf(codes, LAYOUTS[key])))
    for key in (LayoutKey.ROLL_50X25, LayoutKey.ROLL_100X50):
        row(f"ZPL {key.value}, 203 dpi", *timed(options.runs, lambda key=key: labels_zpl(codes, LAYOUTS[key], 203)))
    if not options.no_page:
        # The production static storage needs collectstatic; the page's figures do not depend on it.
        storages = {"staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
        with override_settings(
            STORAGES={"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}, **storages}
        ):
            row("POST /labels/ (PDF a4-3x8, whole stack)", *timed(options.runs, page_download(options.labels)))
    if options.decode:
        decode_back(options.labels)
    print(f"load average after: {' '.join(f'{load:.1f}' for load in os.getloadavg())}")


if __name__ == "__main__":
    main()
