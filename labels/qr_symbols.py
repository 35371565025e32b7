"""The QR symbol of a code, from segno (the one QR encoder of the project), as rows of dark runs: the PDF
draws each run as one rectangle, and the page's preview shows segno's SVG."""

import segno

# "m" recovers 15% of a scratched or creased symbol; segno raises it to the highest level that fits the
# same symbol size (boost_error), so short codes get "h" at no cost in size.
ERROR_LEVEL = "m"
# Modules of white kept round the symbol inside its square (the label's padding adds the rest).
QUIET_MODULES = 1


def symbol(code: str) -> segno.QRCode:
    # A full QR code, never a Micro QR: many handheld scanners do not read Micro QR.
    return segno.make_qr(code, error=ERROR_LEVEL, boost_error=True)


def dark_runs(code: str) -> tuple[int, list[tuple[int, int, int]]]:
    """The symbol's size in modules (quiet zone included) and its dark runs as (row, first column, length),
    rows counted from the top."""
    matrix = symbol(code).matrix
    runs = []
    for row, line in enumerate(matrix):
        start = None
        for column, dark in enumerate(line):
            if dark and start is None:
                start = column
            elif not dark and start is not None:
                runs.append((row + QUIET_MODULES, start + QUIET_MODULES, column - start))
                start = None
        if start is not None:
            runs.append((row + QUIET_MODULES, start + QUIET_MODULES, len(line) - start))
    return len(matrix) + 2 * QUIET_MODULES, runs


def svg_data_uri(code: str, *, scale: int = 4) -> str:
    """The symbol as an SVG data: URI for an <img> (the CSP allows data: images), for the page's previews."""
    return symbol(code).svg_data_uri(scale=scale, border=QUIET_MODULES + 1)
