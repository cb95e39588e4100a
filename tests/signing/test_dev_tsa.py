"""The development time-stamping authority (``TSA_URL=dev``): its certificate in the development
PKI, B-T signatures with it that pyHanko validates, and the configuration that makes the demo
use it while the test suite and production keep their own defaults. (The demo's B-LTA, with the
development CRL: tests/signing/test_dev_revocation.py.)"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import stat
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.general import find_unique_cms_attribute
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko.sign.timestamps.common_utils import dummy_digest
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from portal import config as portal_config
from portal.signing import DevPki, SigningIdentity, ensure_dev_pki, load_trust_roots, sign_pdf
from portal.signing.devpki import DEV_ORGANIZATION, TSA_COMMON_NAME
from portal.signing.services import trust_services
from portal.signing.signer import SignatureLevel, TrustServices
from portal.signing.timestamps import (
    DEV_TSA_URL,
    dummy_timestamp_token,
    is_development_tsa,
    tsa_certificates,
)
from tests.conftest import bare_app, migrated_portal

ROOT = Path(__file__).resolve().parents[2]


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _dev_services(pki: DevPki) -> TrustServices:
    services = trust_services(
        {"TSA_URL": DEV_TSA_URL, "DEV_PKI_DIR": str(pki.root_cert_path.parent)},
        load_trust_roots([pki.root_cert_path]),
    )
    assert services is not None
    return services


def _signature_status(pdf: bytes, roots: list[asn1_x509.Certificate]):
    signature = PdfFileReader(BytesIO(pdf)).embedded_signatures[0]
    return validate_pdf_signature(signature, ValidationContext(trust_roots=roots, allow_fetching=False))


# --- the certificate ----------------------------------------------------------------


def test_the_dev_pki_has_a_time_stamping_certificate_from_its_root(signing_pki: DevPki) -> None:
    root = _cert(signing_pki.root_cert_path)
    tsa = _cert(signing_pki.tsa_cert_path)

    tsa.verify_directly_issued_by(root)
    assert tsa.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == TSA_COMMON_NAME
    assert "DEVELOPMENT" in TSA_COMMON_NAME
    assert tsa.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == DEV_ORGANIZATION
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]  # RFC 3161 2.3
    key_usage = tsa.extensions.get_extension_for_class(x509.KeyUsage)
    assert key_usage.critical and key_usage.value.digital_signature
    assert not key_usage.value.content_commitment and not key_usage.value.key_cert_sign
    assert tsa.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert tsa.not_valid_after_utc <= root.not_valid_after_utc

    # pyHanko's in-process TSA signs with RSA only.
    key = serialization.load_pem_private_key(signing_pki.tsa_key_path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.public_key().public_numbers() == tsa.public_key().public_numbers()
    assert stat.S_IMODE(signing_pki.tsa_key_path.stat().st_mode) == 0o600


def test_an_existing_dev_pki_without_a_tsa_gets_one_and_keeps_everything_else(
    signing_tmp_pki_dir: Path,
) -> None:
    pki = ensure_dev_pki(signing_tmp_pki_dir, {"dlt": "Department of Land Transport"})
    pki.tsa_cert_path.unlink()
    pki.tsa_key_path.unlink()  # a PKI made before the TSA existed
    before = {p: p.read_bytes() for p in signing_tmp_pki_dir.rglob("*.pem")}

    again = ensure_dev_pki(signing_tmp_pki_dir, {"dlt": "Department of Land Transport"})

    assert again == pki
    assert {p: p.read_bytes() for p in before} == before  # root and signer untouched
    _cert(again.tsa_cert_path).verify_directly_issued_by(_cert(again.root_cert_path))
    tsa_bytes = again.tsa_cert_path.read_bytes()
    ensure_dev_pki(signing_tmp_pki_dir, {})  # only the root and the TSA: nothing new
    assert again.tsa_cert_path.read_bytes() == tsa_bytes


def test_a_tsa_certificate_without_its_key_is_replaced(signing_tmp_pki_dir: Path) -> None:
    pki = ensure_dev_pki(signing_tmp_pki_dir, {})
    old = pki.tsa_cert_path.read_bytes()
    pki.tsa_key_path.unlink()

    ensure_dev_pki(signing_tmp_pki_dir, {})

    key = serialization.load_pem_private_key(pki.tsa_key_path.read_bytes(), password=None)
    assert pki.tsa_cert_path.read_bytes() != old
    assert key.public_key().public_numbers() == _cert(pki.tsa_cert_path).public_key().public_numbers()


# --- signing with it ----------------------------------------------------------------


@pytest.fixture(scope="module")
def dev_b_t_pdf(signing_unsigned_pdf: bytes, signing_identity: SigningIdentity, signing_pki: DevPki) -> bytes:
    return sign_pdf(
        signing_unsigned_pdf,
        signing_identity,
        reason="Test certificate",
        location="Bangkok",
        level=SignatureLevel.B_T,
        services=_dev_services(signing_pki),
    )


def test_a_b_t_signature_with_the_dev_tsa_is_intact_and_trusted_against_the_dev_root(
    dev_b_t_pdf: bytes, signing_trust_roots
) -> None:
    before = dt.datetime.now(dt.UTC)
    status = _signature_status(dev_b_t_pdf, signing_trust_roots)

    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.coverage.name == "ENTIRE_FILE"
    ts = status.timestamp_validity
    assert ts is not None and ts.intact and ts.valid and ts.trusted, ts
    assert ts.signing_cert.subject.native["common_name"] == TSA_COMMON_NAME
    assert is_development_tsa(ts.signing_cert)
    assert not is_development_tsa(status.signing_cert)  # the agency's signer is not a TSA
    assert abs(ts.timestamp - before) < dt.timedelta(minutes=5)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_verifies_the_dev_tsa_token_against_the_dev_root(
    dev_b_t_pdf: bytes, signing_pki: DevPki, signing_foreign_pki: DevPki, tmp_path: Path
) -> None:
    """A second, independent RFC 3161 implementation accepts the token (and its critical EKU)."""
    signer_info = PdfFileReader(BytesIO(dev_b_t_pdf)).embedded_signatures[0].signer_info
    token = find_unique_cms_attribute(signer_info["unsigned_attrs"], "signature_time_stamp_token")
    (tmp_path / "token.der").write_bytes(token.dump())
    (tmp_path / "signature.bin").write_bytes(signer_info["signature"].native)  # what was stamped

    def verify(root: Path) -> subprocess.CompletedProcess:
        command = ["openssl", "ts", "-verify", "-token_in", "-in", "token.der", "-data", "signature.bin"]
        return subprocess.run(
            [*command, "-CAfile", str(root)], cwd=tmp_path, capture_output=True, text=True, check=False
        )

    ours = verify(signing_pki.root_cert_path)
    assert ours.returncode == 0 and "Verification: OK" in ours.stdout, ours.stdout + ours.stderr
    assert verify(signing_foreign_pki.root_cert_path).returncode != 0


def test_the_dev_tsa_of_another_pki_is_not_trusted(
    signing_unsigned_pdf: bytes,
    signing_identity: SigningIdentity,
    signing_foreign_pki: DevPki,
    signing_trust_roots,
) -> None:
    signed = sign_pdf(
        signing_unsigned_pdf, signing_identity, level="B-T", services=_dev_services(signing_foreign_pki)
    )

    status = _signature_status(signed, signing_trust_roots)

    assert status.intact and status.trusted  # our signer, our root
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.intact and not status.timestamp_validity.trusted


def test_pyhankos_dummy_time_stamper_can_use_the_dev_tsa_key_too(signing_pki: DevPki) -> None:
    """The key type is the one pyHanko's own in-process TSA supports (RSA)."""
    der = serialization.load_pem_private_key(signing_pki.tsa_key_path.read_bytes(), None).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    stamper = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(
            _cert(signing_pki.tsa_cert_path).public_bytes(serialization.Encoding.DER)
        ),
        tsa_key=keys.PrivateKeyInfo.load(der),
    )

    token = asyncio.run(stamper.async_timestamp(dummy_digest("sha256"), "sha256"))

    assert token["content"]["signer_infos"][0]["signature_algorithm"]["algorithm"].native == "rsassa_pkcs1v15"


