"""Signing-key fixtures for tests that add, switch or revoke keys through `flask portal keys`.

Registered in ``tests/conftest.py`` (``pytest_plugins``): ``dev_pki``, ``new_key`` (key files issued
by the app's development root), ``ring`` (the app's key ring, forgotten after the test) and ``cli``
(``cli("add", ...)`` runs ``flask portal keys add ...``).

Also the helpers every key test shares: :func:`issue_cert_file` (a document-signing certificate
for a public key, by a root's files), :func:`softhsm_conf` (a private SoftHSM2 configuration) and
:func:`softhsm_util` (SoftHSM2's command line on it).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from portal.signing import certificate_key_id, load_trust_roots
from portal.signing.devpki import issue_signer_certificate

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


def softhsm_conf(base: Path) -> Path:
    """A private SoftHSM2 configuration with its token directory under ``base`` (never the
    system's); RuntimeError naming the package when SoftHSM2 is not installed."""
    if shutil.which("softhsm2-util") is None or not Path(SOFTHSM_MODULE).exists():
        raise RuntimeError("SoftHSM2 is not installed: apt-get install softhsm2 (make apt-test does it)")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
        "slots.removable = false\n"
    )
    return conf


def softhsm_util(conf: Path, *args: str) -> None:
    """``softhsm2-util *args`` with ``SOFTHSM2_CONF=conf``; RuntimeError with its output on failure."""
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    result = subprocess.run(["softhsm2-util", *args], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"softhsm2-util {args[0]} failed: {result.stdout} {result.stderr}")


def issue_cert_file(
    public_key,
    common_name: str,
    path: Path,
    *,
    issuer_cert: Path,
    issuer_key: Path,
    days: tuple[int, int] = (-1, 30),
) -> str:
    """Write a document-signing certificate for ``public_key``, issued by the root in
    ``issuer_cert``/``issuer_key`` and valid from ``days[0]`` to ``days[1]`` days from now, to
    ``path`` (PEM); return its key id (what documents record as ``signer_key_id``)."""
    now = dt.datetime.now(dt.UTC)
    cert = issue_signer_certificate(
        public_key,
        common_name=common_name,
        root_cert=cx509.load_pem_x509_certificate(issuer_cert.read_bytes()),
        root_key=serialization.load_pem_private_key(issuer_key.read_bytes(), password=None),
        not_before=now + dt.timedelta(days=days[0]),
        not_after=now + dt.timedelta(days=days[1]),
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (loaded,) = load_trust_roots([path])
    return certificate_key_id(loaded)


@dataclass(frozen=True)
class KeyFiles:
    key: Path
    cert: Path
    key_id: str


def make_key_files(
    directory: Path,
    name: str,
    *,
    issuer_cert: Path,
    issuer_key: Path,
    days: tuple[int, int] = (-1, 30),
    key=None,
) -> KeyFiles:
    """A document-signing key and certificate issued by ``issuer`` (e.g. the dev root)."""
    directory.mkdir(parents=True, exist_ok=True)
    private_key = key or ec.generate_private_key(ec.SECP256R1())
    slug = name.lower().replace(" ", "-")
    key_path, cert_path = directory / f"{slug}.key.pem", directory / f"{slug}.cert.pem"
    key_path.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_id = issue_cert_file(
        private_key.public_key(), name, cert_path, issuer_cert=issuer_cert, issuer_key=issuer_key, days=days
    )
    return KeyFiles(key_path, cert_path, key_id)


@pytest.fixture
def dev_pki(app):
    from portal.services import runtime

    with app.app_context():
        return runtime.dev_pki()


@pytest.fixture
def new_key(tmp_path, dev_pki):
    """``new_key(name, **options)``: key files for DLT issued by the app's development root."""

    def make(name: str = "DLT Document Signing B (DEVELOPMENT)", **options) -> KeyFiles:
        options.setdefault("issuer_cert", dev_pki.root_cert_path)
        options.setdefault("issuer_key", dev_pki.root_key_path)
        return make_key_files(tmp_path / "keys", name, **options)

    return make


@pytest.fixture
def ring(app, db_session):
    """The app's key ring; forgets what it read from this test's (rolled-back) table afterwards."""
    from portal.services import keys

    with app.app_context():
        key_ring = keys.key_ring()
    yield key_ring
    key_ring.invalidate()


@pytest.fixture
def cli(app, db_session, ring):
    runner = app.test_cli_runner()

    def run(*args: str):
        return runner.invoke(args=["portal", "keys", *args])

    return run
