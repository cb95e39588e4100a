"""Errors of PDF signing, split by what the issuing pipeline should do about them.

- :class:`PdfSigningError`: the PDF could not be signed; trying again will not help.
- :class:`SigningServiceUnavailable` (a :class:`PdfSigningError`): an outside service the
  signature level needs (time-stamping authority, OCSP responder, CRL server) was down, slow
  or answered garbage. Transient: the job should retry later, like ``RegistryUnavailable``.
"""

from __future__ import annotations

from .keys import SigningError

__all__ = [
    "PdfSigningError",
    "RevocationInfoUnavailable",
    "SignerCertificateUnusable",
    "SigningServiceUnavailable",
    "TimestampUnavailable",
]


class PdfSigningError(SigningError):
    """The PDF could not be signed (unreadable input, field already signed, ...)."""


class SignerCertificateUnusable(PdfSigningError):
    """The signing certificate is revoked, expired or does not chain to the trust roots.

    Not transient: an operator must configure another signing identity.
    """


class SigningServiceUnavailable(PdfSigningError):
    """A service the signature level needs could not be used now (transient: retry later)."""

    code = "signing_service_unavailable"


class TimestampUnavailable(SigningServiceUnavailable):
    """The time-stamping authority did not give a usable RFC 3161 timestamp."""

    code = "tsa_unavailable"


class RevocationInfoUnavailable(SigningServiceUnavailable):
    """OCSP responses or CRLs for the signing (or TSA) certificate could not be fetched."""

    code = "revocation_info_unavailable"
