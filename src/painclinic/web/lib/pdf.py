"""PDF documents (receipts) from HTML, rendered with WeasyPrint, without touching the network.

A receipt carries a patient's name and money; rendering it must never make a request that
could leak it or hang on a slow host. WeasyPrint's own fetcher follows any ``http(s)://`` URL
in the HTML or CSS, so every render here goes through ``StaticOnlyFetcher``: ``data:`` URLs and
``file://`` URLs of files inside the project's static folder, nothing else. A refused resource
is left out (WeasyPrint logs a warning and renders the rest); the PDF is still produced.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit

from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

STATIC_DIR = (Path(__file__).resolve().parent.parent / "static").resolve()


class ResourceRefused(ValueError):
    """A URL that a PDF may not load: a network URL, or a file outside the static folder."""


class StaticOnlyFetcher(URLFetcher):
    """Loads ``data:`` URLs and static files; refuses everything else and remembers what."""

    def __init__(self, static_dir: Path = STATIC_DIR) -> None:
        super().__init__(allowed_protocols={"data", "file"}, allow_redirects=False)
        self.static_dir = static_dir.resolve()
        self.refused: list[str] = []

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme == "file" and parts.netloc in ("", "localhost"):
            # Resolved first, so ``..`` and symbolic links cannot step out of the folder.
            path = Path(unquote(parts.path)).resolve()
            if path.is_relative_to(self.static_dir) and path.is_file():
                content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(
                    path.as_uri(), path.read_bytes(), {"Content-Type": content_type}
                )
        self.refused.append(url)
        raise ResourceRefused(f"a PDF loads only data: URLs and static files, not {url}")


def render_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """The PDF of ``html``; images and stylesheets come only from data: URLs or static files.

    ``base_url`` resolves relative URLs (e.g. ``STATIC_DIR.as_uri() + "/"``); without it a
    relative URL cannot be loaded at all.
    """
    document = HTML(string=html, base_url=base_url, url_fetcher=StaticOnlyFetcher())
    pdf = document.write_pdf()
    assert pdf is not None  # write_pdf() without a target returns the bytes
    return pdf
