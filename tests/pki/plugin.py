"""pytest plugin: Tra's certomancer test PKI, with its TSA, OCSP responder and CRLs on loopback.

Registered in ``tests/conftest.py`` (``pytest_plugins``); every fixture is session-scoped and
prefixed ``pki_``. The PKI (``tra-test-pki.yml``) has fixed dates around the real clock:

- ``root`` -> ``interm`` -> agency signers ``dlt``, ``dlt-next`` (rotation), ``dopa``;
- ``revoked`` (revoked since :data:`REVOKED_SINCE`) and ``expired`` (until :data:`EXPIRED_AT`);
- ``tsa`` (issued by ``root``), an OCSP responder for ``interm`` and CRLs of ``root``/``interm``.

The services run in certomancer's Animator (a WSGI app) on a :class:`~tests.loopback.LoopbackServer` (a
thread on a free port of 127.0.0.1). :class:`RequestCounter` counts the requests per service so
that tests can prove what was (not) fetched. Private keys are generated per session, never
committed.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from asn1crypto import pem, x509
from certomancer.integrations.animator import Animator, AnimatorArchStore
from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig, ServiceLabel
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from portal.signing import SigningIdentity, load_file_identity
from tests.loopback import LoopbackServer, free_port

CONFIG_FILE = Path(__file__).with_name("tra-test-pki.yml")
ARCH = "tra"
KEY_LABELS = ("root", "interm", "interm-ocsp", "tsa", "dlt", "dlt-next", "dopa", "revoked", "expired")
SIGNER_LABELS = ("dlt", "dlt-next", "dopa", "revoked", "expired")
REVOKED_SINCE = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
EXPIRED_AT = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


class RequestCounter:
    """WSGI middleware counting requests by kind (``ocsp``, ``tsa``, ``crls``, ``certs``)."""

    def __init__(self, app) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        parts = environ.get("PATH_INFO", "").strip("/").split("/")
        kind = parts[1] if len(parts) > 1 else "other"
        with self._lock:
            self.counts[kind] += 1
        return self.app(environ, start_response)

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)


@dataclass
class CertomancerPki:
    """A built test PKI: files on disk, certomancer's architecture, service URLs."""

    directory: Path
    base_url: str
    arch: object  # certomancer PKIArchitecture
    cert_paths: dict[str, Path] = field(default_factory=dict)
    key_paths: dict[str, Path] = field(default_factory=dict)

    @property
    def root_path(self) -> Path:
        return self.cert_paths["root"]

    @property
    def chain_paths(self) -> list[Path]:
        """Intermediate then root: what a signer embeds."""
        return [self.cert_paths["interm"], self.cert_paths["root"]]

    @property
    def tsa_url(self) -> str:
        return f"{self.base_url}/{ARCH}/tsa/tsa"

    @property
    def ocsp_url(self) -> str:
        return f"{self.base_url}/{ARCH}/ocsp/interm"

    def cert(self, label: str) -> x509.Certificate:
        return _load_pem_cert(self.cert_paths[label])

    def identity(self, label: str, agency: str | None = None) -> SigningIdentity:
        """The signer ``label`` as a :class:`SigningIdentity` of ``agency`` (default: the label)."""
        return load_file_identity(
            agency or label, self.key_paths[label], self.cert_paths[label], self.chain_paths
        )

    def trust_roots(self) -> list[x509.Certificate]:
        return [self.cert("root")]


@dataclass
class PkiServer:
    """The loopback HTTP server of a :class:`CertomancerPki`'s services."""

    pki: CertomancerPki
    counter: RequestCounter
    _server: LoopbackServer

    def stop(self) -> None:
        self._server.close()


def generate_keys(directory: Path) -> None:
    """ECDSA P-256 keys for every entity, unencrypted PEM (certomancer reads them)."""
    directory.mkdir(parents=True, exist_ok=True)
    for label in KEY_LABELS:
        path = directory / f"{label}.key.pem"
        if path.exists():
            continue
        key = ec.generate_private_key(ec.SECP256R1())
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)


