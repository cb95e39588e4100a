"""Flask's signed-cookie session, with its signing serializer built once per key instead of per request."""

from __future__ import annotations

import threading

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

__all__ = ["SessionInterface"]


class SessionInterface(SecureCookieSessionInterface):
    """Flask's own cookie session (same cookie, salt, keys and checks), except that the
    serializer is kept while the secret key and its fallbacks stay the same.

    Flask builds a new ``URLSafeTimedSerializer`` each time a request opens or saves its
    session, even a request without a cookie: about a tenth of the portal's own per-request CPU
    on ``/healthz``. A serializer holds nothing per request, so one per key serves every thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached: tuple[tuple, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        cached = self._cached
        if cached is not None and cached[0] == keys:
            return cached[1]
        serializer = super().get_signing_serializer(app)
        with self._lock:
            self._cached = (keys, serializer)
        return serializer
