"""Reading rendered labels back as a scanner would: PDF pages rasterised by PDFium (pypdfium2) and every QR
symbol on them decoded by zxing-cpp, so a test compares what prints with the codes asked for."""

import pypdfium2
import zxingcpp

# A cheap thermal printer's resolution: what a label really gets printed at.
DPI = 203
# Symbols whose tops are closer than this (pixels) stand in one row of a sheet; rows are further apart.
SAME_ROW = 40


def decoded_pages(pdf: bytes, *, dpi: int = DPI) -> list[list[str]]:
    """Each page's QR codes, read top to bottom and left to right."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        pages = []
        for page in document:
            image = page.render(scale=dpi / 72, grayscale=True).to_pil()
            found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
            pages.append([result.text for result in reading_order(found)])
            page.close()
        return pages
    finally:
        document.close()


def reading_order(found: list) -> list:
    """Top to bottom, then left to right within a row: a row is the symbols whose tops lie within SAME_ROW
    of its first one (a symbol's corner found a pixel higher must not jump ahead of its row)."""
    rows: list[list] = []
    for result in sorted(found, key=lambda result: result.position.top_left.y):
        if rows and result.position.top_left.y - rows[-1][0].position.top_left.y < SAME_ROW:
            rows[-1].append(result)
        else:
            rows.append([result])
    return [result for row in rows for result in sorted(row, key=lambda result: result.position.top_left.x)]