def test_sizing_and_tsa_certificates_work_without_http(signing_pki: DevPki) -> None:
    services = _dev_services(signing_pki)

    token = dummy_timestamp_token(services.timestamper)
    leaves, _others = tsa_certificates(services.timestamper)

    assert token["content_type"].native == "signed_data"
    assert [leaf.subject.native["common_name"] for leaf in leaves] == [TSA_COMMON_NAME]
    assert (
        leaves[0].dump()
        == asn1_x509.Certificate.load(
            _cert(signing_pki.tsa_cert_path).public_bytes(serialization.Encoding.DER)
        ).dump()
    )


def test_trust_services_build_one_dev_tsa_per_process_and_pki(
    signing_pki: DevPki, signing_foreign_pki: DevPki
) -> None:
    assert _dev_services(signing_pki) is _dev_services(signing_pki)
    assert _dev_services(signing_pki).timestamper is not _dev_services(signing_foreign_pki).timestamper
    with pytest.raises(ValueError, match="DEV_PKI_DIR"):
        trust_services({"TSA_URL": "dev"}, load_trust_roots([signing_pki.root_cert_path]))


# --- configuration ------------------------------------------------------------------


def test_the_config_and_the_signing_code_agree_on_the_reserved_value() -> None:
    assert portal_config.DEV_TSA_URL == DEV_TSA_URL == "dev"


