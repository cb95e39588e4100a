"""What verification says about the key that signed a document, and whose key it is.

What: :func:`signer_facts` tells which signing certificate signed a document and what has become
of it since (:class:`SignerFacts`); :func:`key_agency` finds the agency a key id belongs to.
Both read the table, else (for an agency without rows) its configured key.

Why: a verifier must learn which certificate signed and whether it was since retired (normal)
or revoked (a problem); a document signed at or after its key's revocation must not be trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from asn1crypto import x509
from flask_babel import gettext as _
from sqlalchemy import select

from portal.extensions import db
from portal.models import SigningKey, SigningKeyStatus
from portal.signing import certificate_key_id
from portal.signing.keys import certificate_common_name

from .configured import configured_certificate, configured_specs, validity_of

__all__ = ["KeyRecord", "SignerFacts", "key_agency", "key_record", "signer_facts"]


@dataclass(frozen=True)
class KeyRecord:
    """What the key register holds about one key, read once per check (never cached longer:
    a key revoked a moment ago must show on the next check)."""

    row: SigningKey | None
    """The key's row, if the register has one."""
    agency_has_keys: bool
    """The agency has rows at all (else its configured key speaks for it)."""


def key_record(agency: str, key_id: str) -> KeyRecord:
    """The register's record of ``key_id`` (of ``agency``), from the table."""
    row = db.session.scalar(select(SigningKey).where(SigningKey.key_id == key_id))
    if row is not None:
        return KeyRecord(row, True)
    has_rows = db.session.scalar(select(SigningKey.id).where(SigningKey.agency == agency).limit(1))
    return KeyRecord(None, has_rows is not None)


@dataclass(frozen=True)
class SignerFacts:
    """Which signing certificate signed a document, and what has become of it since."""

    key_id: str
    common_name: str | None
    not_before: datetime | None
    not_after: datetime | None
    state: str
    """``current``, ``standby``, ``retired``, ``revoked`` or ``unknown`` (not recorded)."""
    retired_at: datetime | None = None
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    signed_after_revocation: bool = False
    """The document was signed at or after the key's revocation: it must not be trusted."""

    @property
    def key_id_short(self) -> str:
        return self.key_id[:16]

    @property
    def state_label(self) -> str:
        return {
            "current": _("In use: the agency's current signing certificate"),
            "standby": _("Not in use"),
            "retired": _("Retired"),
            "revoked": _("Revoked"),
        }.get(self.state, _("Not recorded"))

    def as_json(self) -> dict:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "key_id": self.key_id,
            "common_name": self.common_name,
            "not_before": iso(self.not_before),
            "not_after": iso(self.not_after),
            "state": self.state,
            "retired_at": iso(self.retired_at),
            "revoked_at": iso(self.revoked_at),
            "revocation_reason": self.revocation_reason,
            "signed_after_revocation": self.signed_after_revocation,
        }


def signer_facts(
    agency: str, key_id: str, signed_at: datetime, record: KeyRecord | None = None
) -> SignerFacts:
    """What the table (or, for an agency without rows, its configured key) says about ``key_id``.

    ``record`` is the register's record when the caller read it already (with the document).
    """
    record = record if record is not None else key_record(agency, key_id)
    row = record.row
    if row is not None:
        after = row.revoked_at is not None and signed_at >= row.revoked_at
        return SignerFacts(
            key_id=key_id,
            common_name=row.subject_cn,
            not_before=row.not_before,
            not_after=row.not_after,
            state=row.status,
            retired_at=row.retired_at,
            revoked_at=row.revoked_at,
            revocation_reason=row.revocation_reason,
            signed_after_revocation=row.status == SigningKeyStatus.REVOKED and after,
        )
    spec = None if record.agency_has_keys else configured_specs(strict=False).get(agency)
    configured = _configured_facts(spec) if spec is not None and spec.cert is not None else None
    if configured is not None and configured[0] == key_id:
        _, common_name, not_before, not_after = configured
        return SignerFacts(
            key_id=key_id,
            common_name=common_name,
            not_before=not_before,
            not_after=not_after,
            state=SigningKeyStatus.CURRENT.value,
        )
    return SignerFacts(key_id=key_id, common_name=None, not_before=None, not_after=None, state="unknown")


def _configured_facts(spec) -> tuple[str, str, datetime, datetime] | None:
    """(key id, common name, not before, not after) of the configured key's certificate."""
    certificate = configured_certificate(spec)  # read once per process (``configured``)
    return None if certificate is None else _certificate_facts(certificate)


@lru_cache(maxsize=64)
def _certificate_facts(certificate: x509.Certificate) -> tuple[str, str, datetime, datetime]:
    """Worked out once per certificate object (working them out again cost a check ~0.1 ms)."""
    return (certificate_key_id(certificate), certificate_common_name(certificate), *validity_of(certificate))


def key_agency(key_id: str) -> str | None:
    """The agency whose signing key ``key_id`` is: from the table, else the configured keys."""
    agency = db.session.scalar(select(SigningKey.agency).where(SigningKey.key_id == key_id))
    if agency is not None:
        return agency
    for name, spec in configured_specs(strict=False).items():
        certificate = configured_certificate(spec)
        if certificate is not None and certificate_key_id(certificate) == key_id:
            return name
    return None
