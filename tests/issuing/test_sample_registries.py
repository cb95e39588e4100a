"""What every built-in sample registry shares (issuers/sample.py): the bearer token and /health."""

from __future__ import annotations

import importlib

import pytest

REGISTRIES = ["issuers.dlt.sample_registry", "issuers.dbd.sample_registry", "issuers.boi.sample_registry",
              "issuers.dopa.sample_registry"]  # fmt: skip


@pytest.mark.parametrize("module", REGISTRIES)
def test_a_token_is_required_once_set_and_health_counts_records(module: str) -> None:
    create = importlib.import_module(module).create_registry_app
    open_app = create().test_client()
    health = open_app.get("/health")
    assert health.status_code == 200 and health.json["status"] == "ok"
    assert all(isinstance(v, int) and v > 0 for k, v in health.json.items() if k != "status")

    guarded = create(token="s3cret").test_client()
    assert guarded.get("/health").status_code == 401
    assert guarded.get("/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert guarded.get("/health", headers={"Authorization": "Bearer s3cret"}).status_code == 200


@pytest.mark.parametrize("module", REGISTRIES)
def test_an_unknown_path_value_is_a_plain_json_404(module: str) -> None:
    client = importlib.import_module(module).create_registry_app().test_client()
    paths = {
        "issuers.dlt.sample_registry": "/licences/0000000000000",
        "issuers.dbd.sample_registry": "/companies/0000000000000",
        "issuers.boi.sample_registry": "/promotions/0000000000000",
        "issuers.dopa.sample_registry": "/houses/by-resident/0000000000000",
    }
    answer = client.get(paths[module])
    assert answer.status_code == 404 and answer.json["error"] == "not_found" and answer.json["detail"]