def test_development_signs_at_b_lta_with_the_dev_tsa_and_testing_keeps_b_b(tmp_path: Path) -> None:
    if os.environ.get("SIGNATURE_LEVEL") or os.environ.get("TSA_URL"):
        pytest.skip("SIGNATURE_LEVEL / TSA_URL set in the environment")
    development = bare_app(tmp_path, "development").config
    testing = bare_app(tmp_path, "testing").config

    assert (development["SIGNATURE_LEVEL"], development["TSA_URL"]) == ("B-LTA", "dev")
    assert (testing["SIGNATURE_LEVEL"], testing["TSA_URL"]) == ("B-B", None)


def test_production_defaults_follow_sample_documents() -> None:
    """ProductionConfig reads the environment when imported: ask a fresh interpreter."""
    code = "from portal.config import ProductionConfig as C; print(C.SIGNATURE_LEVEL, C.TSA_URL)"
    env = {k: v for k, v in os.environ.items() if k not in ("SIGNATURE_LEVEL", "TSA_URL")}

    def defaults(sample: str) -> str:
        env["PORTAL_SAMPLE_DOCUMENTS"] = sample
        run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    assert defaults("1") == "B-T dev"
    assert defaults("0") == "B-LTA None"


def test_production_refuses_the_dev_tsa_with_a_plain_message(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="TSA_URL=dev is the development time-stamping authority"):
        bare_app(tmp_path, "production", TSA_URL="dev", SIGNATURE_LEVEL="B-T", SAMPLE_DOCUMENTS=False)
    # A portal that issues SAMPLE documents signs with the development PKI anyway.
    app = bare_app(tmp_path, "production", TSA_URL="dev", SIGNATURE_LEVEL="B-T", SAMPLE_DOCUMENTS=True)
    assert app.config["TSA_URL"] == "dev"


# --- the demo's configuration, end to end -------------------------------------------


@pytest.fixture(scope="module")
def development_app(tmp_path_factory, registry_url):
    """The portal in its ``make demo`` configuration (development) at B-T, on its own migrated database."""
    if os.environ.get("SIGNATURE_LEVEL") or os.environ.get("TSA_URL"):
        pytest.skip("SIGNATURE_LEVEL / TSA_URL set in the environment")
    tmp = tmp_path_factory.mktemp("development")
    pki_dir = tmp / "pki"
    with migrated_portal(
        tmp,
        "devtsa",
        registry_url,
        pki_dir,
        config="development",
        DEV_IDP_ENABLED=False,
        SIGNATURE_LEVEL="B-T",  # the demo's default is B-LTA (test_dev_revocation.py)
    ) as application:
        yield application
    shutil.rmtree(pki_dir, ignore_errors=True)


def test_the_development_config_issues_b_t_documents_whose_timestamp_validates(development_app) -> None:
    from portal.services import runtime
    from portal.services.issuance_requests import issue_for_subject

    with development_app.app_context():
        request = issue_for_subject(issuer_id="dlt", type_id="driving-licence", pid="1101700123456")[
            0
        ]
        certificate = request.certificate
        pdf = runtime.blob_store().get(certificate.sha256)
        roots = load_trust_roots([runtime.dev_pki().root_cert_path])  # the dev root only

    assert certificate.signature_level == "B-T"
    status = _signature_status(pdf, roots)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    ts = status.timestamp_validity
    assert ts is not None and ts.intact and ts.valid and ts.trusted
    assert ts.signing_cert.subject.native["common_name"] == TSA_COMMON_NAME
