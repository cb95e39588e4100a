"""The portal with the company registries (DBD, BOI) and the people registries (DLT, DOPA) each
served over real HTTP on loopback, behind a switch that can take a registry down or change one
of its answers (a mandate withdrawn between login and request)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import migrated_portal
from tests.loopback import LoopbackServer


class SwitchableRegistry:
    """A sample registry's WSGI app that a test can take down (503) or make answer otherwise."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app
        self.down = False
        #: path -> JSON body answered with 200 instead of the sample registry's answer.
        self.answers: dict[str, object] = {}

    def reset(self) -> None:
        self.down = False
        self.answers.clear()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if self.down:
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [b'{"error": "maintenance"}']
        if path in self.answers:
            body = json.dumps(self.answers[path]).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        return self.wsgi_app(environ, start_response)


@pytest.fixture(scope="session")
def registries() -> Iterator[dict[str, SwitchableRegistry]]:
    """The DBD, BOI and DOPA sample registries on loopback, by issuer id (``.url`` is set)."""
    from issuers.boi.sample_registry import create_registry_app as boi
    from issuers.dbd.sample_registry import create_registry_app as dbd
    from issuers.dopa.sample_registry import create_registry_app as dopa

    switches, servers = {}, []
    for agency, factory in (("dbd", dbd), ("boi", boi), ("dopa", dopa)):
        switch = SwitchableRegistry(factory())
        server = LoopbackServer(switch)
        switch.url = server.url
        switches[agency] = switch
        servers.append(server)
    yield switches
    for server in servers:
        server.close()


@pytest.fixture(autouse=True)
def _registries_answer_normally(registries):
    yield
    for switch in registries.values():
        switch.reset()


def registry_overrides(registries: dict[str, SwitchableRegistry]) -> dict:
    """Issuer settings pointing at the loopback registries; no retries and no breaker trips, so a
    registry taken down by one test fails fast and does not pause the next test's calls."""
    settings = {}
    for agency, switch in registries.items():
        upper = agency.upper()
        settings[f"ISSUER_{upper}_REGISTRY_URL"] = switch.url
        settings[f"ISSUER_{upper}_RETRIES"] = 0
        settings[f"ISSUER_{upper}_BREAKER_THRESHOLD"] = 100000
    return settings


@pytest.fixture(scope="session")
def app(tmp_path_factory, registry_url, pki_dir, registries):
    """Overrides the suite's ``app`` for this folder: the same portal, with every registry served."""
    tmp = tmp_path_factory.mktemp("audiences")
    overrides = {**registry_overrides(registries), "WTF_CSRF_ENABLED": False}
    with migrated_portal(tmp, "audiences", registry_url, pki_dir, **overrides) as application:
        yield application
