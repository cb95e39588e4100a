"""What a signature check reports, and how pyHanko's answers become that report.

What: :class:`FileFinding` (the verdict on the file), :class:`SignatureCheck` (the facts
behind it), the ETSI EN 319 102-1 indications and the sub-indications we use, and the
builders that turn a pyHanko status (or the lack of one) into a :class:`SignatureCheck`.

Why a module of its own: :mod:`portal.signing.validation` decides *which* verdict a file
gets; this module only says what a verdict looks like, so the two can be read apart.
Import these names from :mod:`portal.signing.validation` (or :mod:`portal.signing`), which
re-exports them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel

from .evidence import NO_REVOCATION_INFO, RevocationEvidence, chain_names
from .keys import certificate_common_name, certificate_key_id

__all__ = [
    "CONSTRAINTS",
    "HASH",
    "INDETERMINATE",
    "NO_CHAIN",
    "TOTAL_FAILED",
    "TOTAL_PASSED",
    "FileFinding",
    "SignatureCheck",
    "as_utc",
    "bare_check",
    "cert_facts",
    "check_from_status",
]

_COVERAGE_NAMES = {
    SignatureCoverageLevel.ENTIRE_FILE: "entire_file",
    SignatureCoverageLevel.ENTIRE_REVISION: "entire_revision",
    SignatureCoverageLevel.CONTIGUOUS_BLOCK_FROM_START: "partial",
    SignatureCoverageLevel.UNCLEAR: "partial",
}

TOTAL_PASSED = "TOTAL-PASSED"
TOTAL_FAILED = "TOTAL-FAILED"
INDETERMINATE = "INDETERMINATE"
HASH = "HASH_FAILURE"
CONSTRAINTS = "SIG_CONSTRAINTS_FAILURE"
NO_CHAIN = "NO_CERTIFICATE_CHAIN_FOUND"
"""Our validation policy allows nothing after a signature but archival updates (DSS, document
timestamps); other changes fail the signature's constraints, as DSS's PDF modification checks do."""


class FileFinding(StrEnum):
    """What the file is, judged from its bytes alone."""

    NOT_A_PDF = "not_a_pdf"
    """Not a PDF, or too damaged (e.g. truncated) to be read."""

    NOT_SIGNED = "not_signed"
    """A readable PDF without any (filled) signature."""

    UNTRUSTED_SIGNATURE = "untrusted_signature"
    """Signed and intact, but the certificate does not chain to our trust roots (or is revoked)."""

    ALTERED = "altered"
    """Changed after signing: signed bytes modified, bytes appended, or page content updated."""

    INTACT = "intact"
    """Signed by a trusted certificate and unchanged since; compare ``sha256`` with the record."""


@dataclass(frozen=True)
class SignatureCheck:
    """Facts about one file and its (last) signature."""

    finding: FileFinding
    """The verdict on the file itself."""

    sha256: str
    """Hex SHA-256 of the whole file as given (to look the record up)."""

    indication: str | None
    """ETSI-style indication of the last signature as pyHanko sees it: ``TOTAL-PASSED``,
    ``TOTAL-FAILED`` or ``INDETERMINATE``; None without a signature. It judges the
    signed revision only: bytes appended later leave it ``TOTAL-PASSED`` while
    ``finding`` is ALTERED. Decide on ``finding``."""

    signer: str | None
    """Common name of the signer certificate (as claimed, even when untrusted)."""

    signer_key_id: str | None
    """Hex SHA-256 of the signer certificate's DER, as ``SigningIdentity.key_id``."""

    signing_time: dt.datetime | None
    """Signing time claimed by the signer (aware, UTC); not proof of time."""

    timestamp_time: dt.datetime | None
    """Time from a signature timestamp token, if any (None for PAdES B-B)."""

    coverage: str | None
    """``entire_file``, ``entire_revision`` (something was appended) or ``partial``."""

    modification_level: str | None
    """pyHanko's modification level after signing, lower case: ``none``,
    ``lta_updates``, ``form_filling``, ``annotations`` or ``other``."""

    detail: str
    """Short plain-English reason, for logs; contains no personal data."""

    sub_indication: str | None = None
    """ETSI EN 319 102-1 sub-indication explaining a TOTAL-FAILED or INDETERMINATE
    ``indication`` (e.g. ``HASH_FAILURE``, ``NO_CERTIFICATE_CHAIN_FOUND``); None on TOTAL-PASSED."""

    level: str | None = None
    """PAdES baseline level the file reaches: ``B-B``, ``B-T``, ``B-LT`` or ``B-LTA``."""

    trusted: bool = False
    """The signer certificate chains to one of our trust roots."""

    chain: tuple[str, ...] = ()
    """Common names from the signer up to the trust anchor (just the signer when untrusted)."""

    revocation: RevocationEvidence = NO_REVOCATION_INFO
    """What the revocation information embedded in the file says about the signer."""

    archive_timestamp_time: dt.datetime | None = None
    """Time of the last document timestamp (B-LTA), if any."""

    changes: str | None = None
    """What follows the signature: ``none``, ``archival``, ``form_filling``, ``annotations``,
    ``page_content``, ``appended_data`` or ``unknown`` (see :func:`evidence.change_kind`)."""

    signature_count: int = 0
    """Number of signatures (not document timestamps) in the file."""


