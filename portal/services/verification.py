"""Public verification: by code (our record) and by file (signature + record)."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import Engine, Select, bindparam, exists, select

from portal import clock
from portal.errors import NotFound
from portal.extensions import db
from portal.models import Certificate, CertificateStatus, SigningKey
from portal.services import runtime
from portal.services.check_counts import note_check
from portal.services.codes import group_code, normalise_code
from portal.services.keys import KeyRecord, SignerFacts, key_agency, signer_facts
from portal.services.report import Outcome, VerificationReport, build_report
from portal.signing import FileFinding, SignatureCheck, check_pdf_signature

log = logging.getLogger(__name__)

__all__ = ["DocumentFacts", "FileVerdict", "Verdict", "check_file", "lookup_code", "mask_name"]

_LEADING_VOWELS = "เแโใไ"


def mask_name(name: str) -> str:
    """First names and the surname's initial: "Mr. Somchai Jaidee" → "Mr. Somchai J.".

    A Thai leading vowel keeps its consonant: "นายสมชาย ใจดี" → "นายสมชาย ใจ.".
    """
    parts = name.split()
    if len(parts) < 2:
        return parts[0] if parts else ""
    last = parts[-1]
    initial = last[:2] if last[0] in _LEADING_VOWELS else last[:1]
    return " ".join(parts[:-1]) + f" {initial}."


class Verdict(enum.StrEnum):
    """What the file check says about a file (the external contract's values)."""

    GENUINE = "genuine"
    ALTERED = "altered"
    UNKNOWN_DOCUMENT = "unknown_document"
    UNTRUSTED_SIGNATURE = "untrusted_signature"
    NOT_SIGNED = "not_signed"
    NOT_A_PDF = "not_a_pdf"


@dataclass(frozen=True)
class DocumentFacts:
    """What the public may know about an issued document."""

    code: str
    status: str  # valid | revoked | expired | superseded
    document_type: str
    document_title_th: str
    document_title_en: str
    issuer: str
    issuer_name_th: str
    issuer_name_en: str
    number: str
    issued_at: datetime
    expires_at: date
    sha256: str
    holder_th: str
    holder_en: str
    signature_level: str
    revoked_at: datetime | None
    revocation_reason: str | None
    signer: SignerFacts | None = None
    """Which signing certificate signed, and whether it has since been retired or revoked."""
    holder_masked: bool = True
    """A person's name is shortened; a company's is shown in full."""

    @property
    def signed_by_revoked_key(self) -> bool:
        """Signed at or after its key's revocation: the document must not be trusted."""
        return self.signer is not None and self.signer.signed_after_revocation

    @property
    def grouped_code(self) -> str:
        return group_code(self.code)

    def as_json(self) -> dict:
        return {
            "code": self.code,
            "status": self.status,
            "document_type": self.document_type,
            "document_title": {"th": self.document_title_th, "en": self.document_title_en},
            "issuer": self.issuer,
            "issuer_name": {"th": self.issuer_name_th, "en": self.issuer_name_en},
            "number": self.number,
            "issued_at": self.issued_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "sha256": self.sha256,
            "holder": {"th": self.holder_th, "en": self.holder_en},
            "signature_level": self.signature_level,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "signer": self.signer.as_json() if self.signer else None,
        }


@dataclass(frozen=True)
class FileVerdict:
    verdict: Verdict
    report: VerificationReport

    @property
    def check(self) -> SignatureCheck:
        return self.report.check

    @property
    def document(self) -> DocumentFacts | None:
        return self.report.record

    def as_json(self) -> dict:
        c = self.check
        return {
            "verdict": self.verdict.value,
            "status": self.document.status if self.document else None,
            "sha256": c.sha256,
            "document": self.document.as_json() if self.document else None,
            "signature": {
                "indication": self.report.indication,
                "sub_indication": self.report.sub_indication,
                "level": c.level,
                "signer": c.signer,
                "signer_key_id": c.signer_key_id,
                "signing_time": c.signing_time.isoformat() if c.signing_time else None,
                "timestamp": c.timestamp_time.isoformat() if c.timestamp_time else None,
                "coverage": c.coverage,
                "modification_level": c.modification_level,
            },
            "report": self.report.as_json(),
        }


def _status(certificate: Certificate) -> str:
    if certificate.status != CertificateStatus.VALID:
        return certificate.status
    if certificate.expires_at < clock.today_bangkok():
        return "expired"
    return "valid"


#: The lookups a check makes, built once per process (building one costs more than running it).
_LOOKUPS: dict[str, Select] = {}
_KEY_COLUMN = "key_"
#: What a check reads of a certificate and of its key (fewer columns, less work per row).
_CERTIFICATE_COLUMNS = (
    "verification_code",
    "status",
    "issuer",
    "document_type",
    "number",
    "subject_pid",
    "holder_kind",
    "holder_name_th",
    "holder_name_en",
    "sha256",
    "signer_key_id",
    "signature_level",
    "issued_at",
    "expires_at",
    "revoked_at",
    "revocation_reason",
)
_KEY_COLUMNS = (
    "id",
    "key_id",
    "subject_cn",
    "not_before",
    "not_after",
    "status",
    "retired_at",
    "revoked_at",
    "revocation_reason",
)


def _lookup(column: str) -> Select:
    """SELECT the certificate whose ``column`` is ``:value``, its signing key's row (columns
    prefixed ``key_``; NULL without one) and whether its agency has key rows at all: everything
    a check reads, in one statement. Plain rows, not ORM objects: a check changes nothing."""
    statement = _LOOKUPS.get(column)
    if statement is None:
        certificates, keys = Certificate.__table__, SigningKey.__table__
        others = keys.alias("agency_keys")
        agency_has_keys = exists().where(others.c.agency == certificates.c.issuer)
        statement = _LOOKUPS[column] = (
            select(
                *(certificates.c[name] for name in _CERTIFICATE_COLUMNS),
                *(keys.c[name].label(_KEY_COLUMN + name) for name in _KEY_COLUMNS),
                agency_has_keys.label("agency_has_keys"),
            )
            .select_from(certificates.outerjoin(keys, keys.c.key_id == certificates.c.signer_key_id))
            .where(certificates.c[column] == bindparam("value"))
        )
    return statement


def _with_key(column: str, value: str) -> tuple[Certificate, KeyRecord] | None:
    """The certificate whose ``column`` is ``value`` and its signing key's record, in one query.

    Nothing of it outlives the request: a revocation (of the document or of its key) shows on
    the very next check. The certificate is the row itself (same attribute names, read-only).
    """
    session = db.session()
    if isinstance(session.get_bind(), Engine) and not session.in_transaction():
        # One statement needs no transaction: no BEGIN before it, no ROLLBACK after the request.
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    row = session.execute(_lookup(column), {"value": value}).first()
    if row is None:
        return None
    values = row._mapping
    key = None
    if values[_KEY_COLUMN + "id"] is not None:
        key = SigningKey(**{name: values[_KEY_COLUMN + name] for name in _KEY_COLUMNS})
    return row, KeyRecord(key, bool(values["agency_has_keys"]) or key is not None)  # type: ignore[return-value]


def _facts(certificate: Certificate, key: KeyRecord) -> DocumentFacts:
    issuer = runtime.issuers().get(certificate.issuer)
    doc_type = issuer.document_type(certificate.document_type) if issuer else None
    signer = signer_facts(certificate.issuer, certificate.signer_key_id, certificate.issued_at, key)
    status, revoked_at = _status(certificate), certificate.revoked_at
    company = certificate.holder_kind == "company"
    if signer.signed_after_revocation and status == "valid":
        # Signed with a key already revoked: whoever signed it, we cannot vouch for it.
        status, revoked_at = CertificateStatus.REVOKED.value, signer.revoked_at
    return DocumentFacts(
        code=certificate.verification_code,
        status=status,
        document_type=certificate.document_type,
        document_title_th=doc_type.title_th if doc_type else certificate.document_type,
        document_title_en=doc_type.title_en if doc_type else certificate.document_type,
        issuer=certificate.issuer,
        issuer_name_th=issuer.name_th if issuer else certificate.issuer,
        issuer_name_en=issuer.name_en if issuer else certificate.issuer,
        number=certificate.number,
        issued_at=certificate.issued_at,
        expires_at=certificate.expires_at,
        sha256=certificate.sha256,
        # A person's name is masked; a company's name is public (the DBD publishes it).
        holder_th=certificate.holder_name_th if company else mask_name(certificate.holder_name_th),
        holder_en=certificate.holder_name_en if company else mask_name(certificate.holder_name_en),
        signature_level=certificate.signature_level,
        revoked_at=revoked_at,
        revocation_reason=certificate.revocation_reason,
        signer=signer,
        holder_masked=not company,
    )


def _note_verified(certificate: Certificate, how: str) -> None:
    if certificate.subject_pid is None:
        return  # a company's document: there is no person's log to show the check in
    note_check(
        subject_pid=certificate.subject_pid,
        agency=certificate.issuer,
        reference=certificate.number,
        how=how,
    )


def lookup_code(text: str) -> DocumentFacts:
    """Facts about the document with this verification code; malformed or unknown → 404."""
    code = normalise_code(text)
    if code is None:
        raise NotFound(
            _(
                "This is not a verification code. A code has 20 letters and digits, "
                "printed under the QR code on the document."
            ),
            title=_("Verification code not recognised"),
        )
    found = _with_key("verification_code", code)
    if found is None:
        raise NotFound(
            _(
                "No document with this verification code was issued here. Check the code "
                "and try again; if it is right, the document is not genuine."
            ),
            title=_("No document with this code"),
        )
    certificate, key = found
    facts = _facts(certificate, key)
    _note_verified(certificate, "code")
    return facts


#: The contract's verdict for each outcome of the report.
_VERDICTS = {
    Outcome.VALID: Verdict.GENUINE,
    Outcome.REVOKED_DOCUMENT: Verdict.GENUINE,
    Outcome.EXPIRED_DOCUMENT: Verdict.GENUINE,
    Outcome.SUPERSEDED_DOCUMENT: Verdict.GENUINE,
    Outcome.ALTERED: Verdict.ALTERED,
    Outcome.UNKNOWN_DOCUMENT: Verdict.UNKNOWN_DOCUMENT,
    Outcome.UNTRUSTED: Verdict.UNTRUSTED_SIGNATURE,
    Outcome.REVOKED_SIGNER: Verdict.UNTRUSTED_SIGNATURE,
    Outcome.NOT_SIGNED: Verdict.NOT_SIGNED,
    Outcome.NOT_A_PDF: Verdict.NOT_A_PDF,
}


def check_file(data: bytes) -> FileVerdict:
    """Validate a file's signature against our roots, ask our key register about the key and,
    if the file is intact, match it to our records; the report says all of it."""
    check = check_pdf_signature(data, runtime.trust_roots())
    found = _with_key("sha256", check.sha256) if check.finding is FileFinding.INTACT else None
    certificate, key = found if found is not None else (None, None)
    facts = _facts(certificate, key) if certificate is not None else None
    # The key register is read once: the record's key is the file's key when the file is ours.
    signer, agency = _key_facts(check, certificate, key)
    report = build_report(check, signer=signer, agency=agency, record=facts)
    verdict = _VERDICTS[report.outcome]
    log.info("file check: %s/%s (%s)", verdict.value, report.outcome.value, check.detail)
    if certificate is not None:
        _note_verified(certificate, "file")
    return FileVerdict(verdict, report)


def _key_facts(
    check: SignatureCheck, certificate: Certificate | None, key: KeyRecord | None
) -> tuple[SignerFacts | None, tuple[str, str, str] | None]:
    """Our key register's facts about the key that signed, and that key's agency (id, th, en).

    ``key`` is the register's record of the certificate's key, read with the certificate; it is
    used when the file was signed by that key, so the register is not asked twice.
    """
    if check.signer_key_id is None:
        return None, None
    if key is not None and certificate is not None and certificate.signer_key_id != check.signer_key_id:
        key = None
    agency_id = certificate.issuer if certificate is not None else key_agency(check.signer_key_id)
    if agency_id is None:
        return None, None
    signed_at = check.timestamp_time or (certificate.issued_at if certificate else None) or check.signing_time
    signer = signer_facts(agency_id, check.signer_key_id, signed_at or clock.now(), key)
    issuer = runtime.issuers().get(agency_id)
    names = (agency_id, issuer.name_th, issuer.name_en) if issuer else (agency_id, agency_id, agency_id)
    return signer, names
