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

from pathlib import Path

from flask import Flask

from issuers.sample import add_companies_of_person, add_lookup, read_json, sample_registry_app

RECORDS_FILE = Path(__file__).with_name("sample_records.json")


def create_registry_app(*, token: str | None = None, records_file: Path = RECORDS_FILE) -> Flask:
    """The sample registry; when ``token`` is set, requests must carry it as a bearer token."""
    promotions = read_json(records_file)
    app = sample_registry_app(__name__, token=token, health=lambda: {"records": len(promotions)})
    add_lookup(app, "/promotions/<juristic_id>", promotions, missing="no promoted company under this number")
    add_companies_of_person(
        app,
        "/people/<identifier>/companies",
        promotions,
        lists=(("representatives", "authorised_representative"),),
        key="companies",
    )
    return app
