"""One way for tests to serve something over real HTTP on loopback.

Sample registries, the portal itself, fake relying parties, the test PKI's OCSP/TSA/CRL services:
every test server is a WSGI app behind werkzeug's threaded server on 127.0.0.1, in a daemon
thread. :class:`LoopbackServer` is that, once; the ``serve`` fixture (tests/conftest.py) starts
as many as a test needs and stops them after it.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

__all__ = ["LoopbackServer", "free_port"]

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


def free_port() -> int:
    """A loopback port nothing listens on now (connections to it are refused until one binds)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _QuietHandler(WSGIRequestHandler):
    """No access-log line per request (for servers asked hundreds of times, such as OCSP)."""

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass


class LoopbackServer:
    """``wsgi_app`` served on ``127.0.0.1:port`` (a free port when 0) in a daemon thread.

    The port is bound at once; without an app yet, call :meth:`start` with one, for an app that
    must know its own URL before it exists (an OpenID Provider, a PKI naming its services).
    """

    def __init__(
        self,
        wsgi_app: WsgiApp | None = None,
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        quiet: bool = False,
        name: str | None = None,
    ) -> None:
        self.app = wsgi_app
        self._server = make_server(
            "127.0.0.1",
            port,
            self._dispatch,
            threaded=True,
            ssl_context=ssl_context,
            request_handler=_QuietHandler if quiet else None,
        )
        self.port: int = self._server.server_port
        self.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=name, daemon=True
        )
        if wsgi_app is not None:
            self.start()

    def _dispatch(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        assert self.app is not None
        return self.app(environ, start_response)

    def start(self, wsgi_app: WsgiApp | None = None) -> LoopbackServer:
        """Serve (``wsgi_app``, or the one given at construction) from now on."""
        if wsgi_app is not None:
            self.app = wsgi_app
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and free the port (a later server may bind it again)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
