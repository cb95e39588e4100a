"""Key and certificate files: an agency's identity from a PEM key, and the trust roots.

What: :func:`load_file_identity` reads an unencrypted PEM key and its certificate into a
:class:`~portal.signing.identity.SigningIdentity`; :func:`file_identity_loader` makes a
:class:`~portal.signing.keys.KeyRing` loader of it; :func:`load_trust_roots` reads the CA
certificates that validation trusts.

Why a module of its own: this is the file side of key storage (development PKI, small
deployments); the token side is :mod:`portal.signing.pkcs11`, which reuses the certificate
readers below for certificate and chain files. Import the public names from
:mod:`portal.signing.keys`, which re-exports them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from asn1crypto import pem, x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .identity import (
    KeyLoadError,
    KeyNotConfigured,
    PreparedKeySigner,
    PrivateKey,
    SigningIdentity,
    certificate_common_name,
    certificate_key_id,
)

__all__ = [
    "certs_from_file",
    "file_identity_loader",
    "load_file_identity",
    "load_trust_roots",
    "one_cert",
]

# The name these log lines have always had (operators may filter on it), not this module's.
logger = logging.getLogger("portal.signing.keys")


def load_file_identity(
    agency: str,
    key_path: Path,
    cert_path: Path,
    chain: Sequence[Path] = (),
) -> SigningIdentity:
    """Load an agency's identity from an unencrypted PEM key and a PEM/DER certificate.

    ``chain`` lists files with intermediate (and, if wanted, root) certificates to embed
    in signatures. Raises :class:`KeyLoadError` with a plain message on any problem,
    including a key that does not belong to the certificate.
    """
    key_bytes = _read(Path(key_path), "signing key")
    try:
        private_key = serialization.load_pem_private_key(key_bytes, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyLoadError(f"signing key {key_path} is not an unencrypted PEM private key") from exc
    if not isinstance(private_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise KeyLoadError(f"signing key {key_path} is neither EC nor RSA")

    certificate = one_cert(Path(cert_path), "signing certificate")
    if not _same_public_key(private_key, certificate):
        raise KeyLoadError(f"signing key {key_path} does not match certificate {cert_path}")
    others: list[x509.Certificate] = []
    for path in chain:
        others.extend(certs_from_file(Path(path), "chain certificate"))

    subject = certificate_common_name(certificate)
    identity = SigningIdentity(
        agency=agency,
        key_id=certificate_key_id(certificate),
        signer=PreparedKeySigner(private_key, certificate, others),
        certificate=certificate,
        subject=subject,
    )
    logger.info("loaded signing identity for agency %s (key id %s)", agency, identity.key_id[:16])
    return identity


def file_identity_loader(
    paths: Mapping[str, tuple[Path, Path]], chain: Sequence[Path] = ()
) -> Callable[[str], SigningIdentity]:
    """A :class:`KeyRing` loader over ``agency -> (key path, cert path)`` (e.g. ``DevPki.agency_paths``).

    Unknown agencies raise :class:`KeyNotConfigured`.
    """
    table = dict(paths)
    chain = tuple(chain)

    def load(agency: str) -> SigningIdentity:
        try:
            key_path, cert_path = table[agency]
        except KeyError:
            raise KeyNotConfigured(f"no signing key configured for agency {agency!r}") from None
        return load_file_identity(agency, key_path, cert_path, chain)

    return load


def load_trust_roots(paths: Sequence[Path]) -> list[x509.Certificate]:
    """Read trust-root certificates (PEM, possibly several per file, or DER)."""
    roots: list[x509.Certificate] = []
    for path in paths:
        roots.extend(certs_from_file(Path(path), "trust root"))
    return roots


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyLoadError(f"{what} file {path} does not exist") from None
    except OSError as exc:
        raise KeyLoadError(f"{what} file {path} cannot be read: {exc.strerror}") from None


def certs_from_file(path: Path, what: str) -> list[x509.Certificate]:
    data = _read(path, what)
    try:
        if pem.detect(data):
            certs = [
                x509.Certificate.load(der)
                for kind, _headers, der in pem.unarmor(data, multiple=True)
                if kind == "CERTIFICATE"
            ]
        else:
            certs = [x509.Certificate.load(data)]
        for cert in certs:
            cert.native  # noqa: B018 - forces a full parse so that bad DER fails here
    except (ValueError, TypeError) as exc:
        raise KeyLoadError(f"{what} file {path} does not hold a valid certificate") from exc
    if not certs:
        raise KeyLoadError(f"{what} file {path} holds no certificate")
    return certs


def one_cert(path: Path, what: str) -> x509.Certificate:
    certs = certs_from_file(path, what)
    if len(certs) != 1:
        raise KeyLoadError(f"{what} file {path} must hold exactly one certificate")
    return certs[0]


def _same_public_key(private_key: PrivateKey, certificate: x509.Certificate) -> bool:
    try:
        cert_key = serialization.load_der_public_key(certificate.public_key.dump())
    except (ValueError, UnsupportedAlgorithm):
        return False
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return private_key.public_key().public_bytes(der, spki) == cert_key.public_bytes(der, spki)
