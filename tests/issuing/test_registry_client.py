"""The agency registry client against real servers on loopback: retries, timeouts, the circuit
breaker, bearer tokens and mutual TLS, and what it logs. Only the clock is faked."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest

from portal import clock
from portal.issuing import RecordNotFound, RegistryRejected, RegistryUnavailable
from portal.issuing.breaker import CircuitBreaker, reset_breakers
from portal.issuing.http import RegistryClient, registry_client
from tests.conftest import free_port
from tests.issuing.registry_servers import Answer, ScriptedRegistry, make_tls_files, server_context

PID = "1101700123456"
FAST = {"retries": 2, "backoff": 0.01, "timeout": (2, 2)}


@pytest.fixture(autouse=True)
def _fresh_breakers():
    reset_breakers()
    yield
    reset_breakers()


@pytest.fixture
def registry():
    server = ScriptedRegistry()
    yield server
    server.stop()


@pytest.fixture
def fake_now(monkeypatch):
    """The portal's clock, stopped; ``fake_now.advance(seconds)`` moves it."""

    class FakeNow:
        value = clock.now()

        def advance(self, seconds: float) -> None:
            self.value += timedelta(seconds=seconds)

    fake = FakeNow()
    monkeypatch.setattr(clock, "now", lambda: fake.value)
    return fake


def client_for(url: str, agency: str = "tst", **settings) -> RegistryClient:
    return registry_client(agency, {"registry_url": url, **FAST, **settings})


def get_licence(client: RegistryClient):
    return client.get_json("/licences/{pid}", {"pid": PID}, not_found_message="no licence record")


# --- answers ------------------------------------------------------------------------------------


def test_success_returns_the_json_and_fills_the_path(registry):
    registry.default = Answer(200, {"pid": PID})
    assert get_licence(client_for(registry.url)) == {"pid": PID}
    assert registry.seen == [(f"/licences/{PID}", None)]


def test_path_values_are_quoted(registry):
    client_for(registry.url).get_json("/companies/{id}", {"id": "../admin?x=1"})
    path = registry.seen[0][0]
    assert path.startswith("/companies/..%2Fadmin%3Fx") and path.count("/") == 2


def test_404_is_record_not_found_with_the_given_message(registry):
    registry.default = Answer(404, {"error": "not_found"})
    with pytest.raises(RecordNotFound, match="no licence record"):
        get_licence(client_for(registry.url))
    assert registry.count == 1


def test_500_then_200_succeeds_after_one_retry(registry, caplog):
    caplog.set_level(logging.INFO, logger="portal.issuing.http")
    registry.script(Answer(500, {"error": "boom"}))
    registry.default = Answer(200, {"pid": PID})
    assert get_licence(client_for(registry.url)) == {"pid": PID}
    assert registry.count == 2
    (line,) = [r for r in caplog.records if r.name == "portal.issuing.http"]
    assert (line.outcome, line.attempts) == ("200", 2)


def test_always_503_is_unavailable_after_the_retry_budget(registry):
    registry.default = Answer(503, {"error": "maintenance"})
    started = time.monotonic()
    with pytest.raises(RegistryUnavailable, match="answered HTTP 503"):
        get_licence(client_for(registry.url, retries=2))
    assert registry.count == 3  # the first try and two retries
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("retries", [0, 3])
def test_the_retry_setting_is_obeyed(registry, retries):
    registry.default = Answer(502, {})
    with pytest.raises(RegistryUnavailable):
        get_licence(client_for(registry.url, retries=retries))
    assert registry.count == retries + 1


def test_a_registry_slower_than_the_read_timeout_is_unavailable(registry):
    registry.default = Answer(200, {"pid": PID}, delay=1.5)
    started = time.monotonic()
    with pytest.raises(RegistryUnavailable, match="did not answer in time"):
        get_licence(client_for(registry.url, timeout=(1, 0.3), retries=1))
    assert time.monotonic() - started < 1.4  # two tries of 0.3 s, not the server's 1.5 s
    assert registry.count == 2


def test_a_closed_port_is_unavailable_quickly():
    started = time.monotonic()
    with pytest.raises(RegistryUnavailable, match="could not be reached") as caught:
        get_licence(client_for(f"http://127.0.0.1:{free_port()}"))
    assert time.monotonic() - started < 2
    # Nothing that carries the filled URL is chained to the error.
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert PID not in str(caught.value)


def test_invalid_json_is_rejected(registry):
    registry.default = Answer(200, b"<html>maintenance</html>")
    with pytest.raises(RegistryRejected, match="not JSON"):
        get_licence(client_for(registry.url))
    assert registry.count == 1


