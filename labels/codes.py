"""Which codes a label request means: a range (SB00001 to SB00500), a pasted list, or the next N unused
codes of a product (labels.services, which needs the database). Every code is checked by the scan rules
(bags.qr), so nothing is printed that a scan would refuse; any refusal names the codes and prints nothing.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from bags import qr
from labels.error_codes import LabelRefusal
from traitortrack.errors import Refused

# The most labels one request makes: 5,000 is ten rolls of 500 or 209 A4 sheets, a few seconds to render
# (bench/labels.py); more in one go is a mistake or is better printed in parts.
MAX_LABELS = 5000
# How many refused codes of a pasted list the message names before "and N more".
NAMED_REFUSALS = 3
LIST_SEPARATORS = re.compile(r"[\s,;]+")
NUMBERED = re.compile(r"^(.*?)([0-9]+)$")


class LabelRefused(Refused):
    def __init__(self, code: LabelRefusal, message: str, *, status: int = 400):
        super().__init__(code, message, status=status)


@dataclass(frozen=True)
class CodeRun:
    """The codes to print. ``product_code`` and ``first_number``/``last_number`` are set when they are one
    product's parent codes in a row (a range or a next N): such a run is remembered when printed."""

    codes: tuple[str, ...]
    product_code: str | None = None
    first_number: int | None = None
    last_number: int | None = None

    @property
    def first(self) -> str:
        return self.codes[0]

    @property
    def last(self) -> str:
        return self.codes[-1]


def too_many(count: int) -> LabelRefused:
    return LabelRefused(
        LabelRefusal.TOO_MANY,
        _("That is %(count)s labels; at most %(max)s are made at once. Print them in parts.")
        % {"count": f"{count:,}", "max": f"{MAX_LABELS:,}"},
    )


def _normalised(raw: str, which: str) -> str:
    try:
        return qr.normalise(raw)
    except qr.QRCodeError as error:
        raise LabelRefused(LabelRefusal.BAD_CODE, f"{which}: {error.message}") from error


def from_range(first_raw: str, last_raw: str, formats: Iterable[qr.ParentFormat]) -> CodeRun:
    """Every code from ``first_raw`` to ``last_raw``: both the same letters, then numbers of one width."""
    formats = tuple(formats)
    first = _normalised(first_raw, _("The first code"))
    last = _normalised(last_raw, _("The last code"))
    first_match, last_match = NUMBERED.match(first), NUMBERED.match(last)
    if first_match is None or last_match is None:
        raise LabelRefused(
            LabelRefusal.BAD_RANGE,
            _("A range runs between two codes that end in digits, such as SB00001 to SB00500."),
        )
    prefix, first_digits = first_match.groups()
    last_prefix, last_digits = last_match.groups()
    if prefix != last_prefix or len(first_digits) != len(last_digits):
        raise LabelRefused(
            LabelRefusal.BAD_RANGE,
            _("%(first)s and %(last)s are not one range: both must start the same way and have as many digits.")
            % {"first": first, "last": last},
        )
    start, end = int(first_digits), int(last_digits)
    if start > end:
        raise LabelRefused(
            LabelRefusal.BAD_RANGE,
            _("The range runs backwards: %(first)s comes after %(last)s. Put the lower code first.")
            % {"first": first, "last": last},
        )
    if end - start + 1 > MAX_LABELS:
        raise too_many(end - start + 1)
    # The codes of a range share their letters and width, so its ends stand for all of it.
    try:
        parsed = qr.classify(first, formats)
        qr.classify(last, formats)
    except qr.QRCodeError as error:
        raise LabelRefused(LabelRefusal.BAD_CODE, error.message) from error
    width = len(first_digits)
    codes = tuple(f"{prefix}{number:0{width}d}" for number in range(start, end + 1))
    if parsed.kind != qr.PARENT:
        return CodeRun(codes)
    return CodeRun(codes, parsed.product_code, start, end)


def from_list(text: str, formats: Iterable[qr.ParentFormat]) -> CodeRun:
    """The codes pasted, one a line or separated by spaces, commas or semicolons, in their order."""
    formats = tuple(formats)
    pieces = [piece for piece in LIST_SEPARATORS.split(text) if piece]
    if not pieces:
        raise LabelRefused(LabelRefusal.NO_CODES, _("Paste or type at least one code."))
    if len(pieces) > MAX_LABELS:
        raise too_many(len(pieces))
    codes: list[str] = []
    seen: set[str] = set()
    refusals: list[str] = []
    twice: list[str] = []
    for piece in pieces:
        try:
            code = qr.classify(piece, formats).qr_id
        except qr.QRCodeError as error:
            refusals.append(error.message)
            continue
        if code in seen:
            twice.append(code)
        seen.add(code)
        codes.append(code)
    if refusals:
        message = ngettext(
            "%(count)s code cannot be printed: %(reasons)s",
            "%(count)s codes cannot be printed: %(reasons)s",
            len(refusals),
        ) % {"count": len(refusals), "reasons": " ".join(refusals[:NAMED_REFUSALS])}
        if len(refusals) > NAMED_REFUSALS:
            message += " " + _("And %(more)s more.") % {"more": len(refusals) - NAMED_REFUSALS}
        raise LabelRefused(LabelRefusal.BAD_CODE, message)
    if twice:
        raise LabelRefused(
            LabelRefusal.DUPLICATE_CODE,
            _("These codes are in the list more than once: %(codes)s. Each label is printed once.")
            % {"codes": ", ".join(dict.fromkeys(twice))},
        )
    return CodeRun(tuple(codes))


def numbered(fmt: qr.ParentFormat, start: int, count: int) -> CodeRun:
    """``count`` parent codes of the product from number ``start`` on."""
    end = start + count - 1
    return CodeRun(
        tuple(f"{fmt.prefix}{number:0{fmt.digits}d}" for number in range(start, end + 1)),
        fmt.product_code,
        start,
        end,
    )
