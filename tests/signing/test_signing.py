"""Development PKI, key loading and PDF signing, with real cryptography."""

from __future__ import annotations

import hashlib
import re
import stat
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from portal.signing import (
    SIGNATURE_FIELD,
    DevPki,
    DevPkiError,
    KeyLoadError,
    KeyNotConfigured,
    KeyRing,
    PdfSigningError,
    SigningIdentity,
    ensure_dev_pki,
    file_identity_loader,
    load_file_identity,
    load_trust_roots,
    sign_pdf,
)
from portal.signing.devpki import signer_common_name

from .conftest import SIGNING_AGENCIES


def _snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(path.relative_to(directory)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(directory.rglob("*.pem"))
    }


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


# --- development PKI ----------------------------------------------------------------


def test_ensure_dev_pki_creates_the_expected_files(signing_tmp_pki_dir: Path) -> None:
    pki = ensure_dev_pki(signing_tmp_pki_dir, {"dlt": "Department of Land Transport"})

    assert pki.root_cert_path == signing_tmp_pki_dir / "root-ca.pem"
    assert pki.root_key_path == signing_tmp_pki_dir / "root-ca.key.pem"
    assert pki.agency_paths == {
        "dlt": (
            signing_tmp_pki_dir / "dlt" / "signing.key.pem",
            signing_tmp_pki_dir / "dlt" / "signing.cert.pem",
        )
    }
    for key_path in (pki.root_key_path, pki.agency_paths["dlt"][0]):
        assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
        assert key_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_ensure_dev_pki_is_idempotent(signing_tmp_pki_dir: Path) -> None:
    first = ensure_dev_pki(signing_tmp_pki_dir, SIGNING_AGENCIES)
    before = _snapshot(signing_tmp_pki_dir)

    second = ensure_dev_pki(signing_tmp_pki_dir, SIGNING_AGENCIES)

    assert second == first
    assert _snapshot(signing_tmp_pki_dir) == before  # same bytes, not rewritten


def test_ensure_dev_pki_adds_a_new_agency_with_the_existing_root(
    signing_tmp_pki_dir: Path,
) -> None:
    ensure_dev_pki(signing_tmp_pki_dir, {"dlt": "Department of Land Transport"})
    before = _snapshot(signing_tmp_pki_dir)

    pki = ensure_dev_pki(signing_tmp_pki_dir, SIGNING_AGENCIES)

    after = _snapshot(signing_tmp_pki_dir)
    assert {name: after[name] for name in before} == before
    _cert(pki.agency_paths["dopa"][1]).verify_directly_issued_by(_cert(pki.root_cert_path))


def test_ensure_dev_pki_rejects_an_unusable_agency_id(signing_tmp_pki_dir: Path) -> None:
    with pytest.raises(DevPkiError):
        ensure_dev_pki(signing_tmp_pki_dir, {"../etc": "Evil"})