@pytest.mark.parametrize("status", [302, 400, 422])
def test_other_answers_are_rejected_without_retry(registry, status):
    registry.default = Answer(status, {})
    with pytest.raises(RegistryRejected, match=f"HTTP {status}"):
        get_licence(client_for(registry.url))
    assert registry.count == 1


def test_429_is_unavailable_and_not_retried_here(registry):
    registry.default = Answer(429, {})
    with pytest.raises(RegistryUnavailable, match="HTTP 429"):
        get_licence(client_for(registry.url))
    assert registry.count == 1


def test_no_address_configured_is_unavailable():
    with pytest.raises(RegistryUnavailable, match="TST registry address is not configured"):
        get_licence(registry_client("tst", {"registry_url": None}))


@pytest.mark.parametrize(
    ("key", "value"),
    [("timeout", "soon"), ("timeout", 0), ("retries", 50), ("retries", -1), ("registry_url", "ftp://x")],
)
def test_bad_settings_are_rejected_with_the_key_named(key, value):
    settings = {"registry_url": "http://127.0.0.1:9", key: value}
    with pytest.raises(RegistryRejected, match=f"setting '{key}' is invalid"):
        registry_client("tst", settings)


# --- bearer token -------------------------------------------------------------------------------


def test_the_token_is_sent_as_a_bearer_header(registry):
    get_licence(client_for(registry.url, token="s3cret-token"))
    assert registry.seen[0][1] == "Bearer s3cret-token"


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_rejected_and_never_retried(registry, status):
    registry.default = Answer(status, {})
    client = client_for(registry.url, token="wrong", breaker_threshold=1)
    for _ in range(3):
        with pytest.raises(RegistryRejected, match="refused the portal's credentials"):
            get_licence(client)
    assert registry.count == 3  # one request per call, and the breaker stayed closed
    assert client.breaker.state == "closed"


# --- circuit breaker ----------------------------------------------------------------------------


def test_breaker_opens_fails_fast_half_opens_and_closes(registry, fake_now):
    registry.default = Answer(503, {})
    client = client_for(registry.url, retries=0, breaker_threshold=3, breaker_cooldown=30)
    for _ in range(3):
        with pytest.raises(RegistryUnavailable, match="HTTP 503"):
            get_licence(client)
    assert registry.count == 3 and client.breaker.state == "open"

    for _ in range(5):
        with pytest.raises(RegistryUnavailable, match="paused for 30 s"):
            get_licence(client)
    assert registry.count == 3  # no network while open

    fake_now.advance(29)
    with pytest.raises(RegistryUnavailable, match="paused"):
        get_licence(client)
    assert registry.count == 3

    fake_now.advance(1)
    registry.default = Answer(200, {"pid": PID})
    assert client.breaker.state == "half_open"
    assert get_licence(client) == {"pid": PID}  # the trial call
    assert registry.count == 4 and client.breaker.state == "closed"
    get_licence(client)
    assert registry.count == 5


def test_a_failed_trial_reopens_for_another_cooldown(registry, fake_now):
    registry.default = Answer(503, {})
    client = client_for(registry.url, retries=0, breaker_threshold=1, breaker_cooldown=10)
    with pytest.raises(RegistryUnavailable):
        get_licence(client)
    fake_now.advance(10)
    with pytest.raises(RegistryUnavailable, match="HTTP 503"):
        get_licence(client)  # the trial, which fails
    assert registry.count == 2 and client.breaker.state == "open"
    fake_now.advance(9)
    with pytest.raises(RegistryUnavailable, match="paused"):
        get_licence(client)
    assert registry.count == 2


def test_an_answer_resets_the_failure_count(registry):
    client = client_for(registry.url, retries=0, breaker_threshold=2)
    registry.script(Answer(503), Answer(404), Answer(503))
    for expected in (RegistryUnavailable, RecordNotFound, RegistryUnavailable):
        with pytest.raises(expected):
            get_licence(client)
    assert client.breaker.state == "closed"


def test_two_agencies_have_independent_breakers(registry):
    registry.default = Answer(503, {})
    dbd = client_for(registry.url, agency="dbd", retries=0, breaker_threshold=1)
    with pytest.raises(RegistryUnavailable):
        get_licence(dbd)
    assert dbd.breaker.state == "open"

    registry.default = Answer(200, {"pid": PID})
    dopa = client_for(registry.url, agency="dopa", retries=0, breaker_threshold=1)
    assert get_licence(dopa) == {"pid": PID}
    with pytest.raises(RegistryUnavailable, match="paused"):
        get_licence(dbd)
    assert registry.count == 2
    # The same agency with the same settings shares its breaker within the process.
    assert client_for(registry.url, agency="dbd", retries=0, breaker_threshold=1).breaker is dbd.breaker


