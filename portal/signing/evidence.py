"""What a signed PDF carries besides its signatures: the DSS, the level it reaches, the chain.

What: small readers used by :mod:`portal.signing.validation` to describe a signature the way
the EU's DSS "simple report" does: the PAdES baseline level the file actually reaches
(:func:`level_found`), the revocation information the file holds for the signer at signing
time (:func:`revocation_evidence`), the certificate chain as names (:func:`chain_names`) and
what kind of change follows the signature (:func:`change_kind`).

Why here and not from pyHanko's ETSI engine: the engine costs about 50 ms per file and comes
out INDETERMINATE for B-LT offline (FIELD-NOTES); these readers cost well under a millisecond
and describe the file; the verdict itself still rests on pyHanko's signature validation.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator.path import ValidationPath

from .keys import certificate_common_name

__all__ = [
    "RevocationEvidence",
    "chain_names",
    "change_kind",
    "data_after_last_revision",
    "level_found",
    "read_dss",
    "revocation_evidence",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RevocationEvidence:
    """Revocation information the file itself holds for the signer certificate."""

    source: str | None
    """``ocsp``, ``crl`` or None (the file holds none: B-B and B-T)."""

    status: str
    """``good``, ``revoked`` or ``not_in_file``."""

    produced_at: dt.datetime | None = None
    """When the OCSP response or CRL was issued (its ``thisUpdate``)."""

    revoked_at: dt.datetime | None = None

    def as_json(self) -> dict:
        return {
            "source": self.source,
            "status": self.status,
            "produced_at": _iso(self.produced_at),
            "revoked_at": _iso(self.revoked_at),
        }


NO_REVOCATION_INFO = RevocationEvidence(source=None, status="not_in_file")


def read_dss(reader: PdfFileReader) -> DocumentSecurityStore | None:
    """The file's Document Security Store, or None (absent or unreadable)."""
    try:
        return DocumentSecurityStore.read_dss(reader)
    except (KeyError, PdfReadError, ValueError, TypeError):
        return None


def revocation_evidence(
    dss: DocumentSecurityStore | None, signer: x509.Certificate | None
) -> RevocationEvidence:
    """The signer's status according to the OCSP responses, else the CRLs, in the DSS."""
    if dss is None or signer is None:
        return NO_REVOCATION_INFO
    try:
        found = _from_ocsp(dss, signer) or _from_crls(dss, signer)
    except (ValueError, TypeError, KeyError) as exc:  # a malformed entry: report none rather than guess
        log.debug("unreadable revocation information in DSS", exc_info=exc)
        return NO_REVOCATION_INFO
    return found or NO_REVOCATION_INFO


def _from_ocsp(dss: DocumentSecurityStore, signer: x509.Certificate) -> RevocationEvidence | None:
    serial = signer.serial_number
    best: RevocationEvidence | None = None
    for ref in dss.ocsps:
        response = asn1_ocsp.OCSPResponse.load(ref.get_object().data)
        if response["response_status"].native != "successful":
            continue
        data = response.basic_ocsp_response["tbs_response_data"]
        for single in data["responses"]:
            cert_id = single["cert_id"]
            if cert_id["serial_number"].native != serial:
                continue
            expected = getattr(signer.issuer, cert_id["hash_algorithm"]["algorithm"].native, None)
            if expected is not None and cert_id["issuer_name_hash"].native != expected:
                continue
            status = single["cert_status"]
            produced = _utc(single["this_update"].native)
            if status.name == "revoked":
                return RevocationEvidence(
                    "ocsp", "revoked", produced, _utc(status.chosen["revocation_time"].native)
                )
            if status.name == "good" and (best is None or (produced and produced > best.produced_at)):
                best = RevocationEvidence("ocsp", "good", produced)
    return best


def _from_crls(dss: DocumentSecurityStore, signer: x509.Certificate) -> RevocationEvidence | None:
    best: RevocationEvidence | None = None
    for ref in dss.crls:
        crl = asn1_crl.CertificateList.load(ref.get_object().data)
        tbs = crl["tbs_cert_list"]
        if tbs["issuer"] != signer.issuer:
            continue
        produced = _utc(tbs["this_update"].native)
        for entry in tbs["revoked_certificates"]:
            if entry["user_certificate"].native == signer.serial_number:
                return RevocationEvidence("crl", "revoked", produced, _utc(entry["revocation_date"].native))
        if best is None or (produced and best.produced_at and produced > best.produced_at):
            best = RevocationEvidence("crl", "good", produced)
    return best


def level_found(*, has_signature_timestamp: bool, revocation: RevocationEvidence, archived: bool) -> str:
    """The PAdES baseline level the file reaches: B-B, B-T, B-LT or B-LTA.

    B-T needs a signature timestamp; B-LT also revocation information for the signer in the
    DSS; B-LTA also a document timestamp after that. A file lacking a lower step is reported
    at the lower level whatever else it carries.
    """
    if not has_signature_timestamp:
        return "B-B"
    if revocation.source is None:
        return "B-T"
    return "B-LTA" if archived else "B-LT"


def chain_names(path: ValidationPath | None, signer: x509.Certificate | None) -> tuple[str, ...]:
    """Common names from the signer up to the trust anchor; just the signer without a path."""
    if path is None:
        return (certificate_common_name(signer),) if signer is not None else ()
    names = [certificate_common_name(cert) for cert in reversed(list(path.iter_certs(include_root=True)))]
    return tuple(names)


def change_kind(level: ModificationLevel | None, *, appended: bool) -> str:
    """What follows the signature, in the report's words.

    ``level`` is pyHanko's modification level for the signature; ``appended`` whether bytes
    that are no PDF update follow the file's last revision. ``none``; ``archival``
    (revocation data and document timestamps: expected for B-LT/B-LTA); ``form_filling`` and
    ``annotations``; ``page_content`` (anything else PDF-shaped, e.g. text drawn on a page);
    ``appended_data``; ``unknown``.
    """
    if level is None:
        return "unknown"
    if level is ModificationLevel.OTHER:
        return "page_content"
    if level is ModificationLevel.FORM_FILLING:
        return "form_filling"
    if level is ModificationLevel.ANNOTATIONS:
        return "annotations"
    if appended:
        return "appended_data"
    return "archival" if level is ModificationLevel.LTA_UPDATES else "none"


def data_after_last_revision(reader: PdfFileReader, data: bytes) -> bool:
    """Whether anything but whitespace follows the end of the file's last revision.

    pyHanko ignores such bytes (they are no revision), and so does the coverage of a
    signature followed by archival updates; only the file can tell.
    """
    xrefs = reader.xrefs
    last = xrefs.get_xref_container_info(xrefs.total_revisions - 1)
    eof = data.find(b"%%EOF", last.end_location)
    return eof < 0 or bool(data[eof + 5 :].strip(b" \t\r\n\f\x00"))


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None
