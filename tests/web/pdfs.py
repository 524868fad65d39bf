"""Reading a rendered PDF back in tests: its text (pypdf) and a page as PNG (pypdfium2).

Test-only: pypdf and pypdfium2 are in the dev extra, not in what a clinic installs. The PNG is
for looking at a receipt by eye (write it to a file) and for checks on what a page shows.
"""

from __future__ import annotations

import io

import pypdf
import pypdfium2


def pdf_text(pdf_bytes: bytes) -> str:
    """The text of every page, in page order, as pypdf extracts it."""
    reader = pypdf.PdfReader(io.BytesIO(pdf_bytes))
    return "\n".join(page.extract_text() for page in reader.pages)


def pdf_page_count(pdf_bytes: bytes) -> int:
    return len(pypdf.PdfReader(io.BytesIO(pdf_bytes)).pages)


def pdf_page_png(pdf_bytes: bytes, page: int = 0, scale: float = 2.0) -> bytes:
    """Page ``page`` (from 0) as PNG; ``scale`` 1 is 72 dpi, 2 is 144 dpi."""
    document = pypdfium2.PdfDocument(pdf_bytes)
    try:
        bitmap = document[page].render(scale=scale)
        out = io.BytesIO()
        bitmap.to_pil().save(out, format="PNG")
        return out.getvalue()
    finally:
        document.close()
