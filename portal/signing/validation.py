"""Check the signature of an uploaded PDF and report facts about the file.

What: :func:`check_pdf_signature` never raises; it returns a :class:`SignatureCheck`
whose :class:`FileFinding` says what the *file* is: not a PDF, unsigned, signed by
someone we do not trust, altered after signing, or intact. Whether an intact file is a
*genuine record* (its SHA-256 is in our database, not revoked, ...) is decided by the
caller; this module decides everything that can be decided from the bytes alone.

Why the rules are what they are (measured, see FIELD-NOTES "Validation verdicts"):
pyHanko reports tampering instead of raising, and its ``valid`` flag only means "the
CMS signature is mathematically correct". So we look at ``intact`` (digest of the
signed byte ranges), ``trusted`` (chain to *our* roots), the coverage (bytes appended
after the signature leave pyHanko's ``bottom_line`` True but the coverage drops to
ENTIRE_REVISION) and the modification level / DocMDP verdict (an incremental update
drawing on the page is intact and trusted, yet ``modification_level`` is OTHER).

Validation is offline: no fetching of certificates, OCSP or CRLs; revocation checking
is soft-fail because the development certificates carry no revocation pointers.
pyHanko runs its own event loop: call from synchronous code only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from io import BytesIO
from typing import Any

from asn1crypto import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESStatus
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import (
    DocumentTimestampStatus,
    PdfSignatureStatus,
    SignatureCoverageLevel,
)
from pyhanko_certvalidator import ValidationContext

from .keys import certificate_common_name, certificate_key_id

__all__ = ["FileFinding", "SignatureCheck", "check_pdf_signature"]

logger = logging.getLogger(__name__)

# pyHanko logs every expected problem (tampering, untrusted chain, broken input) at
# WARNING with a traceback; our SignatureCheck already says what happened.
_NOISY_LOGGERS = (
    "pyhanko.pdf_utils",
    "pyhanko.sign.validation",
    "pyhanko.sign.diff_analysis",
    "pyhanko.sign.general",
    "pyhanko_certvalidator",
)
_quieted = False
_quiet_lock = threading.Lock()

_ACCEPTED_LEVELS = frozenset({ModificationLevel.NONE, ModificationLevel.LTA_UPDATES})

_COVERAGE_NAMES = {
    SignatureCoverageLevel.ENTIRE_FILE: "entire_file",
    SignatureCoverageLevel.ENTIRE_REVISION: "entire_revision",
    SignatureCoverageLevel.CONTIGUOUS_BLOCK_FROM_START: "partial",
    SignatureCoverageLevel.UNCLEAR: "partial",
}

TOTAL_PASSED = "TOTAL-PASSED"
TOTAL_FAILED = "TOTAL-FAILED"
INDETERMINATE = "INDETERMINATE"


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


def check_pdf_signature(data: bytes, trust_roots: Sequence[x509.Certificate]) -> SignatureCheck:
    """Check the signatures in ``data`` against ``trust_roots``; never raises.

    The last signature is the one reported; every signature in the file must be
    intact. An empty ``trust_roots`` trusts nothing (it never falls back to the
    operating system's list). Bad input never raises; calling this from inside a
    running event loop is a programming error and raises ``RuntimeError`` (pyHanko
    starts its own loop; use ``asyncio.to_thread`` there).
    """
    _refuse_running_event_loop()
    _quiet_pyhanko_loggers()
    data = bytes(data)
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        return _check(data, sha256, list(trust_roots))
    except Exception as exc:  # noqa: BLE001 - the contract is "never raise"
        logger.warning("unexpected error while checking a PDF signature (sha256 %s)", sha256, exc_info=exc)
        return _bare(FileFinding.NOT_A_PDF, sha256, f"unreadable PDF ({type(exc).__name__})")


def _check(data: bytes, sha256: str, trust_roots: list[x509.Certificate]) -> SignatureCheck:
    if not data.startswith(b"%PDF-"):
        return _bare(FileFinding.NOT_A_PDF, sha256, "does not start with a PDF header")
    try:
        reader = PdfFileReader(BytesIO(data), strict=True)
        embedded = list(reader.embedded_signatures)
    except Exception as exc:  # noqa: BLE001 - any parse failure means "not a (usable) PDF"
        logger.debug("PDF parse failure", exc_info=exc)
        return _bare(FileFinding.NOT_A_PDF, sha256, f"unreadable PDF ({type(exc).__name__})")

    regular = [sig for sig in embedded if sig.sig_object_type == "/Sig"]
    if not regular:
        if _has_data_after_eof(data):
            # pyHanko tolerates up to 1 KB after the last %%EOF: a signed file cut just
            # after its original revision reads as that unsigned revision.
            return _bare(FileFinding.NOT_A_PDF, sha256, "incomplete PDF (data after end-of-file marker)")
        detail = "only document timestamps, no signature" if embedded else "no signature"
        return _bare(FileFinding.NOT_SIGNED, sha256, detail)

    context = ValidationContext(
        trust_roots=trust_roots,
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    main = regular[-1]
    statuses: list[PdfSignatureStatus | DocumentTimestampStatus] = []
    for index, sig in enumerate(embedded, start=1):
        try:
            statuses.append(_validate(sig, context))
        except Exception as exc:  # noqa: BLE001 - malformed CMS, unsupported SubFilter, ...
            logger.debug("signature %d could not be validated", index, exc_info=exc)
            facts = _cert_facts(sig) if sig is main else {}
            return _bare(
                FileFinding.ALTERED,
                sha256,
                f"signature {index} of {len(embedded)} is unreadable ({type(exc).__name__})",
                indication=TOTAL_FAILED,
                **facts,
            )

    main_status = statuses[embedded.index(main)]
    assert isinstance(main_status, PdfSignatureStatus)

    def result(finding: FileFinding, detail: str) -> SignatureCheck:
        return _from_status(finding, sha256, main_status, detail)

    for index, status in enumerate(statuses, start=1):
        if not status.intact:
            return result(FileFinding.ALTERED, f"signed bytes of signature {index} were changed")
        if not status.valid:
            return result(FileFinding.ALTERED, f"signature {index} does not verify")
    ts = main_status.timestamp_validity
    if ts is not None and not (ts.intact and ts.valid):
        return result(FileFinding.ALTERED, "the signature timestamp does not verify")

    if main_status.revoked:
        return result(FileFinding.UNTRUSTED_SIGNATURE, "signer certificate is revoked")
    if not main_status.trusted:
        problem = main_status.trust_problem_indic
        why = problem.standard_name if problem is not None else "no path to a trust root"
        return result(FileFinding.UNTRUSTED_SIGNATURE, f"signer certificate not trusted ({why})")

    level = main_status.modification_level
    if level not in _ACCEPTED_LEVELS:
        name = level.name.lower() if level is not None else "unknown"
        return result(FileFinding.ALTERED, f"document modified after signing ({name})")
    if main_status.docmdp_ok is False:
        return result(FileFinding.ALTERED, "modifications not allowed by the signature")
    if statuses[-1].coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return result(FileFinding.ALTERED, "data was added after the last signature")

    return result(FileFinding.INTACT, "signature intact and trusted; file unchanged since")


def _has_data_after_eof(data: bytes) -> bool:
    """Whether anything but whitespace follows the last ``%%EOF`` marker."""
    end = data.rfind(b"%%EOF")
    return end >= 0 and bool(data[end + 5 :].strip(b" \t\r\n\f\x00"))


def _validate(
    sig: EmbeddedPdfSignature, context: ValidationContext
) -> PdfSignatureStatus | DocumentTimestampStatus:
    if sig.sig_object_type == "/DocTimeStamp":
        return validate_pdf_timestamp(sig, validation_context=context)
    return validate_pdf_signature(sig, signer_validation_context=context)


def _indication(status: PdfSignatureStatus) -> str:
    """Map a pyHanko status to an ETSI EN 319 102-1 main indication."""
    if not status.intact or not status.valid or status.revoked:
        return TOTAL_FAILED
    problem = status.trust_problem_indic
    if problem is not None:
        return TOTAL_FAILED if problem.status is AdESStatus.FAILED else INDETERMINATE
    if not status.trusted:
        return INDETERMINATE
    if status.docmdp_ok is False:
        return TOTAL_FAILED
    return TOTAL_PASSED if status.bottom_line else INDETERMINATE


def _from_status(
    finding: FileFinding, sha256: str, status: PdfSignatureStatus, detail: str
) -> SignatureCheck:
    cert = status.signing_cert
    ts = status.timestamp_validity
    level = status.modification_level
    return SignatureCheck(
        finding=finding,
        sha256=sha256,
        indication=_indication(status),
        signer=certificate_common_name(cert) if cert is not None else None,
        signer_key_id=certificate_key_id(cert) if cert is not None else None,
        signing_time=_utc(status.signer_reported_dt),
        timestamp_time=_utc(ts.timestamp) if ts is not None else None,
        coverage=_COVERAGE_NAMES.get(status.coverage) if status.coverage is not None else None,
        modification_level=level.name.lower() if level is not None else None,
        detail=detail,
    )


def _cert_facts(sig: EmbeddedPdfSignature) -> dict[str, Any]:
    """Signer facts readable without validation (best effort)."""
    try:
        cert = sig.signer_cert
        return {
            "signer": certificate_common_name(cert),
            "signer_key_id": certificate_key_id(cert),
        }
    except Exception:  # noqa: BLE001 - a broken CMS simply has no facts to offer
        return {}


def _bare(
    finding: FileFinding,
    sha256: str,
    detail: str,
    *,
    indication: str | None = None,
    signer: str | None = None,
    signer_key_id: str | None = None,
) -> SignatureCheck:
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
    )


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:  # should not happen; treat a naive time as UTC
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _refuse_running_event_loop() -> None:
    """Fail loudly instead of reporting every file as ALTERED from inside async code."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError("check_pdf_signature cannot run inside an event loop; call it via asyncio.to_thread")


def _quiet_pyhanko_loggers() -> None:
    """Raise pyHanko's validation loggers to ERROR, once per process (not at import)."""
    global _quieted
    if _quieted:
        return
    with _quiet_lock:
        if not _quieted:
            for name in _NOISY_LOGGERS:
                logging.getLogger(name).setLevel(logging.ERROR)
            _quieted = True
