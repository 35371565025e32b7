"""Labels as ZPL II for Zebra printers: one ``^XA ... ^XZ`` format per label, the printer's own QR
encoder (``^BQ``) and its scalable font 0, laid out in the same box as the PDF's roll labels
(labels.layouts.label_box). Codes are bag codes (letters, digits, dashes), so no ZPL control character
(``^``, ``~``) can reach a field.
"""

from collections.abc import Sequence
from functools import lru_cache

from labels.layouts import Layout, label_box
from labels.qr_symbols import QUIET_MODULES, symbol

# Font 0's characters run about 0.6 of its height wide when printed as tall as wide (^A0N,h,h).
FONT_WIDTH_PER_HEIGHT = 0.6
MAX_MAGNIFICATION = 10  # ^BQ's largest module, in dots


@lru_cache(maxsize=64)
def _modules(length: int, digits_only: bool) -> int:
    # A symbol's size depends only on how much data of which kind it holds: one encoding per kind of code,
    # not one per label (the printer draws the symbol itself).
    sample = "1" * length if digits_only else "A" * length
    return symbol(sample).symbol_size(border=QUIET_MODULES)[0]


def label_zpl(code: str, layout: Layout, dpi: int) -> str:
    dots = dpi / 25.4
    box = label_box(layout.label_width, layout.label_height, FONT_WIDTH_PER_HEIGHT * len(code))
    width, height = round(layout.label_width * dots), round(layout.label_height * dots)
    modules = _modules(len(code), code.isdigit())
    magnification = max(1, min(MAX_MAGNIFICATION, int(box.qr_side * dots / modules)))
    drawn = magnification * modules
    qr_left = round((width - drawn) / 2 + QUIET_MODULES * magnification)
    qr_top = round(box.qr_top * dots + QUIET_MODULES * magnification)
    text = round(box.text_size * dots)
    text_top = round(box.text_baseline * dots) - round(text * 0.75)
    return (
        "^XA^CI28"
        f"^PW{width}^LL{height}^LH0,0"
        # ^BQN,2: a model 2 QR code; "MA,": error level M, data mode chosen by the printer.
        f"^FO{qr_left},{qr_top}^BQN,2,{magnification}^FDMA,{code}^FS"
        f"^FO0,{text_top}^FB{width},1,0,C^A0N,{text},{text}^FD{code}^FS"
        "^PQ1^XZ\n"
    )


def labels_zpl(codes: Sequence[str], layout: Layout, dpi: int) -> bytes:
    return "".join(label_zpl(code, layout, dpi) for code in codes).encode("ascii")
