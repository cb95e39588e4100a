"""A live portal on ``portal_port`` whose identity providers are the three real test OPs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portal import create_app
from tests.conftest import LiveServer, _create_database, _migrate, _overrides, _serve
from tests.oidc_ops import idp_config_toml


@pytest.fixture(scope="session")
def idp_config_file(tmp_path_factory, test_ops):
    """A PORTAL_IDP_CONFIG file naming the three test OPs (thaid-test, business-test, investor-test)."""
    path = tmp_path_factory.mktemp("idp") / "idp.toml"
    path.write_text(idp_config_toml(test_ops), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def idp_live_server(
    tmp_path_factory, registry_url, pki_dir, portal_port, idp_config_file
) -> Iterator[LiveServer]:
    """The whole portal over HTTP on ``portal_port``, logging in through the test OPs only."""
    tmp = tmp_path_factory.mktemp("idp-live")
    database_url, drop = _create_database(tmp, "idp")
    base_url = f"http://127.0.0.1:{portal_port}"
    application = create_app(
        "testing",
        {
            **_overrides(tmp, database_url, registry_url, pki_dir, base_url),
            "IDP_CONFIG": str(idp_config_file),
        },
    )
    _migrate(application)
    server = _serve(application, portal_port)
    yield LiveServer(base_url, application)
    server.shutdown()
    from portal.extensions import db

    with application.app_context():
        db.engine.dispose()
    drop()
