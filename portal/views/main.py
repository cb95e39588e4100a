"""Public pages: start page, catalogue, document pages, language switch."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from portal.auth.access import public, safe_next
from portal.i18n import LANG_COOKIE
from portal.services import catalogue, mandates

bp = public(Blueprint("main", __name__))


@bp.get("/")
def index():
    if current_user.is_authenticated:
        # What the person may request for whoever they act for now.
        entries = catalogue.entries_for(mandates.acting_context(current_user))
    else:
        entries = catalogue.entries()
    return render_template("main/index.html", entries=entries)


@bp.get("/documents/<issuer_id>/<type_id>")
def document(issuer_id: str, type_id: str):
    return render_template("main/document.html", entry=catalogue.entry(issuer_id, type_id))


@bp.get("/lang/<code>")
def switch_language(code: str):
    target = safe_next(request.args.get("next")) or url_for("main.index")
    response = redirect(target)
    if code in ("th", "en"):
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response
