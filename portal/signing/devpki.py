"""Development PKI: a local root CA, one document-signing certificate per agency and a
development time-stamping authority (TSA).

What: :func:`ensure_dev_pki` creates, only when missing, a self-signed root CA, for each
agency an ECDSA P-256 signing key with a certificate issued by that root, and an RSA TSA
key whose certificate (same root) has the critical extended key usage id-kp-timeStamping.
Files already present are never regenerated, so the call is safe at every start-up and from
several processes at once (an exclusive ``flock`` on ``<directory>/.lock`` serialises
the creators); a PKI made before the TSA existed gets it on its next call.

Every signer and TSA certificate names the development CRL, :data:`DEV_CRL_URL`, as its CRL
distribution point: a reserved ``.invalid`` name (RFC 2606) that never resolves, answered
in-process by :mod:`portal.signing.devcrl`, so that the demo can sign at B-LT/B-LTA without
network. A certificate made before that (without the distribution point) is re-issued for the
same key on the next call.

Why: developers and tests need certificates that pyHanko accepts (key usage
``nonRepudiation``, a document-signing extended key usage, AKI/SKI) without network
access or a real CA. Every name carries "DEVELOPMENT" so that a document signed with
these keys can never be mistaken for a production certificate. The private keys are
stored unencrypted (mode 0600): acceptable for development only.

The TSA key is RSA, which both pyHanko's in-process ``DummyTimeStamper`` (RSA only) and our
faster development TSA behind ``TSA_URL=dev`` (:func:`portal.signing.timestamps.dev_timestamper`)
sign with.

The same function builds a second, *foreign* PKI for tests (another directory gives a
root that nobody trusts).

The certificate-building helpers (names, key usage, CRL distribution point, the signer profile,
loading and atomically writing PEM files) live in :mod:`portal.signing.devpki_certs`; this
module re-exports the names its importers use, so ``portal.signing.devpki`` stays the one to import.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

# The certificate-building helpers; tests and tests/keys_plugin.py keep taking the public ones
# from this module.
from .devpki_certs import (
    DEV_CRL_URL,
    DEV_ORGANIZATION,
    DevPkiError,
    crl_distribution_point,
    dev_name,
    issue_signer_certificate,
    key_usage,
    load_cert,
    load_key,
    names_dev_crl,
    random_serial,
    signer_common_name,
    write_cert,
    write_key,
)

__all__ = [
    "DEV_CRL_URL",
    "DEV_ORGANIZATION",
    "TSA_COMMON_NAME",
    "DevPki",
    "DevPkiError",
    "directory_lock",
    "ensure_dev_pki",
    "signer_common_name",
]

logger = logging.getLogger(__name__)

ROOT_COMMON_NAME = "Tra DEVELOPMENT Root CA"
"""Common name (CN) of the development root CA."""

TSA_COMMON_NAME = "Tra DEVELOPMENT Time-Stamping Authority"
"""Common name (CN) of the development TSA's certificate (``TSA_URL=dev``)."""

ROOT_CERT_FILE = "root-ca.pem"
ROOT_KEY_FILE = "root-ca.key.pem"
AGENCY_KEY_FILE = "signing.key.pem"
AGENCY_CERT_FILE = "signing.cert.pem"
# Beside the root, not in a subdirectory: agency ids name the subdirectories ("tsa" could be one).
TSA_KEY_FILE = "dev-tsa.key.pem"
TSA_CERT_FILE = "dev-tsa.cert.pem"
TSA_KEY_BITS = 2048

ROOT_VALIDITY = dt.timedelta(days=20 * 365 + 5)
SIGNER_VALIDITY = dt.timedelta(days=5 * 365 + 1)
TSA_VALIDITY = dt.timedelta(days=10 * 365 + 2)
CLOCK_SKEW = dt.timedelta(minutes=10)
"""Certificates start slightly in the past so that a skewed clock does not reject them."""

_AGENCY_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class DevPki:
    """Where the development PKI lives on disk."""

    root_cert_path: Path
    """PEM certificate of the development root CA (the trust root to configure)."""

    root_key_path: Path
    """PEM private key of the development root CA (unencrypted, mode 0600)."""

    agency_paths: dict[str, tuple[Path, Path]]
    """Agency id -> ``(signing key path, signing certificate path)``."""

    tsa_key_path: Path
    """PEM private key (RSA, unencrypted, mode 0600) of the development TSA."""

    tsa_cert_path: Path
    """PEM certificate of the development TSA, issued by the development root."""


