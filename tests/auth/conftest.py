"""A live portal on ``portal_port`` whose identity providers are the three real test OPs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import LiveServer, served_portal
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
    with served_portal(
        tmp, "idp", registry_url, pki_dir, port=portal_port, IDP_CONFIG=str(idp_config_file)
    ) as server:
        yield server
