"""PAdES levels B-B, B-T, B-LT, B-LTA against the certomancer test PKI on loopback (tests/pki)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import shutil
import subprocess
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESPassed
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

from portal import clock
from portal.signing import FileFinding, check_pdf_signature
from portal.signing.errors import (
    PdfSigningError,
    RevocationInfoUnavailable,
    SignerCertificateUnusable,
    SigningServiceUnavailable,
    TimestampUnavailable,
)
from portal.signing.revinfo import RevocationCache
from portal.signing.signer import (
    SignatureLevel,
    TrustServices,
    parse_signature_level,
    sign_pdf,
)
from portal.signing.timestamps import http_timestamper
from tests.issuer_settings import change_issuer_settings
from tests.pki.plugin import CertomancerPki, PkiServer, closed_port_url

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")


@pytest.fixture(scope="module")
def services(pki: CertomancerPki) -> TrustServices:
    """One set of services for the module, as a worker process would hold."""
    return TrustServices(
        timestamper=http_timestamper(pki.tsa_url),
        revocation=RevocationCache(pki.trust_roots()),
    )


@pytest.fixture(scope="module")
def signed_levels(signing_unsigned_pdf: bytes, pki_identities, services: TrustServices) -> dict[str, bytes]:
    return {
        level: sign_pdf(
            signing_unsigned_pdf,
            pki_identities["dlt"],
            reason="Test certificate",
            location="Bangkok",
            level=level,
            services=services,
        )
        for level in LEVELS
    }


def _offline_context(pki: CertomancerPki) -> ValidationContext:
    return ValidationContext(trust_roots=pki.trust_roots(), allow_fetching=False)


def _dss(reader: PdfFileReader):
    return reader.root["/DSS"] if "/DSS" in reader.root else None


@pytest.mark.parametrize("level", LEVELS)
def test_each_level_is_intact_and_trusted_offline(
    level: str, signed_levels: dict[str, bytes], pki: CertomancerPki, pki_server: PkiServer
) -> None:
    before = pki_server.counter.snapshot()
    reader = PdfFileReader(BytesIO(signed_levels[level]))
    signatures = reader.embedded_signatures

    status = validate_pdf_signature(signatures[0], _offline_context(pki))
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.signer_reported_dt is not None
    has_ts = status.timestamp_validity is not None
    assert has_ts is (level != "B-B")
    if has_ts:
        assert status.timestamp_validity.intact and status.timestamp_validity.trusted

    dss = _dss(reader)
    if level in ("B-LT", "B-LTA"):
        assert dss is not None and len(dss["/OCSPs"]) >= 1 and len(dss["/CRLs"]) >= 1
    else:
        assert dss is None

    if level == "B-LTA":
        assert [s.field_name for s in signatures] == ["TraSignature", "TraDocumentTimestamp"]
        ts_status = validate_pdf_timestamp(signatures[1], validation_context=_offline_context(pki))
        assert ts_status.intact and ts_status.valid and ts_status.trusted
        assert signatures[1].coverage.name == "ENTIRE_FILE"
    else:
        assert len(signatures) == 1
    if level in ("B-B", "B-T"):
        assert status.coverage.name == "ENTIRE_FILE"
    else:
        # The DSS (and document timestamp) come after the signature, as allowed updates only.
        assert status.coverage.name == "ENTIRE_REVISION"
        assert status.modification_level.name == "LTA_UPDATES"
    # Validation touched no service: everything it needed was in the file or the context.
    assert pki_server.counter.snapshot() == before


@pytest.mark.parametrize("level", LEVELS)
def test_the_file_check_reports_the_level_it_finds(
    level: str, signed_levels: dict[str, bytes], pki: CertomancerPki, pki_server: PkiServer
) -> None:
    before = pki_server.counter.snapshot()
    result = check_pdf_signature(signed_levels[level], pki.trust_roots())

    assert result.finding is FileFinding.INTACT, result.detail
    assert (result.indication, result.sub_indication) == ("TOTAL-PASSED", None)
    assert result.level == level
    assert result.changes == ("archival" if level in ("B-LT", "B-LTA") else "none")
    assert (result.timestamp_time is not None) is (level != "B-B")
    assert (result.archive_timestamp_time is not None) is (level == "B-LTA")
    if level in ("B-LT", "B-LTA"):
        # The OCSP response embedded at signing time vouches for the signer.
        assert result.revocation.source == "ocsp" and result.revocation.status == "good"
        assert result.revocation.produced_at is not None
    else:
        assert result.revocation.status == "not_in_file"
    assert len(result.chain) == 3  # signer, intermediate, root
    assert pki_server.counter.snapshot() == before


def test_bytes_appended_to_a_b_lta_file_fail_its_constraints(
    signed_levels: dict[str, bytes], pki: CertomancerPki
) -> None:
    result = check_pdf_signature(signed_levels["B-LTA"] + b"\n% added later\n", pki.trust_roots())

    assert result.finding is FileFinding.ALTERED
    assert (result.indication, result.sub_indication) == ("TOTAL-FAILED", "SIG_CONSTRAINTS_FAILURE")
    assert result.changes == "appended_data"


def test_b_lta_passes_etsi_lta_validation_without_network(
    signed_levels: dict[str, bytes], pki: CertomancerPki, pki_server: PkiServer
) -> None:
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=CertValidationPolicySpec(
                trust_manager=SimpleTrustManager.build(trust_roots=pki.trust_roots()),
                revinfo_policy=CertRevTrustPolicy(revocation_checking_policy=REQUIRE_REVINFO),
            ),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
        )
    )
    before = pki_server.counter.snapshot()

    def ades(level: str):
        sig = PdfFileReader(BytesIO(signed_levels[level])).embedded_signatures[0]
        return asyncio.run(ades_lta_validation(sig, spec))

    result = ades("B-LTA")
    assert result.ades_subindic == AdESPassed.OK, result.api_status.pretty_print_details()
    assert result.api_status.bottom_line
    # B-B carries no revocation information: with fetching off it cannot pass.
    assert ades("B-B").ades_subindic != AdESPassed.OK
    assert pki_server.counter.snapshot() == before


def _pdfsig(path: Path) -> list[str]:
    """pdfsig's report split per signature (it exits 0 even for a broken file: read the text)."""
    out = subprocess.run(
        ["pdfsig", "-nocert", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    return re.split(r"^Signature #\d+:$", out.stdout, flags=re.MULTILINE)[1:]


@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler-utils not installed")
def test_pdfsig_sees_valid_signature_and_document_timestamp_over_whole_file(
    signed_levels: dict[str, bytes], tmp_path: Path
) -> None:
    good = tmp_path / "b-lta.pdf"
    good.write_bytes(signed_levels["B-LTA"])
    signature, timestamp = _pdfsig(good)
    assert "Signature Validation: Signature is Valid." in signature
    assert "Signature Field Name: TraDocumentTimestamp" in timestamp
    assert "Total document signed" in timestamp
    # poppler 22.12 cannot check an ETSI.RFC3161 document timestamp's CMS ("not yet been
    # verified"); it must at least not call it broken. pyHanko checks it above.
    assert "Mismatch" not in timestamp and "Invalid" not in timestamp

    # The same reading catches a changed byte inside the signed range.
    data = bytearray(signed_levels["B-LTA"])
    spot = data.index(b"/Type /Page") + 7
    data[spot : spot + 1] = b"X"
    bad = tmp_path / "b-lta-altered.pdf"
    bad.write_bytes(bytes(data))
    assert "Signature is Valid." not in _pdfsig(bad)[0]


def test_revocation_info_is_fetched_once_for_many_documents(
    signing_unsigned_pdf: bytes,
    pki: CertomancerPki,
    pki_identities,
    pki_server: PkiServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = RevocationCache(pki.trust_roots())
    services = TrustServices(timestamper=http_timestamper(pki.tsa_url), revocation=cache)
    before = pki_server.counter.snapshot()
    for _ in range(5):
        sign_pdf(signing_unsigned_pdf, pki_identities["dlt"], level="B-LTA", services=services)
    after = pki_server.counter.snapshot()
    assert after["ocsp"] - before["ocsp"] == 1  # the signer's OCSP response, once
    assert cache.fetch_count == 2  # signer and TSA certificate
    # two TSA requests per document (signature + document timestamp) plus one dummy request
    assert after["tsa"] - before["tsa"] == 5 * 2 + 1

    # Once the OCSP response (valid 10 minutes at certomancer) is about to expire: fetched again.
    later = clock.now() + dt.timedelta(minutes=9)
    monkeypatch.setattr(clock, "now", lambda: later)
    sign_pdf(signing_unsigned_pdf, pki_identities["dlt"], level="B-LT", services=services)
    assert pki_server.counter.snapshot()["ocsp"] - before["ocsp"] == 2


def test_b_b_uses_no_service(signing_unsigned_pdf: bytes, pki_identities, pki_server: PkiServer) -> None:
    before = pki_server.counter.snapshot()
    signed = sign_pdf(signing_unsigned_pdf, pki_identities["dlt"], level="B-B")
    assert signed.startswith(signing_unsigned_pdf)
    assert pki_server.counter.snapshot() == before


@pytest.mark.parametrize("level", ["B-T", "B-LTA"])
def test_tsa_down_is_a_transient_error(
    level: str, signing_unsigned_pdf: bytes, pki: CertomancerPki, pki_identities
) -> None:
    services = TrustServices(
        timestamper=http_timestamper(closed_port_url() + "/tsa", timeout=2),
        revocation=RevocationCache(pki.trust_roots()),
    )
    with pytest.raises(TimestampUnavailable) as caught:
        sign_pdf(signing_unsigned_pdf, pki_identities["dlt"], level=level, services=services)
    assert isinstance(caught.value, SigningServiceUnavailable)
    assert caught.value.code == "tsa_unavailable"


def test_tsa_answering_garbage_is_a_transient_error(
    signing_unsigned_pdf: bytes, pki: CertomancerPki, pki_identities
) -> None:
    services = TrustServices(timestamper=http_timestamper(pki.base_url + "/tra/tsa/no-such-tsa"))
    with pytest.raises(TimestampUnavailable):
        sign_pdf(signing_unsigned_pdf, pki_identities["dlt"], level="B-T", services=services)


def test_ocsp_down_is_a_transient_error(
    signing_unsigned_pdf: bytes, pki: CertomancerPki, pki_unreachable: CertomancerPki
) -> None:
    services = TrustServices(
        timestamper=http_timestamper(pki.tsa_url),
        revocation=RevocationCache(pki_unreachable.trust_roots(), timeout=2),
    )
    with pytest.raises(RevocationInfoUnavailable) as caught:
        sign_pdf(signing_unsigned_pdf, pki_unreachable.identity("dlt"), level="B-LT", services=services)
    assert isinstance(caught.value, SigningServiceUnavailable)
    # B-T needs no revocation information: it still works.
    signed = sign_pdf(signing_unsigned_pdf, pki_unreachable.identity("dlt"), level="B-T", services=services)
    assert len(PdfFileReader(BytesIO(signed)).embedded_signatures) == 1


@pytest.mark.parametrize("label", ["revoked", "expired"])
def test_revoked_or_expired_signer_is_refused_for_lt_levels(
    label: str, signing_unsigned_pdf: bytes, pki_identities, services: TrustServices
) -> None:
    with pytest.raises(SignerCertificateUnusable) as caught:
        sign_pdf(signing_unsigned_pdf, pki_identities[label], level="B-LTA", services=services)
    assert not isinstance(caught.value, SigningServiceUnavailable)  # not worth retrying


def test_levels_above_b_b_need_services(
    signing_unsigned_pdf: bytes, pki_identities, pki: CertomancerPki
) -> None:
    with pytest.raises(PdfSigningError, match="time-stamping"):
        sign_pdf(signing_unsigned_pdf, pki_identities["dlt"], level="B-T")
    with pytest.raises(PdfSigningError, match="revocation"):
        sign_pdf(
            signing_unsigned_pdf,
            pki_identities["dlt"],
            level="B-LT",
            services=TrustServices(timestamper=http_timestamper(pki.tsa_url)),
        )


def test_parse_signature_level() -> None:
    assert parse_signature_level("b-lta") is SignatureLevel.B_LTA
    assert parse_signature_level("PAdES-B-T") is SignatureLevel.B_T
    assert parse_signature_level(SignatureLevel.B_B) is SignatureLevel.B_B
    with pytest.raises(ValueError, match="B-B, B-T, B-LT, B-LTA"):
        parse_signature_level("B-X")


def test_issuance_signs_at_the_agency_level_and_records_it(
    app, issue, app_ctx, pki: CertomancerPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.services import runtime

    assert issue().certificate.signature_level == "B-B"  # the development/test default

    change_issuer_settings(monkeypatch, app, "dlt", signature_level="B-T")
    monkeypatch.setitem(app.config, "TSA_URL", pki.tsa_url)
    certificate = issue().certificate
    assert certificate.signature_level == "B-T"
    pdf = runtime.blob_store().get(certificate.sha256)
    sig = PdfFileReader(BytesIO(pdf)).embedded_signatures[0]
    roots = [*runtime.trust_roots(), *pki.trust_roots()]  # the dev signer's root and the TSA's
    status = validate_pdf_signature(sig, ValidationContext(trust_roots=roots))
    assert status.bottom_line and status.timestamp_validity is not None
    assert status.timestamp_validity.intact and status.timestamp_validity.trusted
