"""QR code rules: how a scanned code is cleaned up, and whether it is a parent or a child bag.

Pure functions, no database: the parent formats come from the Product table (bags.models.Product),
which is the one place a new product is added. Every refusal is a QRCodeError with a stable code and
a sentence a dispatcher can act on.
"""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from django.utils.translation import gettext

from bags.error_codes import QRRefusal

MAX_LENGTH = 20
MIN_LENGTH = 4
# Every bag code, parent or child, after normalisation; the database checks the same rule.
ANY_CODE_SQL_REGEX = r"^[A-Z0-9][A-Z0-9-]{3,19}$"
ANY_CODE_PATTERN = re.compile(ANY_CODE_SQL_REGEX)
# The child rule as the database's CHECK and the scan page's script (a JavaScript RegExp) read it.
CHILD_SQL_REGEX = r"^[A-Z0-9]{4,20}$"
CHILD_PATTERN = re.compile(CHILD_SQL_REGEX)

PARENT = "parent"
CHILD = "child"

# Command barcodes: printed on a sheet (labels), acted on by the scan page. Their prefix is refused as a
# bag code here and by the database, so a command can never be taken for a bag.
COMMAND_PREFIX = "TT-CMD-"


class Command(StrEnum):
    DONE = COMMAND_PREFIX + "DONE"  # mark the parent being filled complete
    UNDO = COMMAND_PREFIX + "UNDO"  # take back the last put-in or move
    NEW_PARENT = COMMAND_PREFIX + "NEW-PARENT"  # leave this parent; the next read is a parent
    MOVE = COMMAND_PREFIX + "MOVE"  # the next reads are a child, then its new parent
    CANCEL = COMMAND_PREFIX + "CANCEL"  # stop a move or a pending command


def is_command(code: str) -> bool:
    """A command barcode's code (normalised: upper-case, trimmed); no bag code starts so."""
    return code.startswith(COMMAND_PREFIX)


def command_refusal(code: str) -> "QRCodeError":
    """The refusal of a command barcode read where a bag code is expected."""
    return QRCodeError(
        QRRefusal.COMMAND_CODE,
        gettext("'%(code)s' is a command barcode, not a bag code. Scan the bag's own label.") % {"code": _shown(code)},
    )


class QRCodeError(ValueError):
    """A code that cannot be a bag code here; ``code`` is stable, ``message`` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ParentFormat:
    """A product's parent code: a fixed prefix followed by exactly ``digits`` digits."""

    product_code: str
    product_name: str
    prefix: str
    digits: int

    @property
    def regex(self) -> str:
        """The whole code, anchored: Python and the pages' JavaScript (RegExp) read it the same way."""
        return f"^{re.escape(self.prefix)}[0-9]{{{self.digits}}}$"

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(self.regex)

    @property
    def example(self) -> str:
        return self.prefix + "12345678901234567890"[: self.digits]


@dataclass(frozen=True)
class ParsedCode:
    qr_id: str
    kind: str
    product_code: str | None = None


def _shown(raw: str) -> str:
    """The code as we echo it back: short enough for a phone screen."""
    # Invisible characters (newline, zero-width space, right-to-left override) would break or reorder
    # the one-line answer, so they show as '?'.
    shown = "".join(char if char.isprintable() else "?" for char in raw)
    return shown if len(shown) <= 24 else shown[:20] + "…"