def build_pki(directory: Path, base_url: str) -> CertomancerPki:
    """Build the PKI from ``tra-test-pki.yml`` with services under ``base_url``; write certs out.

    Keys in ``directory`` are reused when present, so two builds with different URLs share keys.
    """
    generate_keys(directory)
    config = CertomancerConfig(
        yaml.safe_load(CONFIG_FILE.read_text()),
        key_search_dir=str(directory),
        external_url_prefix=base_url,
    )
    arch = config.get_pki_arch(ArchLabel(ARCH))
    pki = CertomancerPki(directory=directory, base_url=base_url, arch=arch)
    for label in ("root", "interm", "interm-ocsp", "tsa", *SIGNER_LABELS):
        # certomancer's objects re-encode on every dump() (about 20 ms per TSA/OCSP answer):
        # go through DER once and put the parsed copy back in its cache.
        der = arch.get_cert(CertLabel(label)).dump()
        arch._cert_cache[CertLabel(label)] = x509.Certificate.load(der)
        path = directory / f"{label}.cert.pem"
        path.write_bytes(pem.armor("CERTIFICATE", der))
        pki.cert_paths[label] = path
        pki.key_paths[label] = directory / f"{label}.key.pem"
    return pki


def serve_pki(directory: Path) -> PkiServer:
    """Bind a free loopback port, build the PKI for it and serve its TSA, OCSP and CRLs."""
    # No access-log line per OCSP/TSA request (quiet): the counter keeps the numbers.
    server = LoopbackServer(quiet=True, name="test-pki")  # the PKI names its services' URL
    pki = build_pki(directory, server.url)
    animator = Animator(AnimatorArchStore({ArchLabel(ARCH): pki.arch}), with_web_ui=False)
    counter = RequestCounter(animator)
    server.start(counter)
    return PkiServer(pki=pki, counter=counter, _server=server)


def closed_port_url() -> str:
    """An http URL on loopback where nothing listens (connection refused at once)."""
    return f"http://127.0.0.1:{free_port()}"


def current_crl(pki: CertomancerPki, repo: str, at: dt.datetime | None = None):
    """The CRL of ``repo`` (``root`` or ``interm``) as certomancer would serve it at ``at``."""
    at = at or dt.datetime.now(dt.UTC)
    return pki.arch.service_registry.get_crl(ServiceLabel(repo), at_time=at)


def _load_pem_cert(path: Path) -> x509.Certificate:
    _kind, _headers, der = pem.unarmor(path.read_bytes())
    return x509.Certificate.load(der)


@pytest.fixture(scope="session")
def pki_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PkiServer]:
    """The test PKI with its TSA, OCSP responder and CRLs served on loopback for the session."""
    server = serve_pki(tmp_path_factory.mktemp("test-pki"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pki(pki_server: PkiServer) -> CertomancerPki:
    """The test PKI (files, certomancer architecture, service URLs)."""
    return pki_server.pki


@pytest.fixture(scope="session")
def pki_trust_roots(pki: CertomancerPki) -> list[x509.Certificate]:
    return pki.trust_roots()


@pytest.fixture(scope="session")
def pki_tsa_url(pki: CertomancerPki) -> str:
    return pki.tsa_url


@pytest.fixture(scope="session")
def pki_identities(pki: CertomancerPki) -> dict[str, SigningIdentity]:
    """Signer label -> identity: ``dlt``, ``dlt-next`` (both of agency dlt), ``dopa``,
    ``revoked`` and ``expired`` (both of agency dlt)."""
    agency = {"dlt": "dlt", "dlt-next": "dlt", "dopa": "dopa", "revoked": "dlt", "expired": "dlt"}
    return {label: pki.identity(label, agency[label]) for label in SIGNER_LABELS}


@pytest.fixture(scope="session")
def pki_unreachable(pki: CertomancerPki) -> CertomancerPki:
    """A second PKI like :func:`pki` (other keys) whose certificates point at a closed loopback port:
    its OCSP responder and CRLs cannot be fetched, as in an outage."""
    return build_pki(pki.directory / "unreachable", closed_port_url())
