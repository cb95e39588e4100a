"""The JSON verification API (``/api/v1``); errors come back as JSON problems."""

from __future__ import annotations

from flask import Blueprint, jsonify

from portal.auth.access import public
from portal.extensions import csrf, rate_limited
from portal.views.verify import check_counted, lookup_counted, read_upload

bp = public(Blueprint("api", __name__, url_prefix="/api/v1"))
csrf.exempt(bp)


@bp.get("/verify/<code>")
@rate_limited("RATELIMIT_VERIFY")
def verify_code(code: str):
    return jsonify(lookup_counted("api_code", code).as_json())


@bp.post("/verify")
@rate_limited("RATELIMIT_VERIFY")
def verify_file():
    return jsonify(check_counted("api_file", read_upload()).as_json())
