"""Logging: a request id for every web request, carried into background jobs.

Production writes one JSON object per line (``time``, ``level``, ``logger``, ``message``,
``request_id``, plus the fields a line adds: the access line has ``method``, ``route``, ``status``,
``duration_ms``; a failure has ``exception``). Development keeps readable text.

What is never logged: raw paths (a verification code is in ``/v/<code>``; the login callback's query
carries an authorization code), query strings, national IDs, names, tokens. The access line names the
route pattern (``/v/<code>``), not the address that was asked for.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator

from flask import Flask, Request, Response, g, request
from pythonjsonlogger.json import JsonFormatter

from portal import metrics

__all__ = [
    "REQUEST_ID_HEADER",
    "bind_request_id",
    "configure_logging",
    "current_request_id",
    "init_request_logging",
    "request_route",
]

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("tra_request_id", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
#: A caller's request id is kept only if it looks like one (a proxy's UUID, a short token).
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9-]{8,64}")
#: Polled by load balancers and Prometheus every few seconds: logged at DEBUG only.
_QUIET_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "health.metrics"})

access_log = logging.getLogger("tra.access")


def current_request_id() -> str | None:
    """The id of the web request (or job) being handled, if any."""
    return request_id_var.get()


@contextlib.contextmanager
def bind_request_id(value: str | None) -> Iterator[None]:
    """Log lines inside this block carry ``value`` as their request id (jobs use the enqueuer's)."""
    token = request_id_var.set(value)
    try:
        yield
    finally:
        request_id_var.reset(token)


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (``None`` outside a request or job)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


def json_formatter() -> logging.Formatter:
    """One JSON object per line; also used for gunicorn's own log (gunicorn.conf.py)."""
    return JsonFormatter(
        ["levelname", "name", "message", "request_id"],
        rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception"},
        timestamp="time",
    )


_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


def configure_logging(*, json_lines: bool, level: int = logging.INFO) -> None:
    """Install the portal's handler on the root logger (replacing an earlier one of ours, so
    building several apps in one process does not duplicate lines)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_tra_handler", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._tra_handler = True  # type: ignore[attr-defined]
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(json_formatter() if json_lines else logging.Formatter(_TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries that narrate every step at INFO; their warnings still show.
    for name in ("weasyprint", "fontTools", "alembic.runtime.plugins"):
        logging.getLogger(name).setLevel(logging.WARNING)


def request_route(current: Request | None = None) -> str:
    """The matched route pattern (bounded: never the raw path), or ``unmatched``."""
    rule = (current or request).url_rule
    return rule.rule if rule is not None else "unmatched"


def _incoming_request_id() -> str:
    supplied = request.headers.get(REQUEST_ID_HEADER, "")
    if _REQUEST_ID_RE.fullmatch(supplied):
        return supplied
    return uuid.uuid4().hex


def init_request_logging(app: Flask) -> None:
    """Give every request an id (echoed in ``X-Request-ID``), time it, and write the access line.

    The id is bound first of all ``before_request`` hooks, so a request refused early (rate limit,
    login redirect) still has one. Metrics observe the same timing (``portal.metrics``).
    """

    def _start() -> None:
        g.request_started = time.perf_counter()
        g.request_id = _incoming_request_id()
        g.request_id_token = request_id_var.set(g.request_id)

    app.before_request_funcs.setdefault(None, []).insert(0, _start)

    @app.after_request
    def _finish(response: Response) -> Response:
        found = g._get_current_object().__dict__  # read once: each ``g.get`` is a context-local lookup
        request_id = found.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        started = found.get("request_started")
        if started is not None:
            seconds = time.perf_counter() - started
            current = request._get_current_object()
            route = request_route(current)
            status = response.status_code
            metrics.observe_request(route, current.method, status, seconds)
            level = logging.DEBUG if current.endpoint in _QUIET_ENDPOINTS else logging.INFO
            if access_log.isEnabledFor(level):  # the line's fields only for a line that is written
                access_log.log(
                    level,
                    "%s %s %s",
                    current.method,
                    route,
                    status,
                    extra={
                        "method": current.method,
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 1),
                    },
                )
        return response

    @app.teardown_request
    def _unbind(_exc: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            with contextlib.suppress(ValueError):
                request_id_var.reset(token)
