"""A sample of the DOPA's civil registration database (houses and their registered residents),
served over HTTP.

It stands in for the agency's real system: the demo mounts it in the portal's process under
``/_sample/dopa``; the tests run it as its own server on loopback. The portal only ever talks
to it over HTTP, exactly as it would to the agency. Like the real register it answers with the
whole house page: deciding what a requester may see of the other residents is the issuer's job.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from issuers.sample import add_lookup, read_json, sample_registry_app

RECORDS_FILE = Path(__file__).with_name("sample_records.json")


def create_registry_app(*, token: str | None = None, records_file: Path = RECORDS_FILE) -> Flask:
    """The sample registry; when ``token`` is set, requests must carry it as a bearer token."""
    houses = read_json(records_file)["houses"]
    # A person is registered in one house at a time (the register's rule), so an index by
    # resident is enough.
    by_resident = {member["pid"]: house for house in houses for member in house["members"]}
    app = sample_registry_app(
        __name__, token=token, health=lambda: {"houses": len(houses), "residents": len(by_resident)}
    )

    add_lookup(
        app,
        "/houses/by-resident/<pid>",
        by_resident,
        missing="this person is registered in no house",
        answer=lambda pid, house: house,
    )
    return app
