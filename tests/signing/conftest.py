"""Fixtures for the signing tests: real development PKIs, identities and PDFs.

Everything is session-scoped (key generation and WeasyPrint are the slow parts) and
prefixed ``signing_`` so that it cannot clash with fixtures of the main conftest.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from portal.signing import (
    DevPki,
    SigningIdentity,
    ensure_dev_pki,
    load_file_identity,
    load_trust_roots,
    sign_pdf,
)
from tests.keys_plugin import SOFTHSM_MODULE, issue_cert_file, softhsm_conf, softhsm_util

SIGNING_AGENCIES = {
    "dlt": "Department of Land Transport",
    "dopa": "Department of Provincial Administration",
}

SIGNING_HTML = """<!doctype html>
<html lang="th"><head><meta charset="utf-8">
<style>body { font-family: Laksaman; font-size: 14pt }</style></head>
<body>
<h1>หนังสือรับรอง</h1>
<p>สวัสดี hello — ขอรับรองว่าเอกสารฉบับนี้ออกโดยระบบทดสอบ</p>
</body></html>
"""


@pytest.fixture(scope="session")
def signing_pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    """Our development PKI (the trusted one)."""
    return ensure_dev_pki(tmp_path_factory.mktemp("signing-pki"), SIGNING_AGENCIES)


@pytest.fixture(scope="session")
def signing_foreign_pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    """A second PKI with the same names but other keys: nobody trusts its root."""
    return ensure_dev_pki(tmp_path_factory.mktemp("signing-foreign-pki"), SIGNING_AGENCIES)


@pytest.fixture(scope="session")
def signing_trust_roots(signing_pki: DevPki) -> list[x509.Certificate]:
    return load_trust_roots([signing_pki.root_cert_path])


@pytest.fixture(scope="session")
def signing_identity(signing_pki: DevPki) -> SigningIdentity:
    key_path, cert_path = signing_pki.agency_paths["dlt"]
    return load_file_identity("dlt", key_path, cert_path, [signing_pki.root_cert_path])


@pytest.fixture(scope="session")
def signing_foreign_identity(signing_foreign_pki: DevPki) -> SigningIdentity:
    key_path, cert_path = signing_foreign_pki.agency_paths["dlt"]
    return load_file_identity("dlt", key_path, cert_path, [signing_foreign_pki.root_cert_path])


@pytest.fixture(scope="session")
def signing_unsigned_pdf() -> bytes:
    """A one-page PDF rendered by WeasyPrint with Thai text."""
    import weasyprint  # slow first import: only when a test needs it

    return weasyprint.HTML(string=SIGNING_HTML).write_pdf()


@pytest.fixture(scope="session")
def signed_pdf(signing_unsigned_pdf: bytes, signing_identity: SigningIdentity) -> bytes:
    return sign_pdf(
        signing_unsigned_pdf,
        signing_identity,
        reason="Certificate issued by Tra",
        location="Bangkok",
    )


@pytest.fixture
def signing_tmp_pki_dir(tmp_path: Path) -> Path:
    """A fresh, empty directory for a throw-away PKI."""
    return tmp_path / "pki"


# --- SoftHSM2: a private token directory per test session (never /etc/softhsm or /var/lib/softhsm) ---


@dataclass(frozen=True)
class SoftHsm:
    """A SoftHSM2 set-up private to this test session."""

    module: str
    conf: Path
    token: str
    """Token holding the agency keys: ``ec`` (P-256, id 01, certificate also stored in the token)
    and ``rsa`` (RSA-2048, id 02)."""
    pin_token: str
    """A second token with one EC key (``pin-ec``, id 03), for login tests."""
    pin: str
    """User PIN of both tokens (random per session)."""
    pin_env: str
    """Name of an environment variable that holds ``pin`` for the session."""
    ec_cert: Path
    rsa_cert: Path
    pin_ec_cert: Path
    root_cert: Path


@pytest.fixture(scope="session")
def signing_softhsm(tmp_path_factory: pytest.TempPathFactory, signing_pki: DevPki) -> Iterator[SoftHsm]:
    """Two initialised SoftHSM2 tokens with keys imported from PKCS#8 files, certificates by our dev root.

    ``SOFTHSM2_CONF`` points at a private configuration for the whole session (SoftHSM reads
    it once, when the module is first initialised in this process).
    """
    base = tmp_path_factory.mktemp("softhsm")
    conf = softhsm_conf(base)
    suffix = secrets.token_hex(4)
    token, pin_token = f"tra-test-{suffix}", f"tra-pin-{suffix}"
    pin, so_pin = secrets.token_hex(8), secrets.token_hex(8)
    for label in (token, pin_token):
        softhsm_util(conf, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", so_pin)

    keys = {
        "ec": (token, "01", ec.generate_private_key(ec.SECP256R1())),
        "rsa": (token, "02", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "pin-ec": (pin_token, "03", ec.generate_private_key(ec.SECP256R1())),
    }
    certs: dict[str, Path] = {}
    for label, (token_label, key_id, key) in keys.items():
        key_file = base / f"{label}.p8.pem"
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        args = ("--import", str(key_file), "--token", token_label, "--label", label, "--id", key_id)
        softhsm_util(conf, *args, "--pin", pin)
        key_file.unlink()  # the private key now lives only in the token
        certs[label] = base / f"{label}.cert.pem"
        issue_cert_file(
            key.public_key(),
            f"HSM {label} Document Signing (DEVELOPMENT)",
            certs[label],
            issuer_cert=signing_pki.root_cert_path,
            issuer_key=signing_pki.root_key_path,
        )

    pin_env = f"TRA_TEST_HSM_PIN_{suffix.upper()}"
    saved = {name: os.environ.get(name) for name in ("SOFTHSM2_CONF", pin_env)}
    os.environ["SOFTHSM2_CONF"] = str(conf)
    os.environ[pin_env] = pin

    # Store the EC certificate in the token beside its key (CKA_LABEL "ec", CKA_ID 01).
    import pkcs11

    from portal.signing.pkcs11 import close_pkcs11_sessions

    lib = pkcs11.lib(SOFTHSM_MODULE)
    ec_cert = cx509.load_pem_x509_certificate(certs["ec"].read_bytes())
    session = lib.get_token(token_label=token).open(rw=True, user_pin=pin)
    try:
        session.create_object(
            {
                pkcs11.Attribute.CLASS: pkcs11.ObjectClass.CERTIFICATE,
                pkcs11.Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
                pkcs11.Attribute.TOKEN: True,
                pkcs11.Attribute.LABEL: "ec",
                pkcs11.Attribute.ID: b"\x01",
                pkcs11.Attribute.SUBJECT: ec_cert.subject.public_bytes(),
                pkcs11.Attribute.ISSUER: ec_cert.issuer.public_bytes(),
                pkcs11.Attribute.VALUE: ec_cert.public_bytes(serialization.Encoding.DER),
            }
        )
    finally:
        session.close()

    yield SoftHsm(
        module=SOFTHSM_MODULE,
        conf=conf,
        token=token,
        pin_token=pin_token,
        pin=pin,
        pin_env=pin_env,
        ec_cert=certs["ec"],
        rsa_cert=certs["rsa"],
        pin_ec_cert=certs["pin-ec"],
        root_cert=signing_pki.root_cert_path,
    )
    close_pkcs11_sessions()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
