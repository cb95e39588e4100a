"""Adding a signing key to the register, from a key file or a PKCS#11 token.

What: :func:`add_key` records a new key, given where it lives (a
:class:`~portal.signing.FileKeySpec` or :class:`~portal.signing.Pkcs11KeySpec`; a token's PIN is
only named, never given or stored), as *standby* or made current at once, after proving that it
works: the key signs a probe the certificate verifies, the certificate is within its validity
and chains to our trust roots (the checks themselves are :mod:`portal.signing.keycheck`).

Why: a key that cannot sign, or a certificate verifiers would not trust, must be refused when
the operator adds it, not discovered when the agency's first document fails to sign.
"""

from __future__ import annotations

from asn1crypto import pem
from sqlalchemy import select

from portal import clock
from portal.errors import BadInput
from portal.extensions import db
from portal.models import SigningKey, SigningKeyStatus
from portal.services import runtime
from portal.services.audit import record_audit
from portal.signing import KeySpec, SigningError, configured_identity_loader, load_trust_roots
from portal.signing.keycheck import (
    CertificateNotUsable,
    CertificateUnchained,
    check_certificate_path,
    prove_key_signs,
)
from portal.signing.keys import certificate_common_name

from .configured import agency_ids, validity_of
from .lifecycle import forget_agency_keys, switch_current
from .locations import location_of

__all__ = ["add_key"]


def add_key(*, spec: KeySpec, make_current_now: bool = False, actor: str = "operator") -> SigningKey:
    """Record the key ``spec`` names after proving it works: the key signs a probe the certificate
    verifies, the certificate is within its validity and chains to our trust roots."""
    agency = spec.agency
    if agency not in agency_ids():
        raise BadInput(f"unknown agency {agency!r} (known: {', '.join(agency_ids())})")
    try:
        identity = configured_identity_loader({agency: spec})(agency)
        prove_key_signs(identity)
    except (SigningError, ValueError) as exc:
        raise BadInput(str(exc)) from None

    certificate = identity.certificate
    not_before, not_after = validity_of(certificate)
    now = clock.now()
    if not_after <= now:
        raise BadInput(f"certificate {spec.cert} expired on {not_after:%Y-%m-%d %H:%M} UTC: it cannot sign")
    name = certificate_common_name(certificate)
    try:
        check_certificate_path(
            certificate,
            intermediates=load_trust_roots(list(spec.chain)) if spec.chain else [],
            roots=runtime.trust_roots(),
            moment=now,
        )
    except CertificateUnchained:
        raise BadInput(
            f"certificate {name!r} does not chain to the trust roots "
            "(PORTAL_TRUST_ROOTS and the development root); give its intermediates with --chain"
        ) from None
    except CertificateNotUsable as exc:
        raise BadInput(f"certificate {name!r} is not usable: {exc}") from None
    if db.session.scalar(select(SigningKey).where(SigningKey.key_id == identity.key_id)) is not None:
        raise BadInput(f"key {identity.key_id[:16]} is already in the table")

    store, reference, settings, chain_paths = location_of(spec)
    row = SigningKey(
        agency=agency,
        key_id=identity.key_id,
        certificate_pem=pem.armor("CERTIFICATE", certificate.dump()).decode("ascii"),
        store=store,
        reference=reference,
        settings=settings,
        chain=chain_paths,
        subject_cn=identity.subject,
        not_before=not_before,
        not_after=not_after,
        status=SigningKeyStatus.STANDBY.value,
        added_at=now,
    )
    db.session.add(row)
    db.session.flush()
    record_audit(actor, "signing_key.added", identity.key_id, agency=agency, store=store)
    if make_current_now:
        switch_current(row, actor=actor, now=now)
    db.session.commit()
    forget_agency_keys(agency)
    return row
