"""A sample of the DBD's company register, served over HTTP.

It stands in for the Department of Business Development's system: the demo mounts it in the
portal's process under ``/_sample/dbd``; the tests run it as its own server on loopback. The
portal only ever talks to it over HTTP, exactly as it would to the agency.

- ``GET /companies/<juristic_id>``: the company's record (404 when none);
- ``GET /people/<identifier>/mandates``: the companies that list the person (a national ID, or
  ``<NATIONALITY>:<PASSPORT>``) as director or authorised representative; an empty list when none.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from issuers.sample import add_companies_of_person, add_lookup, read_json, sample_registry_app

RECORDS_FILE = Path(__file__).with_name("sample_records.json")

#: The record's lists of people, and the role each gives.
PEOPLE_LISTS = (("directors", "director"), ("authorised_representatives", "authorised_representative"))


def create_registry_app(*, token: str | None = None, records_file: Path = RECORDS_FILE) -> Flask:
    """The sample registry; when ``token`` is set, requests must carry it as a bearer token."""
    companies = read_json(records_file)
    app = sample_registry_app(__name__, token=token, health=lambda: {"records": len(companies)})
    add_lookup(app, "/companies/<juristic_id>", companies, missing="no company registered under this number")
    add_companies_of_person(
        app, "/people/<identifier>/mandates", companies, lists=PEOPLE_LISTS, key="mandates"
    )
    return app