def test_half_open_lets_exactly_one_trial_through_under_threads(fake_now):
    breaker = CircuitBreaker("tst", failure_threshold=1, cooldown=5)
    breaker.record_failure()
    fake_now.advance(5)
    start = threading.Barrier(16)
    granted: list[bool] = []

    def try_call():
        start.wait()
        granted.append(breaker.acquire())

    threads = [threading.Thread(target=try_call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert granted.count(True) == 1
    breaker.release()  # the trial ended without a verdict: the next caller may try
    assert breaker.acquire() and not breaker.acquire()


def test_the_breaker_counts_failures_exactly_under_threads():
    breaker = CircuitBreaker("tst", failure_threshold=400)
    threads = [
        threading.Thread(target=lambda: [breaker.record_failure() for _ in range(50)]) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert breaker.state == "open"  # 8 × 50 = 400 failures, none lost


# --- logging ------------------------------------------------------------------------------------


def test_every_call_is_logged_without_personal_data(registry, caplog):
    caplog.set_level(logging.DEBUG)  # urllib3's own lines too
    registry.script(Answer(503), Answer(503))
    registry.default = Answer(404, {})
    client = client_for(registry.url, token="s3cret-token")
    with pytest.raises(RecordNotFound):
        get_licence(client)
    with pytest.raises(RegistryUnavailable):
        get_licence(client_for(f"http://127.0.0.1:{free_port()}"))

    lines = [r for r in caplog.records if r.name == "portal.issuing.http"]
    assert [(r.levelno, r.agency, r.path, r.outcome) for r in lines] == [
        (logging.INFO, "tst", "/licences/{pid}", "404"),
        (logging.INFO, "tst", "/licences/{pid}", "unreachable"),
    ]
    assert lines[0].attempts == 3 and lines[0].elapsed_ms >= 0
    ours = [r for r in caplog.records if r.name != "werkzeug"]  # the test server's own lines aside
    assert any(r.name.startswith("urllib3") for r in ours)  # urllib3 logged, redacted
    text = "\n".join(r.getMessage() for r in ours)
    assert PID not in text and "s3cret" not in text


# --- mutual TLS ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    return make_tls_files(tmp_path_factory.mktemp("registry-tls"))


@pytest.fixture
def tls_registry(tls_files):
    server = ScriptedRegistry(ssl_context=server_context(tls_files))
    server.default = Answer(200, {"pid": PID})
    yield server
    server.stop()


def test_mtls_with_the_right_client_certificate_works(tls_registry, tls_files):
    client = client_for(
        tls_registry.url,
        client_cert=str(tls_files.client_cert),
        client_key=str(tls_files.client_key),
        ca_bundle=str(tls_files.ca),
    )
    assert get_licence(client) == {"pid": PID}


@pytest.mark.parametrize("which", ["none", "stranger"])
def test_mtls_without_an_accepted_client_certificate_is_rejected(tls_registry, tls_files, which):
    """A handshake refusal is a configuration problem: permanent, for an operator, not retried."""
    settings = {"ca_bundle": str(tls_files.ca)}
    if which == "stranger":
        settings |= {
            "client_cert": str(tls_files.stranger_client_cert),
            "client_key": str(tls_files.stranger_client_key),
        }
    client = client_for(tls_registry.url, breaker_threshold=1, **settings)
    with pytest.raises(RegistryRejected, match="refused the portal's TLS connection.*client_cert"):
        get_licence(client)
    assert tls_registry.count == 0 and client.breaker.state == "closed"


def test_an_untrusted_server_certificate_is_rejected(tls_registry, tls_files):
    client = client_for(
        tls_registry.url,
        client_cert=str(tls_files.client_cert),
        client_key=str(tls_files.client_key),
        ca_bundle=str(tls_files.stranger_ca),
    )
    with pytest.raises(RegistryRejected, match="TLS certificate is not trusted.*ca_bundle"):
        get_licence(client)
    assert tls_registry.count == 0


def test_the_system_trust_store_does_not_trust_a_private_ca(tls_registry, tls_files):
    client = client_for(
        tls_registry.url, client_cert=str(tls_files.client_cert), client_key=str(tls_files.client_key)
    )
    with pytest.raises(RegistryRejected, match="not trusted"):
        get_licence(client)


def test_a_missing_certificate_file_is_rejected_plainly(tls_registry, tls_files, tmp_path):
    client = client_for(
        tls_registry.url,
        client_cert=str(tmp_path / "nowhere.pem"),
        client_key=str(tls_files.client_key),
        ca_bundle=str(tls_files.ca),
    )
    with pytest.raises(RegistryRejected, match="cannot be read"):
        get_licence(client)
