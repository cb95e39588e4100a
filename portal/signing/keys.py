"""Signing identities: an agency's private key and certificate, parsed once per process.

What: :func:`load_file_identity` reads a PEM key and certificate into a
:class:`SigningIdentity` holding a ready pyHanko signer; :class:`KeyRing` caches one
identity per agency for the life of the process; :func:`load_trust_roots` reads the CA
certificates that validation trusts.

Why: pyHanko's stock ``SimpleSigner`` re-parses the private key on every raw signature
(FIELD-NOTES: most of the signing time). :class:`PreparedKeySigner` keeps the parsed
``cryptography`` key object instead, so a signature costs only the PDF writing and the
raw ECDSA/RSA operation. Keys that live in an HSM will get their own loader returning
the same :class:`SigningIdentity` shape.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import pem, tsp, x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.sign.attributes import (
    CMSAttributeProvider,
    SignedAttributeProviderSpec,
    SigningCertificateV2Provider,
)
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.signers import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore

__all__ = [
    "KeyLoadError",
    "KeyNotConfigured",
    "KeyRing",
    "PreparedKeySigner",
    "SigningError",
    "SigningIdentity",
    "certificate_common_name",
    "certificate_key_id",
    "file_identity_loader",
    "load_file_identity",
    "load_trust_roots",
]

logger = logging.getLogger(__name__)

_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class SigningError(Exception):
    """Base class of every error raised by :mod:`portal.signing`."""


class KeyNotConfigured(SigningError):
    """No signing key is configured for the requested agency."""


class KeyLoadError(SigningError):
    """A key or certificate file is missing, unreadable or not what it should be."""


PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class SigningIdentity:
    """Everything needed to sign on behalf of one agency."""

    agency: str
    """Agency id, e.g. ``"dlt"``."""

    key_id: str
    """Hex SHA-256 of the signing certificate's DER; names the key that signed a document."""

    signer: Signer
    """pyHanko signer with the private key already parsed; safe to reuse for many PDFs."""

    certificate: x509.Certificate
    """The signing certificate (asn1crypto)."""

    subject: str
    """Human-readable signer name: the certificate's common name."""


class _CachedSigningCertificateV2(SigningCertificateV2Provider):
    """signing-certificate-v2 attribute provider returning a value built once.

    pyHanko rebuilds this value for every signature; asn1crypto then re-encodes the
    freshly built (hence "mutated") tree over and over, which cost about 14 ms per PDF.
    A value parsed back from its DER is cached and re-encodes for free.
    """

    def __init__(self, signing_cert: x509.Certificate) -> None:
        super().__init__(signing_cert)
        self._value = tsp.SigningCertificateV2.load(as_signing_certificate_v2(signing_cert).dump())

    async def build_attr_value(self, dry_run: bool = False) -> tsp.SigningCertificateV2:
        return self._value


class _PadesBaselineSignedAttributes(SignedAttributeProviderSpec):
    """Signed attributes of a PAdES baseline signature: signing-certificate-v2.

    pyHanko adds content-type and message-digest itself. PAdES forbids the CMS
    signing-time attribute (the time goes in the signature dictionary's /M), and we
    use no commitment types or signer attributes, so nothing else is needed.
    """

    def __init__(self, signing_cert: x509.Certificate) -> None:
        self._provider = _CachedSigningCertificateV2(signing_cert)

    def signed_attr_providers(
        self, data_digest: bytes, digest_algorithm: str
    ) -> Iterator[CMSAttributeProvider]:
        yield self._provider


class PreparedKeySigner(Signer):
    """pyHanko signer over an already parsed ``cryptography`` private key.

    Supports ECDSA (any curve) and RSA PKCS#1 v1.5, for PAdES signatures (see
    :class:`_PadesBaselineSignedAttributes`; not for plain CAdES, which would need a
    signing-time attribute). Nothing is mutated after construction, so one instance
    can serve several threads.
    """

    def __init__(
        self,
        private_key: PrivateKey,
        signing_cert: x509.Certificate,
        other_certs: Sequence[x509.Certificate] = (),
    ) -> None:
        if not isinstance(private_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise KeyLoadError("only EC and RSA signing keys are supported")
        registry = SimpleCertificateStore()
        registry.register_multiple(other_certs)
        super().__init__(
            signing_cert=signing_cert,
            cert_registry=registry,
            embed_roots=True,
        )
        self._private_key = private_key
        self.signed_attr_prov_spec = _PadesBaselineSignedAttributes(signing_cert)

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        """Sign ``data`` (the DER of the signed attributes) with the prepared key."""
        return self.sign_raw(data, digest_algorithm)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        """Synchronous raw signature; ``digest_algorithm`` is e.g. ``"sha256"``."""
        try:
            hash_algo = _HASHES[digest_algorithm.lower()]()
        except KeyError:
            raise PyHankoSigningError(f"digest algorithm {digest_algorithm} is not supported") from None
        key = self._private_key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(hash_algo))
        return key.sign(data, padding.PKCS1v15(), hash_algo)


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

    certificate = _one_cert(Path(cert_path), "signing certificate")
    if not _same_public_key(private_key, certificate):
        raise KeyLoadError(f"signing key {key_path} does not match certificate {cert_path}")
    others: list[x509.Certificate] = []
    for path in chain:
        others.extend(_certs_from_file(Path(path), "chain certificate"))

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


class KeyRing:
    """Per-process cache of signing identities: each agency is loaded once.

    Thread-safe: concurrent first calls for the same agency run the loader once.
    Failures are not cached, so a fixed configuration is picked up on the next call.
    """

    def __init__(self, loader: Callable[[str], SigningIdentity]) -> None:
        self._loader = loader
        self._identities: dict[str, SigningIdentity] = {}
        self._lock = threading.Lock()

    def get(self, agency: str) -> SigningIdentity:
        """The identity of ``agency``; raises :class:`KeyNotConfigured`/:class:`KeyLoadError`."""
        identity = self._identities.get(agency)
        if identity is not None:
            return identity
        with self._lock:
            identity = self._identities.get(agency)
            if identity is None:
                identity = self._loader(agency)
                if identity.agency != agency:
                    raise KeyLoadError(f"loader returned the identity of {identity.agency!r} for {agency!r}")
                self._identities[agency] = identity
            return identity


def load_trust_roots(paths: Sequence[Path]) -> list[x509.Certificate]:
    """Read trust-root certificates (PEM, possibly several per file, or DER)."""
    roots: list[x509.Certificate] = []
    for path in paths:
        roots.extend(_certs_from_file(Path(path), "trust root"))
    return roots


def certificate_key_id(certificate: x509.Certificate) -> str:
    """Hex SHA-256 of a certificate's DER encoding (the ``key_id`` of an identity)."""
    return hashlib.sha256(certificate.dump()).hexdigest()


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyLoadError(f"{what} file {path} does not exist") from None
    except OSError as exc:
        raise KeyLoadError(f"{what} file {path} cannot be read: {exc.strerror}") from None


def _certs_from_file(path: Path, what: str) -> list[x509.Certificate]:
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


def _one_cert(path: Path, what: str) -> x509.Certificate:
    certs = _certs_from_file(path, what)
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


def certificate_common_name(certificate: x509.Certificate) -> str:
    """The subject common name (or organisation) of a certificate, for display."""
    names = certificate.subject.native
    return str(names.get("common_name") or names.get("organization_name") or "unknown")
