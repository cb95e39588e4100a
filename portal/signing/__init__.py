"""Digital signatures for issued certificates: development PKI, keys, signing, checking.

Public API (import from here):

- :func:`ensure_dev_pki` / :class:`DevPki`: a local root CA and per-agency signing
  certificates for development and tests.
- :class:`SigningIdentity`, :func:`load_file_identity`, :class:`KeyRing`,
  :func:`load_trust_roots`: key material, loaded once per process;
  :func:`signing_key_settings` / :func:`configured_identity_loader`: key files or a
  PKCS#11 token per agency (the token side is :mod:`portal.signing.pkcs11`).
- :func:`sign_pdf`: PAdES B-B signature in a few milliseconds; B-T, B-LT, B-LTA with
  :class:`TrustServices` (TSA client, revocation cache; :mod:`portal.signing.services` builds
  them from the configuration). :class:`SigningServiceUnavailable` means "retry later".
- :func:`check_pdf_signature` -> :class:`SignatureCheck` with a :class:`FileFinding`.

Importing this package does no work: no files are read and no keys are loaded. It does
correct asn1crypto's test for indefinite lengths (:mod:`portal.signing.asn1fix`), which made
some signatures take a minute.
"""

from . import asn1fix
from .devpki import DevPki, DevPkiError, ensure_dev_pki
from .errors import (
    RevocationInfoUnavailable,
    SignerCertificateUnusable,
    SigningServiceUnavailable,
    TimestampUnavailable,
)
from .keys import (
    FileKeySpec,
    KeyLoadError,
    KeyNotConfigured,
    KeyRing,
    KeySpec,
    Pkcs11KeySpec,
    PreparedKeySigner,
    SigningError,
    SigningIdentity,
    certificate_key_id,
    configured_identity_loader,
    file_identity_loader,
    load_file_identity,
    load_trust_roots,
    signing_key_settings,
)
from .signer import (
    SIGNATURE_FIELD,
    SIGNATURE_LEVELS,
    PdfSigningError,
    SignatureLevel,
    Stamp,
    TrustServices,
    parse_signature_level,
    sign_pdf,
)
from .validation import FileFinding, SignatureCheck, check_pdf_signature

asn1fix.apply()

__all__ = [
    "SIGNATURE_FIELD",
    "SIGNATURE_LEVELS",
    "DevPki",
    "DevPkiError",
    "FileFinding",
    "FileKeySpec",
    "KeyLoadError",
    "KeyNotConfigured",
    "KeyRing",
    "KeySpec",
    "PdfSigningError",
    "Pkcs11KeySpec",
    "PreparedKeySigner",
    "RevocationInfoUnavailable",
    "SignatureCheck",
    "Stamp",
    "SignatureLevel",
    "SignerCertificateUnusable",
    "SigningError",
    "SigningIdentity",
    "SigningServiceUnavailable",
    "TimestampUnavailable",
    "TrustServices",
    "certificate_key_id",
    "check_pdf_signature",
    "configured_identity_loader",
    "ensure_dev_pki",
    "file_identity_loader",
    "load_file_identity",
    "load_trust_roots",
    "parse_signature_level",
    "sign_pdf",
    "signing_key_settings",
]
