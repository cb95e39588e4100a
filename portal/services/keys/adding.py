"""Adding a signing key to the register, from a key file or a PKCS#11 token.

What: :func:`add_key` records a new key (as *standby*, or made current at once) after proving
that it works: the key signs a probe the certificate verifies, the certificate is within its
validity and chains to our trust roots. :class:`Pkcs11Location` says where a key lives in a
token; the PIN is only named, never given or stored.

Why: a key that cannot sign, or a certificate verifiers would not trust, must be refused when
the operator adds it, not discovered when the agency's first document fails to sign.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from asn1crypto import pem, x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from sqlalchemy import select

from portal import clock
from portal.errors import BadInput
from portal.extensions import db
from portal.models import SigningKey, SigningKeyStatus
from portal.services.audit import record_audit
from portal.signing import (
    FileKeySpec,
    KeyLoadError,
    KeySpec,
    Pkcs11KeySpec,
    SigningError,
    SigningIdentity,
    configured_identity_loader,
    load_trust_roots,
)
from portal.signing.keys import certificate_common_name

from .configured import _agencies, _validity
from .lifecycle import _invalidate, _switch
from .locations import _ADD_OPTIONS, _location

__all__ = ["Pkcs11Location", "add_key"]


@dataclass(frozen=True)
class Pkcs11Location:
    """Where a new key lives in a token (the PIN is named, never given)."""

    module: str
    token: str
    key_label: str | None = None
    key_id: str | None = None
    pin_env: str | None = None
    pin_file: Path | None = None


def add_key(
    *,
    agency: str,
    cert: Path,
    key: Path | None = None,
    pkcs11: Pkcs11Location | None = None,
    chain: tuple[Path, ...] = (),
    make_current_now: bool = False,
    actor: str = "operator",
) -> SigningKey:
    """Record a new signing key after proving it works: the key signs a probe the certificate
    verifies, the certificate is within its validity and chains to our trust roots."""
    from portal.services import runtime

    if agency not in _agencies():
        raise BadInput(f"unknown agency {agency!r} (known: {', '.join(_agencies())})")
    if (key is None) == (pkcs11 is None):
        raise BadInput("give either --key (a key file) or the PKCS#11 token and key label")
    spec: KeySpec
    try:
        if key is not None:
            spec = FileKeySpec(agency=agency, key=Path(key), cert=Path(cert), chain=tuple(chain))
        else:
            assert pkcs11 is not None
            spec = Pkcs11KeySpec(
                agency=agency,
                module=pkcs11.module,
                token_label=pkcs11.token,
                key_label=pkcs11.key_label,
                key_id=bytes.fromhex(pkcs11.key_id.replace(":", "")) if pkcs11.key_id else None,
                pin_env=pkcs11.pin_env,
                pin_file=pkcs11.pin_file,
                cert=Path(cert),
                chain=tuple(chain),
                setting_names=_ADD_OPTIONS,
            )
        identity = configured_identity_loader({agency: spec})(agency)
        _prove_probe(identity)
    except (SigningError, ValueError) as exc:
        raise BadInput(str(exc)) from None

    certificate = identity.certificate
    not_before, not_after = _validity(certificate)
    now = clock.now()
    if not_after <= now:
        raise BadInput(f"certificate {cert} expired on {not_after:%Y-%m-%d %H:%M} UTC: it cannot sign")
    _check_chain(certificate, spec.chain, runtime.trust_roots(), now)
    if db.session.scalar(select(SigningKey).where(SigningKey.key_id == identity.key_id)) is not None:
        raise BadInput(f"key {identity.key_id[:16]} is already in the table")

    store, reference, settings, chain_paths = _location(spec)
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
        _switch(row, actor=actor, now=now)
    db.session.commit()
    _invalidate(agency)
    return row


def _prove_probe(identity: SigningIdentity) -> None:
    """Sign a random probe with the key and verify it with the certificate's public key."""
    probe = b"Tra signing key check " + secrets.token_bytes(16)
    mismatch = f"agency {identity.agency}: the key does not belong to certificate {identity.subject!r}"
    try:
        signature = identity.signer.sign_raw(probe, "sha256")
        public_key = serialization.load_der_public_key(identity.certificate.public_key.dump())
    except (ValueError, UnsupportedAlgorithm, SigningError) as exc:
        raise KeyLoadError(f"{mismatch} ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - pyHanko and token errors alike mean "cannot sign"
        raise KeyLoadError(f"{mismatch} (the key could not sign: {exc})") from None
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, probe, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, probe, padding.PKCS1v15(), hashes.SHA256())
        else:
            raise KeyLoadError(f"agency {identity.agency}: unsupported public key type")
    except InvalidSignature:
        raise KeyLoadError(mismatch) from None


def _check_chain(
    certificate: x509.Certificate, chain: tuple[Path, ...], roots: list[x509.Certificate], moment: datetime
) -> None:
    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError

    intermediates = load_trust_roots(list(chain)) if chain else []
    context = ValidationContext(trust_roots=roots, moment=moment, allow_fetching=False)
    validator = CertificateValidator(
        certificate, intermediate_certs=intermediates, validation_context=context
    )
    try:
        asyncio.run(validator.async_validate_path())
    except PathBuildingError:
        raise BadInput(
            f"certificate {certificate_common_name(certificate)!r} does not chain to the trust roots "
            "(PORTAL_TRUST_ROOTS and the development root); give its intermediates with --chain"
        ) from None
    except PathValidationError as exc:
        raise BadInput(f"certificate {certificate_common_name(certificate)!r} is not usable: {exc}") from None
