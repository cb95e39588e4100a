"""Fixtures for the signing tests: real development PKIs, identities and PDFs.

Everything is session-scoped (key generation and WeasyPrint are the slow parts) and
prefixed ``signing_`` so that it cannot clash with fixtures of the main conftest.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from asn1crypto import x509

from portal.signing import (
    DevPki,
    SigningIdentity,
    ensure_dev_pki,
    load_file_identity,
    load_trust_roots,
    sign_pdf,
)

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
