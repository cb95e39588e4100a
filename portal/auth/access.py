"""Who may reach a blueprint, declared once per blueprint (a test checks every route has it)."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from flask import Blueprint, redirect, request, session, url_for
from flask_login import current_user

PUBLIC = "public"
LOGIN = "login"


def public(bp: Blueprint) -> Blueprint:
    """Anyone may use these pages, logged in or not."""
    bp.access = PUBLIC
    return bp


def login_required(bp: Blueprint) -> Blueprint:
    """Every page of ``bp`` needs a logged-in person; others are sent to log in first."""
    bp.access = LOGIN

    @bp.before_request
    def _require_login():
        if not current_user.is_authenticated:
            session["next"] = safe_next(this_page() if request.method == "GET" else None)
            return redirect(url_for("auth.login"))
        return None

    return bp


#: Longest ``next`` kept; a real page's path and query is far shorter.
MAX_NEXT_LENGTH = 2048

#: Characters a path keeps as they are when the page's own address is re-encoded (RFC 3986 pchar and "/").
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def safe_next(target: str | None) -> str | None:
    """``target`` as a same-site path to redirect to, or None when it is anything else.

    Same-site by construction: the value must be printable ASCII with no backslash (a browser
    reads ``\\`` as ``/``, and a tab or newline inside ``/<TAB>/evil.example`` is dropped, leaving
    ``//evil.example``; a newline in a ``Location`` header is a 500), must parse with no scheme and
    no host, and its path must start with exactly one ``/``. What is returned is re-built from
    the parsed path, query and fragment, so nothing the parser skipped can reach the header.
    """
    if not target or len(target) > MAX_NEXT_LENGTH:
        return None
    if any(not ("!" <= ch <= "~") for ch in target) or "\\" in target:
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None  # "///host" parses as an empty host and a path: never let it that far
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    rebuilt = urlunsplit(("", "", parts.path, parts.query, parts.fragment))
    if not rebuilt.startswith("/") or rebuilt.startswith("//"):
        return None
    return rebuilt


def this_page() -> str:
    """This request's path and query, percent-encoded, to come back to (``safe_next`` checks it)."""
    path = quote(request.path, safe=_PATH_SAFE)
    query = request.query_string.decode("latin-1")
    return f"{path}?{query}" if query else path
