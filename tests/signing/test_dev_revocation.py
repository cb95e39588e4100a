"""Development revocation data: the development CRL (served in-process, never over a network) that
lets ``make demo`` sign at B-LTA with the development PKI and the development TSA, and the
B-LTA documents of the development configuration checked by pyHanko's ETSI engine, the portal's
own file check, poppler's ``pdfsig`` and OpenSSL."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import shutil
import subprocess
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESPassed
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.errors import CRLFetchError
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

from portal.signing import (
    DevPki,
    FileFinding,
    RevocationInfoUnavailable,
    check_pdf_signature,
    ensure_dev_pki,
    load_file_identity,
    load_trust_roots,
    sign_pdf,
)
from portal.signing.devcrl import CRL_FILE, CRL_VALIDITY, DevRevocationFetcherBackend, dev_crl
from portal.signing.devpki import DEV_CRL_URL, TSA_COMMON_NAME, issue_signer_certificate, names_dev_crl
from portal.signing.revinfo import RevocationCache
from portal.signing.services import trust_services
from tests.conftest import bare_app, migrated_portal
from tests.loopback import LoopbackServer

AGENCY = {"dlt": "Department of Land Transport"}


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _dev_services(pki: DevPki):
    config = {"TSA_URL": "dev", "DEV_PKI_DIR": str(pki.root_cert_path.parent)}
    return trust_services(config, load_trust_roots([pki.root_cert_path]))


# --- the certificates ----------------------------------------------------------------


def test_dev_signer_and_tsa_certificates_name_the_dev_crl(signing_pki: DevPki) -> None:
    assert DEV_CRL_URL.startswith("http://") and ".invalid/" in DEV_CRL_URL  # RFC 2606: never resolves
    for path in [signing_pki.tsa_cert_path, *(cert for _key, cert in signing_pki.agency_paths.values())]:
        points = _cert(path).extensions.get_extension_for_class(x509.CRLDistributionPoints)
        assert not points.critical
        assert [n.value for p in points.value for n in p.full_name] == [DEV_CRL_URL], path
    assert not names_dev_crl(_cert(signing_pki.root_cert_path))  # the root is the anchor: no CRL


def _without_crl_point(cert: x509.Certificate, pki: DevPki) -> x509.Certificate:
    """``cert`` as the development PKI issued it before the CRL existed (same key, no CRL point)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(cert.subject)
        .issuer_name(cert.issuer)
        .public_key(cert.public_key())
        .serial_number(cert.serial_number)
        .not_valid_before(cert.not_valid_before_utc)
        .not_valid_after(cert.not_valid_after_utc)
    )
    for extension in cert.extensions:
        if not isinstance(extension.value, x509.CRLDistributionPoints):
            builder = builder.add_extension(extension.value, extension.critical)
    root_key = serialization.load_pem_private_key(pki.root_key_path.read_bytes(), password=None)
    return builder.sign(root_key, hashes.SHA256())


def test_dev_certificates_without_the_crl_point_are_reissued_for_the_same_keys(
    signing_tmp_pki_dir: Path,
) -> None:
    pki = ensure_dev_pki(signing_tmp_pki_dir, AGENCY)
    key_path, cert_path = pki.agency_paths["dlt"]
    for path in (cert_path, pki.tsa_cert_path):
        old = _without_crl_point(_cert(path), pki)
        path.write_bytes(old.public_bytes(serialization.Encoding.PEM))
        assert not names_dev_crl(_cert(path))
    old_public = {p: _cert(p).public_key().public_numbers() for p in (cert_path, pki.tsa_cert_path)}
    keys_and_root = {
        p: p.read_bytes() for p in (key_path, pki.tsa_key_path, pki.root_cert_path, pki.root_key_path)
    }

    again = ensure_dev_pki(signing_tmp_pki_dir, AGENCY)

    assert again == pki
    root = _cert(pki.root_cert_path)
    for path in (cert_path, pki.tsa_cert_path):
        new = _cert(path)
        assert names_dev_crl(new)
        assert new.public_key().public_numbers() == old_public[path]  # the same key
        new.verify_directly_issued_by(root)
    assert {p: p.read_bytes() for p in keys_and_root} == keys_and_root
    # Idempotent: a third call re-issues nothing.
    issued = {p: p.read_bytes() for p in (cert_path, pki.tsa_cert_path)}
    ensure_dev_pki(signing_tmp_pki_dir, AGENCY)
    assert {p: p.read_bytes() for p in issued} == issued


# --- the CRL -------------------------------------------------------------------------


