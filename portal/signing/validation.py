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

The result types (:class:`FileFinding`, :class:`SignatureCheck`, the indications) and
the builders of a :class:`SignatureCheck` live in :mod:`portal.signing.validation_result`;
they are re-exported here, so import them from this module as before.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import Sequence
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

from .archival import non_archival_update
from .evidence import (
    change_kind,
    data_after_last_revision,
    level_found,
    read_dss,
    revocation_evidence,
)
from .validation_result import (
    CONSTRAINTS,
    HASH,
    INDETERMINATE,
    NO_CHAIN,
    TOTAL_FAILED,
    TOTAL_PASSED,
    FileFinding,
    SignatureCheck,
    as_utc,
    bare_check,
    cert_facts,
    check_from_status,
)

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
        return bare_check(FileFinding.NOT_A_PDF, sha256, f"unreadable PDF ({type(exc).__name__})")


def _check(data: bytes, sha256: str, trust_roots: list[x509.Certificate]) -> SignatureCheck:
    if not data.startswith(b"%PDF-"):
        return bare_check(FileFinding.NOT_A_PDF, sha256, "does not start with a PDF header")
    try:
        reader = PdfFileReader(BytesIO(data), strict=True)
        embedded = list(reader.embedded_signatures)
    except Exception as exc:  # noqa: BLE001 - any parse failure means "not a (usable) PDF"
        logger.debug("PDF parse failure", exc_info=exc)
        return bare_check(FileFinding.NOT_A_PDF, sha256, f"unreadable PDF ({type(exc).__name__})")

    regular = [sig for sig in embedded if sig.sig_object_type == "/Sig"]
    if not regular:
        if _has_data_after_eof(data):
            # pyHanko tolerates up to 1 KB after the last %%EOF: a signed file cut just
            # after its original revision reads as that unsigned revision.
            return bare_check(FileFinding.NOT_A_PDF, sha256, "incomplete PDF (data after end-of-file marker)")
        detail = "only document timestamps, no signature" if embedded else "no signature"
        return bare_check(FileFinding.NOT_SIGNED, sha256, detail)

    dss = read_dss(reader)
    options: dict[str, Any] = {
        "trust_roots": trust_roots,
        "allow_fetching": False,
        "revocation_mode": "soft-fail",
    }
    context = dss.as_validation_context(options) if dss is not None else ValidationContext(**options)
    main = regular[-1]
    statuses: list[PdfSignatureStatus | DocumentTimestampStatus] = []
    for index, sig in enumerate(embedded, start=1):
        try:
            statuses.append(_validate(sig, context))
        except Exception as exc:  # noqa: BLE001 - malformed CMS, unsupported SubFilter, ...
            logger.debug("signature %d could not be validated", index, exc_info=exc)
            facts = cert_facts(sig) if sig is main else {}
            return bare_check(
                FileFinding.ALTERED,
                sha256,
                f"signature {index} of {len(embedded)} is unreadable ({type(exc).__name__})",
                indication=TOTAL_FAILED,
                sub_indication="FORMAT_FAILURE",
                signature_count=len(regular),
                **facts,
            )

    main_index = embedded.index(main)
    main_status = statuses[main_index]
    assert isinstance(main_status, PdfSignatureStatus)
    archive = [
        st for st in statuses[main_index + 1 :] if isinstance(st, DocumentTimestampStatus) and st.intact
    ]
    revocation = revocation_evidence(dss, main_status.signing_cert)
    appended = data_after_last_revision(reader, data)
    facts = {
        "sha256": sha256,
        "status": main_status,
        "revocation": revocation,
        "archive_timestamp_time": as_utc(archive[-1].timestamp) if archive else None,
        "level": level_found(
            has_signature_timestamp=main_status.timestamp_validity is not None,
            revocation=revocation,
            archived=bool(archive),
        ),
        "changes": change_kind(main_status.modification_level, appended=appended),
        "signature_count": len(regular),
    }

    def failed(finding: FileFinding, sub: str, detail: str, indication: str = TOTAL_FAILED) -> SignatureCheck:
        return check_from_status(finding, detail, indication=indication, sub_indication=sub, **facts)

    for index, status in enumerate(statuses, start=1):
        if not status.intact:
            return failed(FileFinding.ALTERED, HASH, f"signed bytes of signature {index} were changed")
        if not status.valid:
            return failed(FileFinding.ALTERED, "SIG_CRYPTO_FAILURE", f"signature {index} does not verify")
    ts = main_status.timestamp_validity
    if ts is not None and not (ts.intact and ts.valid):
        sub = "HASH_FAILURE" if not ts.intact else "SIG_CRYPTO_FAILURE"
        return failed(FileFinding.ALTERED, sub, "the signature timestamp does not verify")

    level = main_status.modification_level
    if level not in _ACCEPTED_LEVELS:
        name = level.name.lower() if level is not None else "unknown"
        return failed(FileFinding.ALTERED, CONSTRAINTS, f"document modified after signing ({name})")
    if main_status.docmdp_ok is False:
        return failed(FileFinding.ALTERED, CONSTRAINTS, "modifications not allowed by the signature")
    # pyHanko classes some updates as archival (LTA_UPDATES) that are not: nothing covers what
    # follows the last signature or document timestamp, so only archive data may follow it.
    stray = non_archival_update(reader, embedded[-1].signed_revision) if not appended else None
    if stray is not None:
        facts["changes"] = "not_archival"
        why = f"the file was changed after its last signature ({stray})"
        return failed(FileFinding.ALTERED, CONSTRAINTS, why)
    # Only archival updates (LTA_UPDATES) may follow a signature without covering the file.
    partial = statuses[-1].coverage != SignatureCoverageLevel.ENTIRE_FILE
    if appended or (partial and level is ModificationLevel.NONE):
        return failed(FileFinding.ALTERED, CONSTRAINTS, "data was added after the last signature")

    if main_status.revoked or revocation.status == "revoked":
        return failed(FileFinding.UNTRUSTED_SIGNATURE, "REVOKED", "signer certificate is revoked")
    if not main_status.trusted:
        problem = main_status.trust_problem_indic
        why = problem.standard_name if problem is not None else NO_CHAIN
        final = problem is not None and problem.status is AdESStatus.FAILED
        indication = TOTAL_FAILED if final else INDETERMINATE
        return failed(
            FileFinding.UNTRUSTED_SIGNATURE, why, f"signer certificate not trusted ({why})", indication
        )

    return check_from_status(
        FileFinding.INTACT,
        "signature intact and trusted; file unchanged since",
        indication=TOTAL_PASSED,
        sub_indication=None,
        **facts,
    )


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
