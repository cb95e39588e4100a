"""One error hierarchy, and the one place that turns errors into pages or JSON problems."""

from __future__ import annotations

import logging
import time

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class PortalError(Exception):
    """An error with a plain message for the person and an HTTP status."""

    status = 400
    title = _l("Something is wrong with the request")
    #: Short machine-readable type for JSON problems.
    type = "bad-request"

    def __init__(self, message: str | None = None, *, title: str | None = None) -> None:
        super().__init__(message or "")
        self.message = message
        if title is not None:
            self.title = title


class BadInput(PortalError):
    status = 400
    title = _l("Something is wrong with the request")
    type = "bad-input"


class NotLoggedIn(PortalError):
    status = 401
    title = _l("Please log in")
    type = "not-logged-in"


class Forbidden(PortalError):
    status = 403
    title = _l("You cannot see this page")
    type = "forbidden"


class NotFound(PortalError):
    status = 404
    title = _l("Page not found")
    type = "not-found"


class TooLarge(PortalError):
    status = 413
    title = _l("The file is too large")
    type = "too-large"


class ServiceUnavailable(PortalError):
    status = 503
    title = _l("This service is temporarily unavailable")
    type = "unavailable"


_HTTP_TITLES = {
    400: _l("Something is wrong with the request"),
    403: _l("You cannot see this page"),
    404: _l("Page not found"),
    405: _l("This address does not accept that kind of request"),
    413: _l("The file is too large"),
    429: _l("Too many requests"),
}

_HTTP_MESSAGES = {
    404: _l("Check the address. If you followed a link from a document, the link may be mistyped."),
    413: _l("Files up to 10 MB can be checked. A Tra certificate is much smaller than that."),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or (request.accept_mimetypes.best == "application/json")


def render_problem(status: int, title: str, message: str | None, type_: str, *, plain: bool = False):
    """A JSON problem (RFC 9457) for API clients, an HTML page for people.

    ``plain`` pages use a layout that touches nothing but the request (no logged-in person, so
    no database): for when the database is what failed. A page that fails to render falls
    back to the plain layout rather than ending in a bare 500.
    """
    if _wants_json():
        body = {"type": type_, "title": str(title), "status": status}
        if message:
            body["detail"] = str(message)
        response = jsonify(body)
        response.status_code = status
        response.mimetype = "application/problem+json"
        return response
    context = {"status": status, "title": title, "message": message}
    if not plain:
        try:
            return render_template("errors/error.html", **context), status
        except Exception:
            log.warning("error page for %s could not be rendered; plain page instead", status, exc_info=True)
            _rollback_quietly()
    return _render_plain(context), status


def _render_plain(context: dict) -> str:
    """The plain page, rendered without the app's context processors: Flask-Login's loads the
    logged-in person (a database query) for every template, and others may add more."""
    from portal.auth.access import safe_next, this_page
    from portal.i18n import current_language

    template = current_app.jinja_env.get_template("errors/plain.html")
    here = safe_next(this_page()) or "/"
    return template.render(lang=current_language(), here=here, **context)


def _rollback_quietly() -> None:
    from portal.extensions import db

    try:
        db.session.rollback()
    except Exception:
        log.debug("rollback after a database failure failed too", exc_info=True)


def _database_unreachable(exc: Exception) -> bool:
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeout)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


#: What a person is told to wait before trying again when the database is away (seconds).
UNAVAILABLE_RETRY_AFTER = 30


def _retry_after_seconds() -> int:
    """Seconds until the breached rate limit resets (at least 1)."""
    limiter = current_app.extensions.get("tra.limiter")
    limit = limiter.current_limit if limiter is not None else None
    if limit is None:
        return 60
    return max(1, int(limit.reset_at - time.time()))  # as Flask-Limiter computes Retry-After


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(PortalError)
    def _portal_error(exc: PortalError):
        return render_problem(exc.status, exc.title, exc.message, exc.type)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        return render_problem(
            400,
            _l("This form has expired"),
            _l("Please go back, reload the page and try again."),
            "csrf",
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        title = _HTTP_TITLES.get(status, exc.name)
        if status == 429:
            return _too_many_requests()
        return render_problem(status, title, _HTTP_MESSAGES.get(status), f"http-{status}")

    def _too_many_requests():
        seconds = _retry_after_seconds()
        message = _(
            "You have made many requests in a short time. Please wait %(seconds)s seconds and try again.",
            seconds=seconds,
        )
        response = current_app.make_response(render_problem(429, _HTTP_TITLES[429], message, "rate-limited"))
        response.headers["Retry-After"] = str(seconds)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if _database_unreachable(exc):
            log.warning("database unreachable on %s: %s", request.endpoint, type(exc).__name__)
            _rollback_quietly()
            response = current_app.make_response(
                render_problem(
                    503,
                    ServiceUnavailable.title,
                    _l("We cannot reach our records right now. Please try again in a few minutes."),
                    "unavailable",
                    plain=True,
                )
            )
            response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
            return response
        # The route pattern, not the path: a path may carry a verification code.
        log.exception("unhandled error on %s %s", request.method, request.endpoint)
        return render_problem(
            500,
            _l("Sorry, something went wrong on our side"),
            _l("Nothing you did caused this. Please try again in a few minutes."),
            "internal",
        )
