"""A sample of the BOI's register of promoted companies, served over HTTP.

It stands in for the Office of the Board of Investment's system: the demo mounts it in the
portal's process under ``/_sample/boi``; the tests run it as its own server on loopback. The
portal only ever talks to it over HTTP, exactly as it would to the agency.

- ``GET /promotions/<juristic_id>``: the company's investment-promotion record (404 when the
  company is not promoted);
- ``GET /people/<identifier>/companies``: the promoted companies that list the person (a national
  ID, or ``<NATIONALITY>:<PASSPORT>``) as an authorised representative; an empty list when none.
"""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask, abort, jsonify, request

RECORDS_FILE = Path(__file__).with_name("sample_records.json")


def person_identifier(entry: dict) -> str:
    """How a listed person is named in URLs: the national ID, else ``<NATIONALITY>:<PASSPORT>``."""
    return entry.get("pid") or f"{entry.get('nationality')}:{entry.get('passport_number')}"


def create_registry_app(*, token: str | None = None, records_file: Path = RECORDS_FILE) -> Flask:
    """The sample registry; when ``token`` is set, requests must carry it as a bearer token."""
    app = Flask(__name__)
    promotions = json.loads(records_file.read_text(encoding="utf-8"))

    @app.before_request
    def _check_token():
        if token and request.headers.get("Authorization") != f"Bearer {token}":
            abort(401)

    @app.get("/promotions/<juristic_id>")
    def promotion_record(juristic_id: str):
        record = promotions.get(juristic_id)
        if record is None:
            return jsonify(error="not_found", detail="no promoted company under this number"), 404
        return jsonify(juristic_id=juristic_id, **record)

    @app.get("/people/<identifier>/companies")
    def companies(identifier: str):
        wanted = identifier.strip().upper()
        found = [
            {
                "juristic_id": juristic_id,
                "name_th": record["name_th"],
                "name_en": record["name_en"],
                "role": "authorised_representative",
            }
            for juristic_id, record in promotions.items()
            if any(person_identifier(entry).upper() == wanted for entry in record.get("representatives", []))
        ]
        return jsonify(companies=found)

    @app.get("/health")
    def health():
        return jsonify(status="ok", records=len(promotions))

    return app
