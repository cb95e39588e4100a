"""One error hierarchy, and the one place that turns errors into pages or JSON problems."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
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
    429: _l("You have made many requests in a short time. Please wait a minute and try again."),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or (request.accept_mimetypes.best == "application/json")


def render_problem(status: int, title: str, message: str | None, type_: str):
    """A JSON problem (RFC 9457) for API clients, an HTML page for people."""
    if _wants_json():
        body = {"type": type_, "title": str(title), "status": status}
        if message:
            body["detail"] = str(message)
        response = jsonify(body)
        response.status_code = status
        response.mimetype = "application/problem+json"
        return response
    return render_template("errors/error.html", status=status, title=title, message=message), status


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
        return render_problem(status, title, _HTTP_MESSAGES.get(status), f"http-{status}")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_problem(
            500,
            _l("Sorry, something went wrong on our side"),
            _l("Nothing you did caused this. Please try again in a few minutes."),
            "internal",
        )