def test_the_dev_crl_is_the_roots_lists_nothing_and_is_renewed_when_stale(signing_tmp_pki_dir: Path) -> None:
    pki = ensure_dev_pki(signing_tmp_pki_dir, {})
    root = _cert(pki.root_cert_path)
    t0 = dt.datetime.now(dt.UTC)

    first = dev_crl(signing_tmp_pki_dir, now=t0)

    parsed = x509.load_der_x509_crl(first.dump())
    assert parsed.issuer == root.subject and parsed.is_signature_valid(root.public_key())
    assert len(parsed) == 0  # nothing revoked
    assert parsed.last_update_utc <= t0 < parsed.next_update_utc
    assert parsed.next_update_utc - parsed.last_update_utc == CRL_VALIDITY
    assert parsed.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
    assert (signing_tmp_pki_dir / CRL_FILE).read_bytes() == first.dump()

    # A day later the same CRL is handed out; after half its validity a new one (next number).
    assert dev_crl(signing_tmp_pki_dir, now=t0 + dt.timedelta(days=1)).dump() == first.dump()
    later = x509.load_der_x509_crl(dev_crl(signing_tmp_pki_dir, now=t0 + dt.timedelta(days=4)).dump())
    assert later.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    assert later.last_update_utc > t0 + dt.timedelta(days=3)

    # A broken file is replaced, not served.
    (signing_tmp_pki_dir / CRL_FILE).write_bytes(b"not a CRL")
    again = x509.load_der_x509_crl(dev_crl(signing_tmp_pki_dir, now=t0).dump())
    assert again.is_signature_valid(root.public_key())


class _CountingServer(LoopbackServer):
    """An HTTP server on loopback that counts every request it gets (to prove none came)."""

    def __init__(self) -> None:
        self.requests = 0
        super().__init__(self._count, quiet=True)

    def _count(self, environ, start_response):
        self.requests += 1
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]


def test_the_dev_fetcher_answers_the_dev_crl_only_and_never_uses_the_network(signing_pki: DevPki) -> None:
    directory = signing_pki.root_cert_path.parent
    root = _cert(signing_pki.root_cert_path)
    root_key = serialization.load_pem_private_key(signing_pki.root_key_path.read_bytes(), password=None)
    server = _CountingServer()
    try:
        now = dt.datetime.now(dt.UTC)
        elsewhere = issue_signer_certificate(
            _cert(signing_pki.agency_paths["dlt"][1]).public_key(),
            common_name="Elsewhere (DEVELOPMENT)",
            root_cert=root,
            root_key=root_key,
            not_before=now - dt.timedelta(minutes=5),
            not_after=now + dt.timedelta(days=1),
            crl_url=f"{server.url}/root.crl",
        )
        fetchers = DevRevocationFetcherBackend(directory).get_fetchers()
        ours = _asn1(_cert(signing_pki.agency_paths["dlt"][1]))
        (fetched,) = asyncio.run(fetchers.crl_fetcher.fetch(ours))
        assert fetched.dump() == (directory / CRL_FILE).read_bytes()
        with pytest.raises(CRLFetchError, match="refusing"):
            asyncio.run(fetchers.crl_fetcher.fetch(_asn1(elsewhere)))

        cache = RevocationCache(
            load_trust_roots([signing_pki.root_cert_path]),
            fetcher_backend=DevRevocationFetcherBackend(directory),
        )
        with pytest.raises(RevocationInfoUnavailable):
            cache.info_for(_asn1(elsewhere))
        info = cache.info_for(ours)
        assert not info.ocsps and [c.dump() for c in info.crls] == [fetched.dump()]
        assert server.requests == 0
    finally:
        server.close()


def test_revocation_data_is_fetched_once_for_many_documents(
    signing_unsigned_pdf: bytes, signing_tmp_pki_dir: Path
) -> None:
    pki = ensure_dev_pki(signing_tmp_pki_dir, AGENCY)
    key_path, cert_path = pki.agency_paths["dlt"]
    identity = load_file_identity("dlt", key_path, cert_path, [pki.root_cert_path])
    services = _dev_services(pki)
    assert isinstance(services.revocation.fetcher_backend, DevRevocationFetcherBackend)

    for _ in range(3):
        signed = sign_pdf(signing_unsigned_pdf, identity, level="B-LTA", services=services)
        check = check_pdf_signature(signed, load_trust_roots([pki.root_cert_path]))
        assert (check.finding, check.level) == (FileFinding.INTACT, "B-LTA"), check.detail

    assert services.revocation.fetch_count == 2  # the signer's and the TSA's path, once each


# --- configuration -------------------------------------------------------------------


@pytest.mark.parametrize("settings", [{"SIGNATURE_LEVEL": "B-LTA"}, {"SIGNATURE_LEVEL_DLT": "B-LT"}])
def test_the_dev_tsa_now_serves_b_lt_and_b_lta(tmp_path: Path, settings: dict) -> None:
    app = bare_app(tmp_path, "testing", TSA_URL="dev", **settings)
    assert app.config["TSA_URL"] == "dev"


