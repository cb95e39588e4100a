"""The JSON verification API (``/api/v1``); errors come back as JSON problems."""

from __future__ import annotations

from flask import Blueprint, jsonify

from portal.auth.access import public
from portal.extensions import csrf, limiter
from portal.services import verification
from portal.views.verify import _verify_limit, read_upload

bp = public(Blueprint("api", __name__, url_prefix="/api/v1"))
csrf.exempt(bp)


@bp.get("/verify/<code>")
@limiter.limit(_verify_limit)
def verify_code(code: str):
    return jsonify(verification.lookup_code(code).as_json())


@bp.post("/verify")
@limiter.limit(_verify_limit)
def verify_file():
    return jsonify(verification.check_file(read_upload()).as_json())
