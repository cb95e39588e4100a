"""A sample of the DOPA's civil registration database (houses and their registered residents),
served over HTTP.

It stands in for the agency's real system: the demo mounts it in the portal's process under
``/_sample/dopa``; the tests run it as its own server on loopback. The portal only ever talks
to it over HTTP, exactly as it would to the agency. Like the real register it answers with the
whole house page: deciding what a requester may see of the other residents is the issuer's job.
"""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask, abort, jsonify, request

RECORDS_FILE = Path(__file__).with_name("sample_records.json")


def create_registry_app(*, token: str | None = None, records_file: Path = RECORDS_FILE) -> Flask:
    """The sample registry; when ``token`` is set, requests must carry it as a bearer token."""
    app = Flask(__name__)
    houses = json.loads(records_file.read_text(encoding="utf-8"))["houses"]
    # A person is registered in one house at a time (the register's rule), so an index by
    # resident is enough.
    by_resident = {member["pid"]: house for house in houses for member in house["members"]}

    @app.before_request
    def _check_token():
        if token and request.headers.get("Authorization") != f"Bearer {token}":
            abort(401)

    @app.get("/houses/by-resident/<pid>")
    def house_of_resident(pid: str):
        house = by_resident.get(pid)
        if house is None:
            return jsonify(error="not_found", detail="this person is registered in no house"), 404
        return jsonify(house)

    @app.get("/health")
    def health():
        return jsonify(status="ok", houses=len(houses), residents=len(by_resident))

    return app