def test_development_defaults_to_b_lta_and_production_refuses_dev_revocation(
    tmp_path: Path, signing_trust_roots
) -> None:
    if os.environ.get("SIGNATURE_LEVEL") or os.environ.get("TSA_URL"):
        pytest.skip("SIGNATURE_LEVEL / TSA_URL set in the environment")
    development = bare_app(tmp_path, "development").config
    assert (development["SIGNATURE_LEVEL"], development["TSA_URL"]) == ("B-LTA", "dev")

    with pytest.raises(RuntimeError, match="TSA_URL=dev"):
        bare_app(tmp_path, "production", TSA_URL="dev", SIGNATURE_LEVEL="B-LTA", SAMPLE_DOCUMENTS=False)
    sample = bare_app(tmp_path, "production", TSA_URL="dev", SIGNATURE_LEVEL="B-LTA", SAMPLE_DOCUMENTS=True)
    assert sample.config["SIGNATURE_LEVEL"] == "B-LTA"

    # The services refuse it too, whoever asks (not only create_app).
    config = {"ENV_NAME": "production", "SAMPLE_DOCUMENTS": False, "TSA_URL": "dev", "DEV_PKI_DIR": "x"}
    with pytest.raises(ValueError, match="refused in production"):
        trust_services(config, signing_trust_roots)


# --- the development configuration, end to end --------------------------------------


@pytest.fixture(scope="module")
def development_app(tmp_path_factory, registry_url):
    """The portal in its ``make demo`` configuration (development), on its own migrated database,
    with a development PKI made before the CRL existed (its agency certificate has no CRL point)."""
    if os.environ.get("SIGNATURE_LEVEL") or os.environ.get("TSA_URL"):
        pytest.skip("SIGNATURE_LEVEL / TSA_URL set in the environment")
    tmp = tmp_path_factory.mktemp("development-lta")
    pki_dir = tmp / "pki"
    old = ensure_dev_pki(pki_dir, AGENCY)
    cert_path = old.agency_paths["dlt"][1]
    cert_path.write_bytes(_without_crl_point(_cert(cert_path), old).public_bytes(serialization.Encoding.PEM))
    with migrated_portal(
        tmp, "devlta", registry_url, pki_dir, config="development", DEV_IDP_ENABLED=False
    ) as application:
        yield application
    shutil.rmtree(pki_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def demo_document(development_app) -> tuple[bytes, DevPki, str]:
    """``(pdf, development PKI, recorded level)`` of a document issued by the pipeline."""
    from portal.services import runtime
    from portal.services.issuance_requests import issue_for_subject

    with development_app.app_context():
        request = issue_for_subject(issuer_id="dlt", type_id="driving-licence", pid="1101700123456")[
            0
        ]
        certificate = request.certificate
        return runtime.blob_store().get(certificate.sha256), runtime.dev_pki(), certificate.signature_level


def test_the_pipeline_issues_b_lta_and_reissued_the_old_certificate(demo_document) -> None:
    pdf, pki, level = demo_document
    assert level == "B-LTA"
    assert names_dev_crl(_cert(pki.agency_paths["dlt"][1]))  # re-issued on the first use
    signatures = PdfFileReader(BytesIO(pdf)).embedded_signatures
    assert [s.field_name for s in signatures] == ["TraSignature", "TraDocumentTimestamp"]


def test_the_demo_document_passes_etsi_lta_validation_offline(demo_document) -> None:
    pdf, pki, _level = demo_document
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=CertValidationPolicySpec(
                trust_manager=SimpleTrustManager.build(trust_roots=load_trust_roots([pki.root_cert_path])),
                revinfo_policy=CertRevTrustPolicy(revocation_checking_policy=REQUIRE_REVINFO),
            ),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
        )
    )
    signature = PdfFileReader(BytesIO(pdf)).embedded_signatures[0]

    result = asyncio.run(ades_lta_validation(signature, spec))

    assert result.ades_subindic == AdESPassed.OK, result.api_status.pretty_print_details()
    assert result.api_status.bottom_line


def test_the_portals_file_check_finds_b_lta_with_a_good_crl(demo_document) -> None:
    pdf, pki, _level = demo_document

    check = check_pdf_signature(pdf, load_trust_roots([pki.root_cert_path]))

    assert check.finding is FileFinding.INTACT, check.detail
    assert (check.indication, check.sub_indication) == ("TOTAL-PASSED", None)
    assert check.level == "B-LTA"
    assert (check.revocation.source, check.revocation.status) == ("crl", "good")
    assert check.timestamp_time is not None and check.archive_timestamp_time is not None


