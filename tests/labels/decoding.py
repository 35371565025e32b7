"""Reading rendered labels back as a scanner would: PDF pages rasterised by PDFium (pypdfium2) and every QR
symbol on them decoded by zxing-cpp, so a test compares what prints with the codes asked for."""

import pypdfium2
import zxingcpp

# A cheap thermal printer's resolution: what a label really gets printed at.
DPI = 203


def decoded_pages(pdf: bytes, *, dpi: int = DPI) -> list[list[str]]:
    """Each page's QR codes, read top to bottom and left to right."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        pages = []
        for page in document:
            image = page.render(scale=dpi / 72, grayscale=True).to_pil()
            found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
            # Rows first, by where the symbol sits (rows of one sheet are more than 20 px apart).
            found.sort(key=lambda result: (round(result.position.top_left.y / 20), result.position.top_left.x))
            pages.append([result.text for result in found])
            page.close()
        return pages
    finally:
        document.close()
