"""The verification report of a file: ETSI indication, the facts behind it, and one plain verdict.

What: :func:`build_report` joins what the file says (:class:`~portal.signing.SignatureCheck`),
what our key register says about the signing key (:class:`~portal.services.keys.SignerFacts`)
and our record of the document (:class:`DocumentFacts`) into a :class:`VerificationReport`,
modelled on the EU DSS "simple report" and ETSI EN 319 102-1: indication, sub-indication,
level, signer and agency, claimed and proven signing time, coverage, chain, revocation at
signing time and our record's status. :func:`plain_verdict` turns it into what a person reads
(headline, what this means, what to do next) in the current language; the page shows it and
the JSON carries it in Thai and English.

Why the key register counts: an agency revokes a key in Tra (``flask portal keys revoke``)
before any CRL says so, and a B-B or B-T file carries no revocation data at all. A signature
made at or after the key's revocation is TOTAL-FAILED/REVOKED; one whose time cannot be proven
to precede the revocation (no timestamp and no record of ours) is INDETERMINATE/REVOKED_NO_POE.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import force_locale

from portal.signing import FileFinding, SignatureCheck
from portal.signing.validation import INDETERMINATE, TOTAL_FAILED

from .keys import SignerFacts

if TYPE_CHECKING:
    from .verification import DocumentFacts

__all__ = ["Outcome", "VerificationReport", "build_report", "plain_verdict"]


class Outcome(enum.StrEnum):
    """What the person checking the file is told: one value per verdict page."""

    VALID = "valid"
    REVOKED_DOCUMENT = "revoked_document"
    EXPIRED_DOCUMENT = "expired_document"
    SUPERSEDED_DOCUMENT = "superseded_document"
    ALTERED = "altered"
    UNKNOWN_DOCUMENT = "unknown_document"
    UNTRUSTED = "untrusted"
    REVOKED_SIGNER = "revoked_signer"
    NOT_SIGNED = "not_signed"
    NOT_A_PDF = "not_a_pdf"


#: Tone of each outcome on the page (CSS modifier of the verdict box).
TONES = {
    Outcome.VALID: "valid",
    Outcome.EXPIRED_DOCUMENT: "warning",
    Outcome.SUPERSEDED_DOCUMENT: "warning",
    Outcome.NOT_A_PDF: "neutral",
}


@dataclass(frozen=True)
class VerificationReport:
    """Everything the file check found, before it is put into words."""

    outcome: Outcome
    indication: str
    sub_indication: str | None
    check: SignatureCheck
    signer: SignerFacts | None
    """Our key register's facts about the signing key (None when the file has no signature)."""

    agency: str | None
    """Issuer id of the agency whose key signed (None for a key we do not know)."""

    agency_name_th: str | None
    agency_name_en: str | None
    record: DocumentFacts | None
    """Our record of the file (matched by SHA-256), when the file is intact and trusted."""

    proven_time: datetime | None
    """Earliest time the signature is proven to have existed: its timestamp, else our record."""

    @property
    def record_status(self) -> str | None:
        """valid/revoked/expired/superseded; None without a record."""
        return self.record.status if self.record else None

    @property
    def tone(self) -> str:
        return TONES.get(self.outcome, "invalid")

    def agency_name(self, lang: str) -> str | None:
        return self.agency_name_th if lang == "th" else self.agency_name_en

    def as_json(self) -> dict:
        c = self.check

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "indication": self.indication,
            "sub_indication": self.sub_indication,
            "outcome": self.outcome.value,
            "level": c.level,
            "signer": {
                "common_name": c.signer,
                "key_id": c.signer_key_id,
                "agency": self.agency,
                "agency_name": {"th": self.agency_name_th, "en": self.agency_name_en}
                if self.agency
                else None,
                "key": self.signer.as_json() if self.signer else None,
            },
            "time": {
                "claimed": iso(c.signing_time),
                "timestamp": iso(c.timestamp_time),
                "archive_timestamp": iso(c.archive_timestamp_time),
                "proven": iso(self.proven_time),
            },
            "coverage": {"signed": c.coverage, "after_signing": c.changes},
            "chain": {"trusted": c.trusted, "certificates": list(c.chain)},
            "revocation_at_signing": self._revocation_json(),
            "record": {"status": self.record_status},
            "signatures": c.signature_count,
            "message": {lang: _in(lang, plain_verdict, self) for lang in ("th", "en")},
        }

    def _revocation_json(self) -> dict:
        evidence = self.check.revocation.as_json()
        key = self.signer
        evidence["key_register"] = (
            {"state": key.state, "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None}
            if key is not None
            else None
        )
        return evidence


def build_report(
    check: SignatureCheck,
    *,
    signer: SignerFacts | None,
    agency: tuple[str, str, str] | None,
    record: DocumentFacts | None,
) -> VerificationReport:
    """The report for ``check``; ``agency`` is (id, Thai name, English name) of the key's agency.

    ``record`` is our record of the file (its SHA-256), given only when the file is intact and
    trusted; its issue time proves when the signature existed, as a timestamp would.
    """
    record_status = record.status if record else None
    proven = check.timestamp_time or (record.issued_at if record else None)
    indication, sub = check.indication or TOTAL_FAILED, check.sub_indication
    outcome = _FILE_OUTCOMES.get(check.finding)
    if outcome is None:  # intact and trusted: our key register and our record decide
        if signer is not None and signer.revoked_at is not None and signer.state == "revoked":
            if proven is not None and proven >= signer.revoked_at:
                indication, sub, outcome = TOTAL_FAILED, "REVOKED", Outcome.REVOKED_SIGNER
            elif proven is None:
                indication, sub, outcome = INDETERMINATE, "REVOKED_NO_POE", Outcome.REVOKED_SIGNER
            signer = replace(signer, signed_after_revocation=outcome is Outcome.REVOKED_SIGNER)
        if outcome is None:
            outcome = _RECORD_OUTCOMES.get(record_status, Outcome.UNKNOWN_DOCUMENT)
    elif check.finding is FileFinding.UNTRUSTED_SIGNATURE and sub == "REVOKED":
        outcome = Outcome.REVOKED_SIGNER
    return VerificationReport(
        outcome=outcome,
        indication=indication,
        sub_indication=sub,
        check=check,
        signer=signer,
        agency=agency[0] if agency else None,
        agency_name_th=agency[1] if agency else None,
        agency_name_en=agency[2] if agency else None,
        record=record,
        proven_time=proven,
    )


_FILE_OUTCOMES = {
    FileFinding.NOT_A_PDF: Outcome.NOT_A_PDF,
    FileFinding.NOT_SIGNED: Outcome.NOT_SIGNED,
    FileFinding.ALTERED: Outcome.ALTERED,
    FileFinding.UNTRUSTED_SIGNATURE: Outcome.UNTRUSTED,
}
_RECORD_OUTCOMES = {
    "valid": Outcome.VALID,
    "revoked": Outcome.REVOKED_DOCUMENT,
    "expired": Outcome.EXPIRED_DOCUMENT,
    "superseded": Outcome.SUPERSEDED_DOCUMENT,
}


def _in(lang: str, function, *args):
    with force_locale(lang):
        return function(*args)


from .report_texts import plain_verdict  # noqa: E402 - the texts use the classes above
