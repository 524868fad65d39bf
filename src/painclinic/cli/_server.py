"""Django's development server without its version banner in every response.

``runserver`` answers with ``Server: WSGIServer/0.2 CPython/3.x.y``, which tells anyone on
the clinic network which Python to look up vulnerabilities for. Here the header is
``painclinic``, on the application's responses (wsgiref's ``ServerHandler``) and on the
server's own error pages (``http.server``'s ``send_error``: a malformed request line, a URI
too long). ``painclinic serve`` runs ``runserver`` with :class:`QuietWSGIServer`.
"""

from __future__ import annotations

from typing import Any

from django.core.servers import basehttp

SERVER_NAME = "painclinic"


class QuietServerHandler(basehttp.ServerHandler):
    server_software = SERVER_NAME


class QuietRequestHandler(basehttp.WSGIRequestHandler):
    server_version = SERVER_NAME
    sys_version = ""

    def version_string(self) -> str:
        return SERVER_NAME

    def handle_one_request(self) -> None:
        # Django's own handle_one_request with QuietServerHandler in place of ServerHandler.
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = ""
            self.request_version = ""
            self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = QuietServerHandler(self.rfile, self.wfile, self.get_stderr(), self.get_environ())
        handler.request_handler = self  # type: ignore[attr-defined]  # as Django does
        handler.run(self.server.get_app())  # type: ignore[attr-defined]


class QuietWSGIServer(basehttp.WSGIServer):
    """Django's server class with :class:`QuietRequestHandler` for every request."""

    def __init__(self, server_address: Any, handler_class: Any, *args: Any, **kwargs: Any):
        super().__init__(server_address, QuietRequestHandler, *args, **kwargs)