def check_from_status(
    finding: FileFinding,
    detail: str,
    *,
    sha256: str,
    status: PdfSignatureStatus,
    indication: str,
    sub_indication: str | None,
    revocation: RevocationEvidence,
    archive_timestamp_time: dt.datetime | None,
    level: str,
    changes: str,
    signature_count: int,
) -> SignatureCheck:
    cert = status.signing_cert
    ts = status.timestamp_validity
    mod = status.modification_level
    return SignatureCheck(
        finding=finding,
        sha256=sha256,
        indication=indication,
        signer=certificate_common_name(cert) if cert is not None else None,
        signer_key_id=certificate_key_id(cert) if cert is not None else None,
        signing_time=as_utc(status.signer_reported_dt),
        timestamp_time=as_utc(ts.timestamp) if ts is not None else None,
        coverage=_COVERAGE_NAMES.get(status.coverage) if status.coverage is not None else None,
        modification_level=mod.name.lower() if mod is not None else None,
        detail=detail,
        sub_indication=sub_indication,
        level=level,
        trusted=bool(status.trusted),
        chain=chain_names(status.validation_path if status.trusted else None, cert),
        revocation=revocation,
        archive_timestamp_time=archive_timestamp_time,
        changes=changes,
        signature_count=signature_count,
    )


def cert_facts(sig: EmbeddedPdfSignature) -> dict[str, Any]:
    """Signer facts readable without validation (best effort)."""
    try:
        cert = sig.signer_cert
        return {
            "signer": certificate_common_name(cert),
            "signer_key_id": certificate_key_id(cert),
        }
    except Exception:  # noqa: BLE001 - a broken CMS simply has no facts to offer
        return {}


def bare_check(
    finding: FileFinding,
    sha256: str,
    detail: str,
    *,
    indication: str = TOTAL_FAILED,
    sub_indication: str | None = "FORMAT_FAILURE",
    signer: str | None = None,
    signer_key_id: str | None = None,
    signature_count: int = 0,
) -> SignatureCheck:
    """A check that found no signature it could evaluate: by ETSI's words a FORMAT_FAILURE."""
    return SignatureCheck(
        finding=finding,
        sha256=sha256,
        indication=indication,
        signer=signer,
        signer_key_id=signer_key_id,
        signing_time=None,
        timestamp_time=None,
        coverage=None,
        modification_level=None,
        detail=detail,
        sub_indication=sub_indication,
        signature_count=signature_count,
    )


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:  # should not happen; treat a naive time as UTC
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)
