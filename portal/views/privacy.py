"""The "Who read my data" page: a logged-in person's own access log (never anyone else's)."""

from __future__ import annotations

from flask import Blueprint, make_response, render_template, request
from flask_login import current_user

from portal.auth.access import login_required
from portal.services import access_log

bp = login_required(Blueprint("privacy", __name__))


@bp.get("/me/reads")
def reads():
    log = access_log.reads_for(
        current_user,
        page=access_log.parse_page(request.args.get("page")),
        agency=request.args.get("agency") or None,
        kind=request.args.get("kind") or None,
    )
    response = make_response(render_template("privacy/reads.html", log=log))
    # Personal data: not to be kept by the browser or anything in between.
    response.headers["Cache-Control"] = "private, no-store"
    return response
