"""A sample of the DLT's licence and vehicle registries, served over HTTP.

It stands in for the agency's real system: the demo mounts it in the portal's process
under ``/_sample/dlt``; the tests run it as its own server on loopback. The portal only
ever talks to it over HTTP, exactly as it would to the agency.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from issuers.sample import add_lookup, read_json, sample_registry_app

RECORDS_FILE = Path(__file__).with_name("sample_records.json")
#: Vehicles by registered owner (a citizen's ID or a company's juristic ID).
VEHICLES_FILE = Path(__file__).with_name("sample_vehicles.json")


def create_registry_app(
    *, token: str | None = None, records_file: Path = RECORDS_FILE, vehicles_file: Path = VEHICLES_FILE
) -> Flask:
    """The sample registry; when ``token`` is set, requests must carry it as a bearer token."""
    records, vehicles = read_json(records_file), read_json(vehicles_file)
    app = sample_registry_app(
        __name__, token=token, health=lambda: {"records": len(records), "vehicle_owners": len(vehicles)}
    )

    add_lookup(app, "/licences/<pid>", records, missing="no licence record for this person")
    add_lookup(
        app,
        "/vehicles/by-owner/<owner_id>",
        vehicles,
        missing="no vehicle is registered to this owner",
        answer=lambda owner_id, record: {
            "record_id": record["record_id"],
            "owner": {"id": owner_id, **record["owner"]},
            "vehicles": record["vehicles"],
        },
    )
    return app
