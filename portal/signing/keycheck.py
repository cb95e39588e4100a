"""Checks of a signing key before it is recorded: it signs, and its certificate is trusted.

What: :func:`prove_key_signs` signs a random probe with an identity's key and verifies it with
its certificate's public key; :func:`check_certificate_path` validates the certificate's path to
the trust roots at a moment, offline.

Why here: only :mod:`portal.signing` signs or validates (``tests/test_layers.py`` checks); the
key register (``portal.services.keys``) calls these and words the refusal for the operator.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from datetime import datetime

from asn1crypto import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from .identity import KeyLoadError, SigningError, SigningIdentity

__all__ = ["CertificateNotUsable", "CertificateUnchained", "check_certificate_path", "prove_key_signs"]


class CertificateUnchained(SigningError):
    """No path from the certificate to the trust roots (an intermediate may be missing)."""


class CertificateNotUsable(SigningError):
    """The certificate's path was found but does not validate (expired, revoked, wrong usage...)."""


def prove_key_signs(identity: SigningIdentity) -> None:
    """Sign a random probe with the key and verify it with the certificate's public key.

    Raises :class:`KeyLoadError` naming the agency when the key cannot sign or is not the
    certificate's key."""
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


def check_certificate_path(
    certificate: x509.Certificate,
    *,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    moment: datetime,
) -> None:
    """Validate the certificate's path to ``roots`` at ``moment``, fetching nothing.

    Raises :class:`CertificateUnchained` when no path is found, :class:`CertificateNotUsable`
    (with the validator's reason) when the path does not validate."""
    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError

    context = ValidationContext(trust_roots=list(roots), moment=moment, allow_fetching=False)
    validator = CertificateValidator(
        certificate, intermediate_certs=list(intermediates), validation_context=context
    )
    try:
        asyncio.run(validator.async_validate_path())
    except PathBuildingError:
        raise CertificateUnchained("no path to the trust roots") from None
    except PathValidationError as exc:
        raise CertificateNotUsable(str(exc)) from None