def ensure_dev_pki(directory: Path, agencies: Mapping[str, str]) -> DevPki:
    """Create whatever is missing of the development PKI under ``directory``.

    ``agencies`` maps an agency id (``"dlt"``; lower-case letters, digits, ``-``/``_``)
    to its English name (``"Department of Land Transport"``), used in the signing
    certificate's common name. Existing files are left untouched (except a leaf certificate
    that names no development CRL: re-issued for its key); a second call creates nothing and
    returns the same paths. With no agencies, only the root and the TSA are ensured (what
    ``TSA_URL=dev`` needs).
    """
    directory = Path(directory)
    for agency_id, english_name in agencies.items():
        if not _AGENCY_ID.match(agency_id):
            raise DevPkiError(f"unusable agency id {agency_id!r}")
        if not english_name.strip() or not english_name.isascii():
            raise DevPkiError(f"agency {agency_id!r} needs a non-empty ASCII English name")

    directory.mkdir(parents=True, exist_ok=True)
    root_cert_path = directory / ROOT_CERT_FILE
    root_key_path = directory / ROOT_KEY_FILE
    tsa_key_path = directory / TSA_KEY_FILE
    tsa_cert_path = directory / TSA_CERT_FILE
    agency_paths: dict[str, tuple[Path, Path]] = {}

    with directory_lock(directory):
        root_cert, root_key = _ensure_root(root_cert_path, root_key_path)
        _ensure_tsa(tsa_key_path, tsa_cert_path, root_cert, root_key)
        for agency_id, english_name in agencies.items():
            key_path = directory / agency_id / AGENCY_KEY_FILE
            cert_path = directory / agency_id / AGENCY_CERT_FILE
            _ensure_agency(key_path, cert_path, english_name, root_cert, root_key)
            agency_paths[agency_id] = (key_path, cert_path)

    return DevPki(
        root_cert_path=root_cert_path,
        root_key_path=root_key_path,
        agency_paths=agency_paths,
        tsa_key_path=tsa_key_path,
        tsa_cert_path=tsa_cert_path,
    )


@contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``directory/.lock`` (serialises creators)."""
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _ensure_root(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """Load the root CA, or create it when neither of its files exists."""
    if cert_path.exists() and key_path.exists():
        return load_cert(cert_path), load_key(key_path, ec.EllipticCurvePrivateKey)
    if cert_path.exists() or key_path.exists():
        raise DevPkiError(
            f"half a development root CA in {cert_path.parent}: "
            f"both {ROOT_CERT_FILE} and {ROOT_KEY_FILE} are needed; delete the other"
        )

    key = ec.generate_private_key(ec.SECP256R1())
    name = dev_name(ROOT_COMMON_NAME)
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(random_serial())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + ROOT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    write_key(key_path, key)
    write_cert(cert_path, cert)
    logger.info("created development root CA in %s", cert_path.parent)
    return cert, key


def _ensure_agency(
    key_path: Path,
    cert_path: Path,
    english_name: str,
    root_cert: x509.Certificate,
    root_key: ec.EllipticCurvePrivateKey,
) -> None:
    """Create an agency's signing key and certificate unless both already exist."""

    def issue(public_key) -> x509.Certificate:
        now = dt.datetime.now(dt.UTC)
        return issue_signer_certificate(
            public_key,
            common_name=signer_common_name(english_name),
            root_cert=root_cert,
            root_key=root_key,
            not_before=now - CLOCK_SKEW,
            not_after=min(now + SIGNER_VALIDITY, root_cert.not_valid_after_utc),
        )

    _ensure_leaf(
        key_path,
        cert_path,
        key_type=ec.EllipticCurvePrivateKey,
        new_key=lambda: ec.generate_private_key(ec.SECP256R1()),
        issue=issue,
    )


def _ensure_tsa(
    key_path: Path, cert_path: Path, root_cert: x509.Certificate, root_key: ec.EllipticCurvePrivateKey
) -> None:
    """Create the development TSA's key and certificate unless both already exist."""

    def issue(public_key) -> x509.Certificate:
        now = dt.datetime.now(dt.UTC)
        root_ski = root_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        return (
            x509.CertificateBuilder()
            .subject_name(dev_name(TSA_COMMON_NAME))
            .issuer_name(root_cert.subject)
            .public_key(public_key)
            .serial_number(random_serial())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(min(now + TSA_VALIDITY, root_cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage(digital_signature=True), critical=True)
            # RFC 3161 2.3: exactly one key purpose, id-kp-timeStamping, and the extension critical.
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski.value),
                critical=False,
            )
            .add_extension(crl_distribution_point(DEV_CRL_URL), critical=False)
            .sign(root_key, hashes.SHA256())
        )

    _ensure_leaf(
        key_path,
        cert_path,
        key_type=rsa.RSAPrivateKey,
        new_key=lambda: rsa.generate_private_key(public_exponent=65537, key_size=TSA_KEY_BITS),
        issue=issue,
    )


def _ensure_leaf(key_path: Path, cert_path: Path, *, key_type: type, new_key, issue) -> None:
    """Create a key (``new_key()``) and its certificate (``issue(public_key)``) unless both exist.

    A key without its certificate keeps the key and gets a certificate; a certificate without
    its key is useless and is replaced together with a new key (and the reason logged). A
    certificate without the development CRL distribution point (made before it existed) is
    re-issued for the same key.
    """
    if key_path.exists() and cert_path.exists():
        if names_dev_crl(load_cert(cert_path)):
            return
        logger.warning("re-issuing %s for the same key: it names no development CRL", cert_path)
    elif cert_path.exists():
        logger.warning("key %s missing; issuing a new key and certificate", key_path)
    key_path.parent.mkdir(parents=True, exist_ok=True)

    if key_path.exists():
        key = load_key(key_path, key_type)
    else:
        key = new_key()
        write_key(key_path, key)
    write_cert(cert_path, issue(key.public_key()))
    logger.info("issued development certificate %s", cert_path)
