"""The pyHanko signer for a key in a PKCS#11 token, and the identity built around it.

What: :class:`Pkcs11KeySigner` makes pyHanko's raw signatures with a
:class:`~portal.signing.pkcs11_token.Pkcs11TokenKey`; :func:`load_pkcs11_identity` finds the
key and its certificate, proves they belong together and returns a
:class:`~portal.signing.keys.SigningIdentity`. Import the public names from
:mod:`portal.signing.pkcs11`, which re-exports them.

Why a module of its own: this is the signature side; how this process opens, shares and
reopens sessions with a token is :mod:`portal.signing.pkcs11_token`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from asn1crypto import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.pkcs11 import select_pkcs11_signing_params
from pyhanko.sign.signers import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore

from .identity import (
    KeyLoadError,
    PadesBaselineSignedAttributes,
    SigningIdentity,
    certificate_common_name,
    certificate_key_id,
)
from .keyfiles import certs_from_file, one_cert
from .keysettings import Pkcs11KeySpec
from .pkcs11_token import Pkcs11TokenKey

__all__ = [
    "Pkcs11KeySigner",
    "load_pkcs11_identity",
]

# The name these log lines have always had (operators and tests may filter on it), not this module's.
logger = logging.getLogger("portal.signing.pkcs11")


class Pkcs11KeySigner(Signer):
    """pyHanko signer whose raw signatures are made by a key in a PKCS#11 token.

    Same PAdES signed attributes as :class:`~portal.signing.keys.PreparedKeySigner`.
    ECDSA keys use the raw ``CKM_ECDSA`` mechanism over a digest computed here (SoftHSM
    has no hash-and-sign ECDSA); RSA keys use ``CKM_SHA256_RSA_PKCS`` and friends.
    The mechanism choice is pyHanko's (:func:`pyhanko.sign.pkcs11.select_pkcs11_signing_params`).
    """

    def __init__(
        self,
        key: Pkcs11TokenKey,
        signing_cert: x509.Certificate,
        other_certs: tuple[x509.Certificate, ...] = (),
    ) -> None:
        algorithm = signing_cert.public_key.algorithm
        if algorithm not in ("ec", "rsa"):
            raise KeyLoadError(
                f"agency {key.spec.agency}: only EC and RSA keys are supported, not {algorithm}"
            )
        registry = SimpleCertificateStore()
        registry.register_multiple(other_certs)
        super().__init__(signing_cert=signing_cert, cert_registry=registry, embed_roots=True)
        self.key = key
        self.signed_attr_prov_spec = PadesBaselineSignedAttributes(signing_cert)
        self._raw = algorithm == "ec"
        if self._raw:
            # DER ECDSA signature: two integers of the curve's size, each possibly one byte longer.
            self._max_signature = 2 * (signing_cert.public_key.bit_size // 8 + 3) + 3
        else:
            self._max_signature = signing_cert.public_key.bit_size // 8

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        """Sign ``data`` in the token; a dry run only returns a placeholder of the right size."""
        if dry_run:
            return bytes(self._max_signature)
        return self.sign_raw(data, digest_algorithm)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        """Synchronous raw signature; ``digest_algorithm`` is e.g. ``"sha256"``."""
        digest_algorithm = digest_algorithm.lower()
        try:
            op = select_pkcs11_signing_params(
                self.get_signature_mechanism_for_digest(digest_algorithm),
                digest_algorithm,
                use_raw_mechanism=self._raw,
                sign_kwargs={},
            )
        except (KeyError, ValueError, NotImplementedError):
            raise PyHankoSigningError(f"digest algorithm {digest_algorithm} is not supported") from None
        if op.pre_sign_transform is not None:
            data = op.pre_sign_transform(data)
        signature = self.key.sign(data, **op.sign_kwargs)
        if op.post_sign_transform is not None:
            signature = op.post_sign_transform(signature)
        return signature


def load_pkcs11_identity(spec: Pkcs11KeySpec) -> SigningIdentity:
    """Open (or reuse) the token's session, find the key and its certificate, prove they match.

    Raises :class:`~portal.signing.keys.KeyLoadError` naming the agency and the setting
    at fault; the PIN never appears in a message or a log line.
    """
    key = Pkcs11TokenKey(spec)
    key.ensure_ready()
    if spec.cert is not None:
        certificate = one_cert(spec.cert, f"agency {spec.agency}: signing certificate")
    else:
        certificate = key.certificate_from_token()
    chain: list[x509.Certificate] = []
    for path in spec.chain:
        chain.extend(certs_from_file(path, f"agency {spec.agency}: chain certificate"))
    signer = Pkcs11KeySigner(key, certificate, tuple(chain))
    _prove_key_matches(signer, spec, certificate)
    identity = SigningIdentity(
        agency=spec.agency,
        key_id=certificate_key_id(certificate),
        signer=signer,
        certificate=certificate,
        subject=certificate_common_name(certificate),
    )
    logger.info(
        "loaded PKCS#11 signing identity for agency %s (token %s, key %s, key id %s)",
        spec.agency,
        spec.token_label,
        spec.describe_key(),
        identity.key_id[:16],
    )
    return identity


def _prove_key_matches(signer: Pkcs11KeySigner, spec: Pkcs11KeySpec, certificate: x509.Certificate) -> None:
    """Sign a probe in the token and verify it with the certificate's public key."""
    probe = b"Tra signing key check " + secrets.token_bytes(16)
    mismatch = (
        f"agency {spec.agency}: private key {spec.describe_key()} in token {spec.token_label!r} "
        f"does not match the signing certificate {certificate_common_name(certificate)!r}"
    )
    try:
        signature = signer.sign_raw(probe, "sha256")
    except PyHankoSigningError as exc:  # e.g. an RSA key behind an EC certificate
        raise KeyLoadError(f"{mismatch} (the token could not sign: {exc})") from None
    verify: Callable[[], None]
    try:
        public_key = serialization.load_der_public_key(certificate.public_key.dump())
    except (ValueError, UnsupportedAlgorithm):
        raise KeyLoadError(f"agency {spec.agency}: the certificate's public key cannot be read") from None
    if isinstance(public_key, ec.EllipticCurvePublicKey):

        def verify() -> None:
            public_key.verify(signature, probe, ec.ECDSA(hashes.SHA256()))

    elif isinstance(public_key, rsa.RSAPublicKey):

        def verify() -> None:
            public_key.verify(signature, probe, padding.PKCS1v15(), hashes.SHA256())

    else:  # pragma: no cover - Pkcs11KeySigner refuses other key types first
        raise KeyLoadError(f"agency {spec.agency}: unsupported public key type")
    try:
        verify()
    except InvalidSignature:
        raise KeyLoadError(mismatch) from None
