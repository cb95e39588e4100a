"""Certificate-building helpers of the development PKI (:mod:`portal.signing.devpki`).

What: the X.509 pieces every development certificate is made of (its name, key usage, CRL
distribution point, serial number), the document-signing certificate profile
(:func:`issue_signer_certificate`), and loading and atomically writing the PEM files.

Why: kept apart from the on-disk layout and the create-only-when-missing orchestration of
:func:`~portal.signing.devpki.ensure_dev_pki` so that each reads on its own; tests and the
development CRL (:mod:`portal.signing.devcrl`) use these helpers too, through
:mod:`portal.signing.devpki`, which re-exports them.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

__all__ = [
    "DEV_CRL_URL",
    "DEV_ORGANIZATION",
    "DevPkiError",
    "crl_distribution_point",
    "dev_name",
    "issue_signer_certificate",
    "key_usage",
    "load_cert",
    "load_key",
    "names_dev_crl",
    "random_serial",
    "signer_common_name",
    "write_atomically",
    "write_cert",
    "write_key",
]

DEV_ORGANIZATION = "Tra (DEVELOPMENT ONLY - NOT FOR PRODUCTION)"
"""Organisation (O) of every development certificate."""

DEV_CRL_URL = "http://dev-pki.tra.invalid/root.crl"
"""CRL distribution point of every development leaf certificate. ``.invalid`` (RFC 2606) never
resolves: only the in-process development fetcher (:mod:`portal.signing.devcrl`) answers it."""

# Microsoft "Document Signing" key purpose, widely used for PDF signing certificates.
_MS_DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.4.1.311.10.3.12")
# RFC 9336 id-kp-documentSigning.
_ID_KP_DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")

_MAX_CN = 64
"""X.520 upper bound of a common name (cryptography enforces it)."""


class DevPkiError(Exception):
    """The development PKI directory is inconsistent or an agency id is unusable."""


def issue_signer_certificate(
    public_key,
    *,
    common_name: str,
    root_cert: x509.Certificate,
    root_key,
    not_before: dt.datetime,
    not_after: dt.datetime,
    crl_url: str | None = DEV_CRL_URL,
) -> x509.Certificate:
    """A document-signing certificate for ``public_key`` from the development root (or any CA
    given as ``root_cert``/``root_key``): the profile every development signer gets.

    ``crl_url`` is its CRL distribution point (``None``: none, as before the development CRL).
    """
    root_ski = root_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    builder = (
        x509.CertificateBuilder()
        .subject_name(dev_name(common_name))
        .issuer_name(root_cert.subject)
        .public_key(public_key)
        .serial_number(random_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        # content_commitment, a.k.a. nonRepudiation, is required by pyHanko for signers
        .add_extension(key_usage(digital_signature=True, content_commitment=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [
                    _ID_KP_DOCUMENT_SIGNING,
                    _MS_DOCUMENT_SIGNING,
                    ExtendedKeyUsageOID.EMAIL_PROTECTION,
                ]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski.value),
            critical=False,
        )
    )
    if crl_url:
        builder = builder.add_extension(crl_distribution_point(crl_url), critical=False)
    return builder.sign(root_key, hashes.SHA256())


def names_dev_crl(certificate: x509.Certificate) -> bool:
    """Whether ``certificate`` names :data:`DEV_CRL_URL` as a CRL distribution point."""
    try:
        points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return False
    return any(
        isinstance(name, x509.UniformResourceIdentifier) and name.value == DEV_CRL_URL
        for point in points
        for name in point.full_name or ()
    )


def crl_distribution_point(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(url)],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
        ]
    )


def signer_common_name(english_name: str) -> str:
    """CN of an agency's development signing certificate, within X.520's 64 characters.

    ``"<name> Document Signing (DEVELOPMENT)"`` when it fits, else
    ``"<name> (DEVELOPMENT)"``, else the name cut short with ``...``. The word
    DEVELOPMENT is always kept.
    """
    name = " ".join(english_name.split())
    for suffix in (" Document Signing (DEVELOPMENT)", " (DEVELOPMENT)"):
        if len(name) + len(suffix) <= _MAX_CN:
            return name + suffix
    return name[: _MAX_CN - len("... (DEVELOPMENT)")].rstrip() + "... (DEVELOPMENT)"


def key_usage(**granted: bool) -> x509.KeyUsage:
    """A key usage extension with the named bits set and every other bit clear."""
    bits = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    return x509.KeyUsage(**{bit: granted.get(bit, False) for bit in bits})


def dev_name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "TH"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def random_serial() -> int:
    """A random positive 159-bit serial number (RFC 5280 allows up to 20 octets)."""
    return secrets.randbits(159) | 1


def load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError as exc:
        raise DevPkiError(f"{path} is not a PEM certificate") from exc


def load_key(path: Path, key_type: type):
    """The unencrypted PEM private key at ``path``, which must be a ``key_type``."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise DevPkiError(f"{path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, key_type):
        kind = "an EC" if key_type is ec.EllipticCurvePrivateKey else "an RSA"
        raise DevPkiError(f"{path} is not {kind} private key")
    return key


def write_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_atomically(path, pem, mode=0o600)


def write_cert(path: Path, cert: x509.Certificate) -> None:
    write_atomically(path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)


def write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    """Write to a temporary file created with ``mode``, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # umask may have removed bits; never adds any to keys
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
