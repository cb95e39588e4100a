"""A key's life in the register: made current, retired, revoked.

What: :func:`make_current` switches an agency to a key (its previous current key is retired),
:func:`retire_key` ends a standby key's use normally, :func:`revoke_key` marks a key as a
problem from a given moment. At most one key is *current* per agency: a partial unique index,
plus a check here under a row lock for a clear message. Each change is audited and the running
ring of this process forgets what it knew about the agency.

Why: documents must keep verifying after a key is replaced, and a verifier must learn whether
the key that signed was since retired (normal) or revoked (a problem). Decision (docs/keys.md,
"Rotation"): the first time a key of an agency is made current, the configured key is recorded
(adopted) and retired, so its documents say "retired", not "unknown".
"""

from __future__ import annotations

import logging
from datetime import datetime

from asn1crypto import pem
from sqlalchemy import select

from portal import clock
from portal.errors import BadInput
from portal.extensions import db
from portal.models import SigningKey, SigningKeyStatus
from portal.services.audit import record_audit
from portal.signing import certificate_key_id
from portal.signing.keys import certificate_common_name

from .configured import configured_certificate, configured_specs, validity_of
from .locations import location_of
from .register import find_key
from .ring import RotatingKeyRing, key_ring

__all__ = ["forget_agency_keys", "make_current", "retire_key", "revoke_key", "switch_current"]

# The package's logger, as before the package was split: logging configuration may name it.
log = logging.getLogger("portal.services.keys")


def make_current(key_id: str, *, actor: str = "operator") -> SigningKey:
    """Make a key its agency's current key; the previous current key is retired."""
    row = find_key(key_id)
    switch_current(row, actor=actor, now=clock.now())
    db.session.commit()
    forget_agency_keys(row.agency)
    return row


def retire_key(key_id: str, *, actor: str = "operator") -> SigningKey:
    """Normal end of use: the key signs no more; what it signed stays valid."""
    row = _locked(find_key(key_id))
    if row.status == SigningKeyStatus.CURRENT:
        raise BadInput(
            f"key {row.key_id[:16]} is the current key of {row.agency}: make another key current "
            "(keys current KEYID), which retires this one"
        )
    if row.status != SigningKeyStatus.STANDBY:
        raise BadInput(f"key {row.key_id[:16]} is already {row.status}")
    row.status = SigningKeyStatus.RETIRED.value
    row.retired_at = clock.now()
    record_audit(actor, "signing_key.retired", row.key_id, agency=row.agency)
    db.session.commit()
    forget_agency_keys(row.agency)
    return row


def revoke_key(
    key_id: str, *, reason: str, at: datetime | None = None, actor: str = "operator"
) -> SigningKey:
    """A problem (key compromised, certificate wrong): documents signed from ``at`` on are not trusted.

    A current key that is revoked leaves its agency with no key that may sign until another is
    made current: issuance fails with a clear reason rather than sign with a revoked key.
    """
    reason = reason.strip()
    if not reason:
        raise BadInput("give the reason for the revocation (--reason)")
    row = _locked(find_key(key_id))
    if row.status == SigningKeyStatus.REVOKED:
        raise BadInput(f"key {row.key_id[:16]} was already revoked on {row.revoked_at:%Y-%m-%d}")
    now = clock.now()
    when = at or now
    if when.tzinfo is None:
        raise BadInput("the revocation time needs a time zone")
    if when > now:
        raise BadInput("the revocation time cannot be in the future")
    previous = row.status
    row.status = SigningKeyStatus.REVOKED.value
    row.revoked_at = when
    row.revocation_reason = reason
    record_audit(
        actor,
        "signing_key.revoked",
        row.key_id,
        agency=row.agency,
        previous_status=previous,
        revoked_at=when.isoformat(),
        reason=reason,
    )
    db.session.commit()
    forget_agency_keys(row.agency)
    return row


def _locked(row: SigningKey) -> SigningKey:
    db.session.refresh(row, with_for_update=True)
    return row


def switch_current(row: SigningKey, *, actor: str, now: datetime) -> None:
    """Make ``row`` current under a lock on its agency's rows (the index is the final guard)."""
    agency_rows = db.session.scalars(
        select(SigningKey)
        .where(SigningKey.agency == row.agency)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    if row.status == SigningKeyStatus.CURRENT:
        raise BadInput(f"key {row.key_id[:16]} is already the current key of {row.agency}")
    if row.status == SigningKeyStatus.REVOKED:
        raise BadInput(f"key {row.key_id[:16]} is revoked: it can never sign again")
    if row.not_after <= now:
        raise BadInput(f"key {row.key_id[:16]}'s certificate expired on {row.not_after:%Y-%m-%d}")
    if row.not_before > now:
        raise BadInput(f"key {row.key_id[:16]}'s certificate is valid only from {row.not_before:%Y-%m-%d}")
    previous = [r for r in agency_rows if r.status == SigningKeyStatus.CURRENT]
    if not previous:
        adopted = _adopt_configured(row.agency, {r.key_id for r in agency_rows}, actor=actor, now=now)
        if adopted is not None:
            previous = [adopted]
    for old in previous:
        if old.status == SigningKeyStatus.CURRENT:
            old.status = SigningKeyStatus.RETIRED.value
            old.retired_at = now
            record_audit(actor, "signing_key.retired", old.key_id, agency=old.agency, replaced_by=row.key_id)
    db.session.flush()  # the old key leaves "current" before the new one enters it
    row.status = SigningKeyStatus.CURRENT.value
    row.activated_at = now
    row.retired_at = None
    db.session.flush()
    record_audit(
        actor,
        "signing_key.made_current",
        row.key_id,
        agency=row.agency,
        previous=[old.key_id for old in previous],
    )


def _adopt_configured(agency: str, known: set[str], *, actor: str, now: datetime) -> SigningKey | None:
    """Record the key configured by environment, as current, so that switching away retires it."""

    spec = configured_specs(strict=True).get(agency)
    certificate = configured_certificate(spec) if spec is not None else None
    if spec is None or certificate is None:
        log.warning("agency %s: configured signing key not recorded (certificate not readable)", agency)
        return None
    key_id = certificate_key_id(certificate)
    if key_id in known:
        return None
    not_before, not_after = validity_of(certificate)
    store, reference, settings, chain = location_of(spec)
    row = SigningKey(
        agency=agency,
        key_id=key_id,
        certificate_pem=pem.armor("CERTIFICATE", certificate.dump()).decode("ascii"),
        store=store,
        reference=reference,
        settings=settings,
        chain=chain,
        subject_cn=certificate_common_name(certificate),
        not_before=not_before,
        not_after=not_after,
        status=SigningKeyStatus.CURRENT.value,
        added_at=now,
        activated_at=None,
    )
    db.session.add(row)
    db.session.flush()
    record_audit(actor, "signing_key.adopted", key_id, agency=agency, store=store)
    return row


def forget_agency_keys(agency: str) -> None:
    """This process picks a switch up at once; others within SIGNING_KEY_REFRESH_SECONDS."""
    ring = key_ring()
    if isinstance(ring, RotatingKeyRing):
        ring.invalidate(agency)
