"""A sample of the DBD's company register, served over HTTP.

It stands in for the Department of Business Development's system: the demo mounts it in the
portal's process under ``/_sample/dbd``; the tests run it as its own server on loopback. The
portal only ever talks to it over HTTP, exactly as it would to the agency.

- ``GET /companies/<juristic_id>``: the company's record (404 when none);
- ``GET /people/<identifier>/mandates``: the companies that list the person (a national ID, or
  ``<NATIONALITY>:<PASSPORT>``) as director or authorised representative; an empty list when none.
"""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask, abort, jsonify, request

RECORDS_FILE = Path(__file__).with_name("sample_records.json")

#: The record's lists of people, and the role each gives.
PEOPLE_LISTS = (("directors", "director"), ("authorised_representatives", "authorised_representative"))


def person_identifier(entry: dict) -> str:
    """How a listed person is named in URLs: the national ID, else ``<NATIONALITY>:<PASSPORT>``."""
    return entry.get("pid") or f"{entry.get('nationality')}:{entry.get('passport_number')}"


def create_registry_app(*, token: str | None = None, records_file: Path = RECORDS_FILE) -> Flask:
    """The sample registry; when ``token`` is set, requests must carry it as a bearer token."""
    app = Flask(__name__)
    companies = json.loads(records_file.read_text(encoding="utf-8"))

    @app.before_request
    def _check_token():
        if token and request.headers.get("Authorization") != f"Bearer {token}":
            abort(401)

    @app.get("/companies/<juristic_id>")
    def company_record(juristic_id: str):
        record = companies.get(juristic_id)
        if record is None:
            return jsonify(error="not_found", detail="no company registered under this number"), 404
        return jsonify(juristic_id=juristic_id, **record)

    @app.get("/people/<identifier>/mandates")
    def mandates(identifier: str):
        wanted = identifier.strip().upper()
        found = [
            {
                "juristic_id": juristic_id,
                "name_th": record["name_th"],
                "name_en": record["name_en"],
                "role": role,
            }
            for juristic_id, record in companies.items()
            for key, role in PEOPLE_LISTS
            for entry in record.get(key, [])
            if person_identifier(entry).upper() == wanted
        ]
        return jsonify(mandates=found)

    @app.get("/health")
    def health():
        return jsonify(status="ok", records=len(companies))

    return app
