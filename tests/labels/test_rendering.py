"""What prints is what was asked for: every layout's PDF rasterised at a thermal printer's 203 dpi and each QR
symbol decoded back (zxing-cpp), in order and page by page; the ZPL's fields; the command sheet."""

import re

import pypdfium2
import pytest
from django.utils import translation
from reportlab.pdfbase.ttfonts import shapeStr
from reportlab.pdfgen.canvas import Canvas

from bags.qr import Command
from labels import pdf as pdf_module
from labels.commands import command_words
from labels.layouts import LAYOUTS, LayoutKey
from labels.pdf import command_sheet_pdf, labels_pdf
from labels.zpl import labels_zpl
from tests.labels.decoding import decoded_pages

# Parents of both products, the longest child code there is, and the shortest.
CODES = [f"SB{number:05d}" for number in range(1, 27)] + ["M444-00001", "M444-99999", "C" * 20, "A1B2"]


@pytest.mark.parametrize("layout_key", list(LayoutKey))
def test_every_label_decodes_back_to_its_code_in_order(layout_key):
    layout = LAYOUTS[layout_key]

    pages = decoded_pages(labels_pdf(CODES, layout))

    assert len(pages) == layout.pages(len(CODES))
    expected = [CODES[start : start + layout.per_page] for start in range(0, len(CODES), layout.per_page)]
    assert pages == expected


def test_a_sheet_holds_its_layouts_count_and_a_roll_one_a_page():
    assert [LAYOUTS[key].per_page for key in LayoutKey] == [24, 14, 1, 1]
    assert LAYOUTS[LayoutKey.A4_3X8].pages(25) == 2 and LAYOUTS[LayoutKey.ROLL_50X25].pages(25) == 25


def test_the_command_sheet_decodes_to_every_command_in_order():
    pages = decoded_pages(command_sheet_pdf(command_words()))

    assert pages == [[str(command) for command in Command]]


def pdf_text(pdf: bytes) -> str:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


def test_the_command_sheet_in_hindi_is_set_in_a_devanagari_font_and_reads_in_hindi(monkeypatch):
    drawn = []  # (text, shaped) of every string the sheet draws
    draw = Canvas.drawString

    def recording(self, x, y, text, **options):
        drawn.append((text, options.get("shaping")))
        return draw(self, x, y, text, **options)

    monkeypatch.setattr(Canvas, "drawString", recording)
    with translation.override("hi"):
        words = command_words()
        pdf = command_sheet_pdf(words)

    text = pdf_text(pdf)
    fonts = set(re.findall(rb"/BaseFont /(?:[A-Z]{6}\+)?([\w-]+)", pdf))  # a subset's name has a tag before it
    assert fonts == {b"Helvetica", b"NotoSansDevanagari-Bold", b"NotoSansDevanagari-Regular"}  # codes in Helvetica
    assert "स्कैन पेज के कमांड बारकोड" in text  # the title, a conjunct and a vowel sign in its first word
    assert [entry.name for entry in words] == ["पूरी", "वापस लें", "नई बड़ी बोरी", "खिसकाएँ", "रद्द करें"]
    assert all(entry.name in text and entry.description in text for entry in words)
    assert decoded_pages(pdf) == [[str(command) for command in Command]]  # the codes stay as they are
    assert [text for text, shaped in drawn if not text.isascii() and not shaped] == []  # every Hindi line shaped


def test_shaping_joins_the_letters_of_a_conjunct_in_the_devanagari_font():
    # स्कैन is five code points; shaped, the half स् and क join: four glyphs. Unshaped, one glyph a code point.
    font = pdf_module.devanagari_font(pdf_module.FONT)

    assert len(shapeStr("स्कैन", font, 18).__shapeData__) == 4


def test_the_command_sheet_in_english_embeds_no_font():
    with translation.override("en"):
        pdf = command_sheet_pdf(command_words())

    assert set(re.findall(rb"/BaseFont /([\w+-]+)", pdf)) == {b"Helvetica", b"Helvetica-Bold"}
    assert "Mark the parent you are filling complete." in pdf_text(pdf)


def test_every_command_has_its_name_in_words():
    words = {entry.code: entry for entry in command_words()}

    assert set(words) == {str(command) for command in Command}
    assert words[Command.NEW_PARENT].name == "New parent"
    assert words[Command.DONE].description == "Mark the parent you are filling complete."


@pytest.mark.parametrize(
    ("layout_key", "dpi", "width", "height"),
    [
        (LayoutKey.ROLL_50X25, 203, 400, 200),
        (LayoutKey.ROLL_100X50, 203, 799, 400),
        (LayoutKey.ROLL_50X25, 300, 591, 295),
    ],
)
def test_zpl_holds_one_label_per_code_with_its_qr_and_its_text(layout_key, dpi, width, height):
    zpl = labels_zpl(CODES, LAYOUTS[layout_key], dpi).decode("ascii")

    labels = re.findall(r"\^XA(.*?)\^XZ", zpl)
    assert len(labels) == len(CODES)
    for code, label in zip(CODES, labels, strict=True):
        assert f"^PW{width}^LL{height}" in label
        assert re.search(rf"\^BQN,2,\d+\^FDMA,{code}\^FS", label)
        assert re.search(rf"\^FB{width},1,0,C\^A0N,\d+,\d+\^FD{code}\^FS", label)
        # The symbol and the text's capitals and digits (codes have no descenders) stay inside the label.
        qr_left, qr_top, magnification = map(int, re.search(r"\^FO(\d+),(\d+)\^BQN,2,(\d+)", label).groups())
        text_top, text = map(int, re.search(r"\^FO0,(\d+)\^FB\d+,1,0,C\^A0N,(\d+)", label).groups())
        assert qr_left > 0 and qr_top > 0 and text_top + 0.75 * text < height
        assert magnification >= 3  # a module of 3 dots or more: readable from a 203 dpi head
