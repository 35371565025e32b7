"""The label layouts: two A4 sheets and two thermal rolls, in millimetres, and where each label sits.

The A4 sheets are the common office ones: 3 x 8 labels of 63.5 x 33.9 mm (Avery L7159 and its copies) and
2 x 7 of 99.1 x 38.1 mm (L7163). A roll is one label a page, the page the label's size: a thermal printer
driver prints a PDF page onto one label.
"""

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class LayoutKey(models.TextChoices):
    A4_3X8 = "a4-3x8", _("A4 sheet, 3 x 8 labels (63.5 x 33.9 mm)")
    A4_2X7 = "a4-2x7", _("A4 sheet, 2 x 7 labels (99.1 x 38.1 mm)")
    ROLL_50X25 = "roll-50x25", _("Thermal roll, 50 x 25 mm")
    ROLL_100X50 = "roll-100x50", _("Thermal roll, 100 x 50 mm")


ROLLS = (LayoutKey.ROLL_50X25, LayoutKey.ROLL_100X50)


@dataclass(frozen=True)
class Layout:
    key: LayoutKey
    page_width: float
    page_height: float
    columns: int
    rows: int
    label_width: float
    label_height: float
    left: float = 0.0  # the first label's left edge from the page's
    top: float = 0.0
    pitch_x: float = 0.0  # from one label's left edge to the next one's
    pitch_y: float = 0.0

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    @property
    def is_roll(self) -> bool:
        return self.key in ROLLS

    def pages(self, labels: int) -> int:
        return -(-labels // self.per_page)

    def label_origin(self, index: int) -> tuple[float, float]:
        """The top-left corner (mm from the page's top-left) of the page's ``index``-th label, row by row."""
        row, column = divmod(index % self.per_page, self.columns)
        return self.left + column * self.pitch_x, self.top + row * self.pitch_y


A4_WIDTH, A4_HEIGHT = 210.0, 297.0

LAYOUTS = {
    LayoutKey.A4_3X8: Layout(LayoutKey.A4_3X8, A4_WIDTH, A4_HEIGHT, 3, 8, 63.5, 33.9, 7.25, 12.9, 66.0, 33.9),
    LayoutKey.A4_2X7: Layout(LayoutKey.A4_2X7, A4_WIDTH, A4_HEIGHT, 2, 7, 99.1, 38.1, 4.65, 15.15, 101.6, 38.1),
    LayoutKey.ROLL_50X25: Layout(LayoutKey.ROLL_50X25, 50.0, 25.0, 1, 1, 50.0, 25.0),
    LayoutKey.ROLL_100X50: Layout(LayoutKey.ROLL_100X50, 100.0, 50.0, 1, 1, 100.0, 50.0),
}


@dataclass(frozen=True)
class LabelBox:
    """Where the QR code and the code's text go on one label (mm from the label's top-left corner); the
    PDF and the ZPL read the same box, so a roll's label looks alike from either."""

    qr_left: float
    qr_top: float
    qr_side: float
    text_baseline: float  # from the label's top
    text_size: float  # the text's height in mm (the font's size)


PADDING = 1.5  # mm kept clear at the label's edge: a sheet's die-cut and a roll's print head drift
TEXT_SHARE = 0.2  # of the label's height, at most, for the code's text


def label_box(width: float, height: float, text_width_per_mm: float) -> LabelBox:
    """The QR code as large as the label leaves it after the code's text, both centred.

    ``text_width_per_mm`` is how wide the code's text runs per mm of font size: the text takes up to a
    fifth of the height, smaller if a long code would not fit across.
    """
    usable = width - 2 * PADDING
    text_size = min(height * TEXT_SHARE, usable / text_width_per_mm)
    gap = 0.6 * PADDING
    qr_side = min(usable, height - 2 * PADDING - gap - text_size * 0.75)
    baseline = PADDING + qr_side + gap + text_size * 0.75
    return LabelBox((width - qr_side) / 2, PADDING, qr_side, baseline, text_size)
