"""A sample of the DLT's licence registry, served over HTTP.

It stands in for the agency's real system: the demo mounts it in the portal's process
under ``/_sample/dlt``; the tests run it as its own server on loopback. The portal only
ever talks to it over HTTP, exactly as it would to the agency.
"""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask, abort, jsonify, request

RECORDS_FILE = Path(__file__).with_name("sample_records.json")


def create_registry_app(*, token: str | None = None, records_file: Path = RECORDS_FILE) -> Flask:
    """The sample registry; when ``token`` is set, requests must carry it as a bearer token."""
    app = Flask(__name__)
    records = json.loads(records_file.read_text(encoding="utf-8"))

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

    @app.get("/health")
    def health():
        return jsonify(status="ok", records=len(records))

    return app
