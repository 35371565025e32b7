"""Labels and the command sheet as PDF, drawn with ReportLab's canvas: each QR module run is one filled
rectangle of one path per label (vectors, so a symbol is sharp at any printer's resolution), the code
under it in Helvetica Bold, one of the PDF's standard fonts (nothing embedded, nothing to install).

Words (the command sheet's) that are not plain ASCII, the Hindi ones, are set in Noto Sans Devanagari
(labels/fonts/, SIL OFL) and shaped by HarfBuzz (uharfbuzz): ReportLab alone would put the letters side by side
in their Unicode order, with the vowel signs and conjuncts wrong. Only the glyphs used are embedded.
"""

import io
import time
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

from django.utils.translation import gettext as _
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import registerFont, stringWidth
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from labels.commands import CommandWords
from labels.layouts import Layout, label_box
from labels.qr_symbols import dark_runs

FONT = "Helvetica-Bold"
TEXT_FONT = "Helvetica"
# Rendering is CPU work (about 1.5 ms a label, most of it segno choosing each symbol's mask): every this many
# labels the loop sleeps 0 s, which under gevent (the gunicorn workers) lets the worker's other requests, the
# scans, run in between instead of waiting seconds for a big sheet.
LABELS_BETWEEN_YIELDS = 20
FONTS = Path(__file__).resolve().parent / "fonts"
# The Devanagari face for each Latin one: the same weight.
DEVANAGARI = {FONT: "NotoSansDevanagari-Bold", TEXT_FONT: "NotoSansDevanagari-Regular"}


@cache
def devanagari_font(font: str) -> str:
    """Register the Devanagari face of ``font`` (once a process) and return its name."""
    name = DEVANAGARI[font]
    registerFont(TTFont(name, FONTS / f"{name}.ttf", shapable=True))
    return name


def draw_words(canvas: Canvas, x: float, y: float, text: str, font: str, size: float) -> None:
    """``text`` at (x, y): in ``font`` when it is plain ASCII, else in its Devanagari face, shaped."""
    if text.isascii():
        canvas.setFont(font, size)
        canvas.drawString(x, y, text)
    else:
        canvas.setFont(devanagari_font(font), size)
        canvas.drawString(x, y, text, shaping=True)


def _canvas(buffer: io.BytesIO, width: float, height: float, title: str) -> Canvas:
    canvas = Canvas(buffer, pagesize=(width * mm, height * mm), pageCompression=1, invariant=1)
    canvas.setTitle(title)
    canvas.setCreator("TraitorTrack")
    return canvas


def draw_symbol(canvas: Canvas, code: str, left: float, top: float, side: float, page_height: float) -> None:
    """The code's QR symbol in the square of ``side`` mm whose top-left corner is (left, top) mm from the
    page's top-left (PDF counts up from the bottom)."""
    modules, runs = dark_runs(code)
    module = side * mm / modules
    x0 = left * mm
    y_top = (page_height - top) * mm
    path = canvas.beginPath()
    for row, column, length in runs:
        path.rect(x0 + column * module, y_top - (row + 1) * module, length * module, module)
    canvas.drawPath(path, stroke=0, fill=1)


def draw_label(canvas: Canvas, code: str, left: float, top: float, layout: Layout) -> None:
    box = label_box(layout.label_width, layout.label_height, stringWidth(code, FONT, 1))
    draw_symbol(canvas, code, left + box.qr_left, top + box.qr_top, box.qr_side, layout.page_height)
    canvas.setFont(FONT, box.text_size * mm)
    canvas.drawCentredString(
        (left + layout.label_width / 2) * mm, (layout.page_height - top - box.text_baseline) * mm, code
    )


def labels_pdf(codes: Sequence[str], layout: Layout) -> bytes:
    """One label per code, in order, across and then down each sheet (or one a page on a roll)."""
    buffer = io.BytesIO()
    canvas = _canvas(buffer, layout.page_width, layout.page_height, _("TraitorTrack labels"))
    for index, code in enumerate(codes):
        if index and index % layout.per_page == 0:
            canvas.showPage()
        if index % LABELS_BETWEEN_YIELDS == 0:
            time.sleep(0)
        left, top = layout.label_origin(index)
        draw_label(canvas, code, left, top, layout)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# The command sheet: A4, one command a row, a large symbol on the left and its words beside it.
SHEET_MARGIN = 15.0
SHEET_TITLE_SPACE = 25.0
COMMAND_ROW = 50.0
COMMAND_SYMBOL = 42.0


def command_sheet_pdf(commands: Iterable[CommandWords]) -> bytes:
    width, height = 210.0, 297.0
    buffer = io.BytesIO()
    canvas = _canvas(buffer, width, height, _("TraitorTrack command barcodes"))
    top_line = (height - SHEET_MARGIN - 6) * mm
    draw_words(canvas, SHEET_MARGIN * mm, top_line, _("Command barcodes for the scan page"), FONT, 18)
    draw_words(
        canvas,
        SHEET_MARGIN * mm,
        (height - SHEET_MARGIN - 12) * mm,
        _("Scan one of these on the scan page instead of pressing its button."),
        TEXT_FONT,
        10,
    )
    for index, command in enumerate(commands):
        top = SHEET_MARGIN + SHEET_TITLE_SPACE + index * COMMAND_ROW
        draw_symbol(canvas, command.code, SHEET_MARGIN, top, COMMAND_SYMBOL, height)
        text_left = (SHEET_MARGIN + COMMAND_SYMBOL + 8) * mm
        draw_words(canvas, text_left, (height - top - 14) * mm, command.name, FONT, 26)
        draw_words(canvas, text_left, (height - top - 23) * mm, command.description, TEXT_FONT, 13)
        canvas.setFont(TEXT_FONT, 9)
        canvas.drawString(text_left, (height - top - 30) * mm, command.code)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
