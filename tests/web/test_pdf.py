"""PDFs render from HTML, read back as text, and never reach the network for a resource."""

from __future__ import annotations

import base64
import io
import logging
import socket

import pytest
from PIL import Image

from painclinic.web.lib.pdf import STATIC_DIR, ResourceRefused, StaticOnlyFetcher, render_pdf

from .pdfs import pdf_page_count, pdf_page_png, pdf_text


def png_square(colour: str = "black") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), colour).save(out, format="PNG")
    return out.getvalue()


BLACK_PNG = png_square()


@pytest.fixture
def no_network(monkeypatch):
    """Any name look-up or connection fails the test run loudly and is recorded."""
    attempts: list[object] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network use during a PDF render")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


def test_rendered_text_reads_back_from_a_valid_pdf():
    pdf = render_pdf("<h1>Receipt 2026-11-26</h1><p>Ketamine infusion: 125.00</p>")

    assert pdf.startswith(b"%PDF-")
    assert pdf_page_count(pdf) == 1
    text = pdf_text(pdf)
    assert "Receipt 2026-11-26" in text
    assert "Ketamine infusion: 125.00" in text


def test_network_image_is_refused_without_any_network_use(no_network, caplog):
    url = "http://example.com/x.png"
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = render_pdf(f'<p>Paid in full</p><img src="{url}">')

    assert no_network == []
    assert "Paid in full" in pdf_text(pdf)
    assert any(
        url in r.getMessage() and "ResourceRefused" in r.getMessage() for r in caplog.records
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/x.png",
        "https://example.com/receipt.css",
        "ftp://example.com/x.png",
        "file://example.com/etc/hostname",
        "file:///etc/hostname",
        (STATIC_DIR / "painclinic" / ".." / ".." / "settings.py").as_uri(),
    ],
)
def test_fetcher_refuses_network_and_files_outside_static(no_network, url):
    fetcher = StaticOnlyFetcher()
    with pytest.raises(ResourceRefused):
        fetcher.fetch(url)
    assert fetcher.refused == [url]
    assert no_network == []


def test_fetcher_loads_static_files_and_data_urls():
    fetcher = StaticOnlyFetcher()

    css = fetcher.fetch((STATIC_DIR / "painclinic" / "app.css").as_uri())
    assert css.content_type == "text/css"
    assert css.read() == (STATIC_DIR / "painclinic" / "app.css").read_bytes()

    data = fetcher.fetch("data:image/png;base64," + base64.b64encode(BLACK_PNG).decode())
    assert data.read() == BLACK_PNG
    assert fetcher.refused == []


def dark_pixels(png: bytes) -> int:
    with Image.open(io.BytesIO(png)) as page:
        return sum(page.convert("L").histogram()[:64])


def test_static_stylesheet_and_data_image_are_used_in_the_pdf(caplog):
    """A relative URL resolves against the static folder; a data: image is drawn on the page."""
    image = "data:image/png;base64," + base64.b64encode(BLACK_PNG).decode()
    page = (
        '<link rel="stylesheet" href="painclinic/app.css">'
        '<p>Receipt</p><img src="{}" style="width: 5cm; height: 5cm">'
    )
    base_url = STATIC_DIR.as_uri() + "/"
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        drawn = pdf_page_png(render_pdf(page.format(image), base_url=base_url), scale=0.5)
    assert not [r for r in caplog.records if "Failed to load" in r.getMessage()]
    refused = pdf_page_png(render_pdf(page.format("http://example.com/x.png")), scale=0.5)

    # A 5 cm black square at 36 dpi is about 70 x 70 dark pixels; the text is a few hundred.
    assert dark_pixels(drawn) - dark_pixels(refused) > 4000