def _pdfsig(path: Path) -> list[str]:
    """pdfsig's report per signature (``-nocert``: no NSS database; it exits 0 even for a broken file)."""
    out = subprocess.run(
        ["pdfsig", "-nocert", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    return re.split(r"^Signature #\d+:$", out.stdout, flags=re.MULTILINE)[1:]


@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler-utils not installed")
def test_pdfsig_reads_both_signatures_of_the_demo_document(demo_document, tmp_path: Path) -> None:
    """What poppler (22.12 here) can and cannot say about a B-LTA file.

    The signature (SubFilter ETSI.CAdES.detached) is verified: "Signature is Valid.". The document
    timestamp has SubFilter ETSI.RFC3161, which poppler does not know (its list is adbe.pkcs7.sha1,
    adbe.pkcs7.detached, ETSI.CAdES.detached, and in later releases a PGP type): it prints
    "Signature Type: unknown", no signing time (the epoch) and "Signature has not yet been
    verified" with an "Unimplemented Feature" error, without looking at the CMS. It still reports
    the byte ranges, so "Total document signed" is poppler's own word that the timestamp covers
    every byte. The timestamp's CMS is checked by pyHanko above and by OpenSSL below.
    """
    pdf, _pki, _level = demo_document
    path = tmp_path / "demo-b-lta.pdf"
    path.write_bytes(pdf)

    signature, timestamp = _pdfsig(path)

    assert "Signature Field Name: TraSignature" in signature
    assert "Signature Type: ETSI.CAdES.detached" in signature
    assert "Signature Validation: Signature is Valid." in signature
    assert "Not total document signed" in signature  # the DSS and the timestamp follow it
    assert "Signature Field Name: TraDocumentTimestamp" in timestamp
    assert f"Signer Certificate Common Name: {TSA_COMMON_NAME}" in timestamp
    assert "Total document signed" in timestamp and "Not total" not in timestamp
    assert "Signature Type: unknown" in timestamp
    assert "Signature has not yet been verified." in timestamp
    assert "Mismatch" not in timestamp and "Invalid" not in timestamp


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_verifies_the_document_timestamp_over_the_whole_file(demo_document, tmp_path: Path) -> None:
    """An RFC 3161 implementation other than pyHanko checks the document timestamp's token against
    the bytes it covers (the whole file but its own /Contents) and the development root."""
    pdf, pki, _level = demo_document
    timestamp = PdfFileReader(BytesIO(pdf)).embedded_signatures[1]
    start1, length1, start2, length2 = (int(n) for n in timestamp.sig_object["/ByteRange"])
    assert start1 == 0 and start2 + length2 == len(pdf)
    (tmp_path / "covered.bin").write_bytes(pdf[start1 : start1 + length1] + pdf[start2 : start2 + length2])
    token = cms.ContentInfo.load(timestamp.sig_object["/Contents"])  # asn1crypto ignores the zero padding
    (tmp_path / "token.der").write_bytes(token.dump())

    def verify(data: str) -> subprocess.CompletedProcess:
        command = ["openssl", "ts", "-verify", "-token_in", "-in", "token.der", "-data", data]
        return subprocess.run(
            [*command, "-CAfile", str(pki.root_cert_path)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )

    ok = verify("covered.bin")
    assert ok.returncode == 0 and "Verification: OK" in ok.stdout, ok.stdout + ok.stderr
    (tmp_path / "changed.bin").write_bytes(b"X" + (tmp_path / "covered.bin").read_bytes()[1:])
    assert verify("changed.bin").returncode != 0


@pytest.mark.skipif(
    shutil.which("pdfsig") is None or shutil.which("certutil") is None,
    reason="needs poppler-utils and certutil (Debian libnss3-tools)",
)
def test_pdfsig_trusts_the_signer_with_the_dev_root_in_its_nss_database(
    demo_document, tmp_path: Path
) -> None:
    """With the development root trusted in an NSS database, poppler also accepts the signer's
    certificate (NSS fetches no CRL: the .invalid distribution point is never looked up)."""
    pdf, pki, _level = demo_document
    nss = tmp_path / "nssdb"
    nss.mkdir()
    for command in (
        ["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"],
        [
            "certutil",
            "-A",
            "-d",
            f"sql:{nss}",
            "-n",
            "dev root",
            "-t",
            "C,C,C",
            "-a",
            "-i",
            str(pki.root_cert_path),
        ],
    ):
        subprocess.run(command, check=True, capture_output=True, timeout=60)
    path = tmp_path / "demo-b-lta.pdf"
    path.write_bytes(pdf)

    out = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{nss}", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    signature, timestamp = re.split(r"^Signature #\d+:$", out.stdout, flags=re.MULTILINE)[1:]

    assert (
        "Signature is Valid." in signature and "Certificate Validation: Certificate is Trusted." in signature
    )
    assert "Total document signed" in timestamp and "Signature has not yet been verified." in timestamp
