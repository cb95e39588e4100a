"""Digital signatures for issued certificates: development PKI, keys, signing, checking.

Public API (import from here):

- :func:`ensure_dev_pki` / :class:`DevPki`: a local root CA and per-agency signing
  certificates for development and tests.
- :class:`SigningIdentity`, :func:`load_file_identity`, :class:`KeyRing`,
  :func:`load_trust_roots`: key material, loaded once per process.
- :func:`sign_pdf`: PAdES B-B signature in a few milliseconds.
- :func:`check_pdf_signature` -> :class:`SignatureCheck` with a :class:`FileFinding`.

Importing this package does no work: no files are read and no keys are loaded.
"""

from .devpki import DevPki, DevPkiError, ensure_dev_pki
from .keys import (
    KeyLoadError,
    KeyNotConfigured,
    KeyRing,
    PreparedKeySigner,
    SigningError,
    SigningIdentity,
    certificate_key_id,
    file_identity_loader,
    load_file_identity,
    load_trust_roots,
)
from .signer import SIGNATURE_FIELD, PdfSigningError, sign_pdf
from .validation import FileFinding, SignatureCheck, check_pdf_signature

__all__ = [
    "SIGNATURE_FIELD",
    "DevPki",
    "DevPkiError",
    "FileFinding",
    "KeyLoadError",
    "KeyNotConfigured",
    "KeyRing",
    "PdfSigningError",
    "PreparedKeySigner",
    "SignatureCheck",
    "SigningError",
    "SigningIdentity",
    "certificate_key_id",
    "check_pdf_signature",
    "ensure_dev_pki",
    "file_identity_loader",
    "load_file_identity",
    "load_trust_roots",
    "sign_pdf",
]