def test_dev_certificates_say_development(signing_pki: DevPki) -> None:
    root = _cert(signing_pki.root_cert_path)
    signer = _cert(signing_pki.agency_paths["dlt"][1])

    def attr(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
        return str(cert.subject.get_attributes_for_oid(oid)[0].value)

    assert attr(root, NameOID.COMMON_NAME) == "Tra DEVELOPMENT Root CA"
    assert attr(signer, NameOID.COMMON_NAME) == "Department of Land Transport Document Signing (DEVELOPMENT)"
    for cert in (root, signer):
        assert attr(cert, NameOID.ORGANIZATION_NAME) == ("Tra (DEVELOPMENT ONLY - NOT FOR PRODUCTION)")
        assert attr(cert, NameOID.COUNTRY_NAME) == "TH"


@pytest.mark.parametrize(
    ("english_name", "expected"),
    [
        ("Department of Land Transport", "Department of Land Transport Document Signing (DEVELOPMENT)"),
        ("Department of Provincial Administration", "Department of Provincial Administration (DEVELOPMENT)"),
        ("A" * 80, "A" * 47 + "... (DEVELOPMENT)"),
    ],
)
def test_signer_common_name_fits_64_characters(english_name: str, expected: str) -> None:
    name = signer_common_name(english_name)
    assert name == expected
    assert len(name) <= 64


def test_dev_signing_certificate_chains_to_root(signing_pki: DevPki) -> None:
    root = _cert(signing_pki.root_cert_path)
    for _key_path, cert_path in signing_pki.agency_paths.values():
        signer = _cert(cert_path)
        signer.verify_directly_issued_by(root)  # raises if the signature is wrong
        ku = signer.extensions.get_extension_for_class(x509.KeyUsage).value
        assert ku.digital_signature and ku.content_commitment
        assert not signer.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        eku = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
        aki = signer.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        assert aki.key_identifier == ski.digest
        lifetime = signer.not_valid_after_utc - signer.not_valid_before_utc
        assert 5 * 365 <= lifetime.days <= 5 * 366
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    root_lifetime = root.not_valid_after_utc - root.not_valid_before_utc
    assert 20 * 365 <= root_lifetime.days <= 20 * 366


def test_foreign_pki_is_a_different_root(signing_pki: DevPki, signing_foreign_pki: DevPki) -> None:
    ours = _cert(signing_pki.root_cert_path)
    foreign = _cert(signing_foreign_pki.root_cert_path)
    assert ours.subject == foreign.subject  # same names on purpose
    assert ours.public_key() != foreign.public_key()
    with pytest.raises(Exception):  # noqa: B017 - any verification failure will do
        _cert(signing_foreign_pki.agency_paths["dlt"][1]).verify_directly_issued_by(ours)


# --- keys -----------------------------------------------------------------------------


def test_identity_fields(signing_identity: SigningIdentity, signing_pki: DevPki) -> None:
    cert_der = _cert(signing_pki.agency_paths["dlt"][1]).public_bytes(Encoding.DER)
    assert signing_identity.agency == "dlt"
    assert signing_identity.key_id == hashlib.sha256(cert_der).hexdigest()
    assert signing_identity.certificate.dump() == cert_der
    assert signing_identity.subject == ("Department of Land Transport Document Signing (DEVELOPMENT)")


def test_keyring_loads_each_agency_once(signing_identity: SigningIdentity) -> None:
    calls: list[str] = []

    def loader(agency: str) -> SigningIdentity:
        calls.append(agency)
        return signing_identity

    ring = KeyRing(loader)
    first = ring.get("dlt")
    second = ring.get("dlt")

    assert first is second is signing_identity
    assert calls == ["dlt"]


def test_keyring_reports_an_unconfigured_agency(signing_pki: DevPki) -> None:
    ring = KeyRing(file_identity_loader(signing_pki.agency_paths))

    with pytest.raises(KeyNotConfigured):
        ring.get("nope")
    assert ring.get("dopa").subject.startswith("Department of Provincial Administration")


def test_bad_key_path_raises_key_load_error(signing_pki: DevPki, tmp_path: Path) -> None:
    _key_path, cert_path = signing_pki.agency_paths["dlt"]
    with pytest.raises(KeyLoadError, match="does not exist"):
        load_file_identity("dlt", tmp_path / "missing.key.pem", cert_path)


def test_bad_pem_raises_key_load_error(signing_pki: DevPki, tmp_path: Path) -> None:
    key_path, cert_path = signing_pki.agency_paths["dlt"]
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")

    with pytest.raises(KeyLoadError):
        load_file_identity("dlt", garbage, cert_path)
    with pytest.raises(KeyLoadError):
        load_file_identity("dlt", key_path, garbage)


def test_key_that_does_not_match_the_certificate_is_refused(signing_pki: DevPki) -> None:
    dlt_key, _ = signing_pki.agency_paths["dlt"]
    _, dopa_cert = signing_pki.agency_paths["dopa"]
    with pytest.raises(KeyLoadError, match="does not match"):
        load_file_identity("dlt", dlt_key, dopa_cert)


def test_load_trust_roots(signing_pki: DevPki, signing_foreign_pki: DevPki) -> None:
    roots = load_trust_roots([signing_pki.root_cert_path, signing_foreign_pki.root_cert_path])
    assert len(roots) == 2
    assert all(isinstance(root, asn1_x509.Certificate) for root in roots)
    with pytest.raises(KeyLoadError):
        load_trust_roots([signing_pki.root_cert_path.parent / "absent.pem"])


# --- signing --------------------------------------------------------------------------


def test_sign_pdf_appends_an_invisible_pades_signature(
    signing_unsigned_pdf: bytes, signed_pdf: bytes
) -> None:
    assert signed_pdf.startswith(signing_unsigned_pdf)  # incremental update
    update = signed_pdf[len(signing_unsigned_pdf) :]
    assert b"/ETSI.CAdES.detached" in update
    assert f"({SIGNATURE_FIELD})".encode() in update
    assert b"/DocMDP" not in update  # approval signature, not certification
    rect = re.search(rb"/Rect \[([^\]]*)\]", update)
    assert rect is not None and set(rect.group(1).split()) <= {b"0"}  # invisible


def test_sign_pdf_refuses_garbage(signing_identity: SigningIdentity) -> None:
    with pytest.raises(PdfSigningError):
        sign_pdf(b"not a pdf", signing_identity)


def test_sign_pdf_refuses_an_already_signed_field(
    signed_pdf: bytes, signing_identity: SigningIdentity
) -> None:
    with pytest.raises(PdfSigningError):
        sign_pdf(signed_pdf, signing_identity)
