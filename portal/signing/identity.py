"""Signing identities: the key, certificate and ready pyHanko signer of one agency.

What: :class:`SigningIdentity` is what every key store (files, :mod:`portal.signing.keyfiles`;
PKCS#11 tokens, :mod:`portal.signing.pkcs11`) hands to :func:`~portal.signing.signer.sign_pdf`;
:class:`PreparedKeySigner` is its signer for keys held in memory. The errors of key loading
and the certificate helpers every signing module uses live here too, at the bottom of the
import graph, so that the loaders, the configuration and the key ring can share them.

Why: pyHanko's stock ``SimpleSigner`` re-parses the private key on every raw signature
(FIELD-NOTES: most of the signing time). :class:`PreparedKeySigner` keeps the parsed
``cryptography`` key object instead, so a signature costs only the PDF writing and the
raw ECDSA/RSA operation.

Import these names from :mod:`portal.signing.keys` (or :mod:`portal.signing`), which
re-exports them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from asn1crypto import tsp, x509
from cryptography.hazmat.primitives import hashes
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
    "PadesBaselineSignedAttributes",
    "PreparedKeySigner",
    "PrivateKey",
    "SigningError",
    "SigningIdentity",
    "certificate_common_name",
    "certificate_key_id",
]

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


class PadesBaselineSignedAttributes(SignedAttributeProviderSpec):
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
    :class:`PadesBaselineSignedAttributes`; not for plain CAdES, which would need a
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
        self.signed_attr_prov_spec = PadesBaselineSignedAttributes(signing_cert)

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


def certificate_key_id(certificate: x509.Certificate) -> str:
    """Hex SHA-256 of a certificate's DER encoding (the ``key_id`` of an identity)."""
    return hashlib.sha256(certificate.dump()).hexdigest()


def certificate_common_name(certificate: x509.Certificate) -> str:
    """The subject common name (or organisation) of a certificate, for display."""
    names = certificate.subject.native
    return str(names.get("common_name") or names.get("organization_name") or "unknown")