def normalise(raw: str | None) -> str:
    """Strip surrounding white space and upper-case; refuse what no bag code can be."""
    if raw is None:
        raise QRCodeError(QRRefusal.EMPTY, gettext("No code was read. Scan the label again."))
    code = raw.strip()
    if not code:
        raise QRCodeError(QRRefusal.EMPTY, gettext("No code was read. Scan the label again."))
    if len(code) > MAX_LENGTH:
        raise QRCodeError(
            QRRefusal.TOO_LONG,
            gettext(
                "That code is %(length)s characters long; bag codes have at most %(most)s. "
                "Check that only one label was scanned."
            )
            % {"length": len(code), "most": MAX_LENGTH},
        )
    for char in code:
        if not (char.isascii() and (char.isalnum() or char == "-")):
            raise QRCodeError(
                QRRefusal.BAD_CHARACTERS,
                # Translators: what is a phrase such as "a space inside it" or "the character 'é'".
                gettext("'%(code)s' contains %(what)s, which no bag code has.")
                % {"code": _shown(code), "what": _describe(char)},
            )
    code = code.upper()
    if len(code) < MIN_LENGTH:
        raise QRCodeError(
            QRRefusal.TOO_SHORT,
            gettext("'%(code)s' is too short; bag codes have at least %(least)s characters.")
            % {"code": code, "least": MIN_LENGTH},
        )
    if not ANY_CODE_PATTERN.fullmatch(code):
        raise QRCodeError(
            QRRefusal.BAD_FORMAT,
            gettext("'%(code)s' is not a bag code: it must start with a letter or digit.") % {"code": code},
        )
    if is_command(code):
        raise command_refusal(code)
    return code


def _describe(char: str) -> str:
    if char.isspace():
        return gettext("a space inside it")
    if not char.isprintable():
        name = unicodedata.name(char, "")
        if name:
            return gettext("an invisible character (%(name)s)") % {"name": name.title()}
        return gettext("an invisible control character (code %(number)s)") % {"number": ord(char)}
    if not char.isascii():
        name = unicodedata.name(char, "unknown character")
        return gettext("the character '%(char)s' (%(name)s)") % {"char": char, "name": name.title()}
    return gettext("the character '%(char)s'") % {"char": char}


def classify(raw: str | None, formats: Iterable[ParentFormat]) -> ParsedCode:
    """A parent if it matches a product's parent format, otherwise a child if it fits the child rule."""
    formats = tuple(formats)  # read twice: the parent match, then the near-parent hint
    code = normalise(raw)
    for fmt in formats:
        if fmt.pattern.fullmatch(code):
            return ParsedCode(code, PARENT, fmt.product_code)
    if CHILD_PATTERN.fullmatch(code):
        return ParsedCode(code, CHILD)
    hint = near_parent_hint(code, formats)
    if hint:
        raise QRCodeError(QRRefusal.BAD_PARENT_FORMAT, hint)
    raise QRCodeError(
        QRRefusal.BAD_FORMAT,
        gettext("'%(code)s' is not a bag code: child codes are 4 to 20 letters or digits, with no dashes.")
        % {"code": code},
    )


def parse_parent(raw: str | None, formats: Iterable[ParentFormat]) -> ParsedCode:
    formats = tuple(formats)
    parsed = classify(raw, formats)
    if parsed.kind != PARENT:
        hint = near_parent_hint(parsed.qr_id, formats)
        raise QRCodeError(
            QRRefusal.CHILD_WHERE_PARENT_EXPECTED,
            hint
            or gettext("'%(code)s' is a child bag code. Scan a parent bag (%(examples)s) first.")
            % {"code": parsed.qr_id, "examples": _examples(formats)},
        )
    return parsed


def parse_child(raw: str | None, formats: Iterable[ParentFormat]) -> ParsedCode:
    parsed = classify(raw, formats)
    if parsed.kind != CHILD:
        raise QRCodeError(
            QRRefusal.PARENT_WHERE_CHILD_EXPECTED,
            gettext("'%(code)s' is a parent bag code, not a child. Scan a child bag, or finish this parent first.")
            % {"code": parsed.qr_id},
        )
    return parsed


def near_parent_hint(code: str, formats: Iterable[ParentFormat]) -> str | None:
    """A code with a product's prefix but the wrong digits is almost always a misread parent label (the
    sentence saying so), else None."""
    for fmt in sorted(formats, key=lambda f: -len(f.prefix)):
        if code.startswith(fmt.prefix):
            return gettext(
                "'%(code)s' looks like a %(product)s parent code, but those are %(prefix)s "
                "followed by exactly %(digits)s digits (e.g. %(example)s)."
            ) % {
                "code": code,
                "product": fmt.product_name,
                "prefix": fmt.prefix,
                "digits": fmt.digits,
                "example": fmt.example,
            }
    return None


def _examples(formats: Iterable[ParentFormat]) -> str:
    return gettext(" or ").join(fmt.example for fmt in formats) or gettext("no products are set up")
