"""A sample of the DLT's licence and vehicle registries, served over HTTP.

It stands in for the agency's real system: the demo mounts it in the portal's process
under ``/_sample/dlt``; the tests run it as its own server on loopback. The portal only
ever talks to it over HTTP, exactly as it would to the agency.
"""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask, abort, jsonify, request

RECORDS_FILE = Path(__file__).with_name("sample_records.json")
#: Vehicles by registered owner (a citizen's ID or a company's juristic ID).
VEHICLES_FILE = Path(__file__).with_name("sample_vehicles.json")


def create_registry_app(
    *, token: str | None = None, records_file: Path = RECORDS_FILE, vehicles_file: Path = VEHICLES_FILE
) -> Flask:
    """The sample registry; when ``token`` is set, requests must carry it as a bearer token."""
    app = Flask(__name__)
    records = json.loads(records_file.read_text(encoding="utf-8"))
    vehicles = json.loads(vehicles_file.read_text(encoding="utf-8"))

    @app.before_request
    def _check_token():
        if token and request.headers.get("Authorization") != f"Bearer {token}":
            abort(401)

    @app.get("/licences/<pid>")
    def licence_record(pid: str):
        record = records.get(pid)
        if record is None:
            return jsonify(error="not_found", detail="no licence record for this person"), 404
        return jsonify(pid=pid, **record)

    @app.get("/vehicles/by-owner/<owner_id>")
    def vehicles_of_owner(owner_id: str):
        record = vehicles.get(owner_id)
        if record is None:
            return jsonify(error="not_found", detail="no vehicle is registered to this owner"), 404
        return jsonify(
            record_id=record["record_id"],
            owner={"id": owner_id, **record["owner"]},
            vehicles=record["vehicles"],
        )

    @app.get("/health")
    def health():
        return jsonify(status="ok", records=len(records), vehicle_owners=len(vehicles))

    return app
