"""Sign a PDF with an agency's key: PAdES baseline B-B, B-T, B-LT or B-LTA, invisible signature.

What: :func:`sign_pdf` adds one incremental update holding an approval signature
(SubFilter ``ETSI.CAdES.detached``, no DocMDP certification) in a signature field
named ``TraSignature`` with no appearance. Above B-B:

- **B-T** adds an RFC 3161 signature timestamp from the configured TSA;
- **B-LT** also stores the certificates, OCSP responses and CRLs of the signer's and the TSA's
  paths in the document security store (DSS), so the file validates without network;
- **B-LTA** then adds a document timestamp over the whole file, which is what keeps the
  signature provable after the certificates have expired.

Why these choices: B-B needs no network (no TSA, no OCSP), so signing is a pure CPU
job of a few milliseconds; that path is unchanged. Speed comes from (1) a signer that
keeps its parsed key and a pre-encoded signing-certificate attribute (see
:mod:`portal.signing.keys`), (2) a fixed ``bytes_reserved`` that skips pyHanko's
size-estimating dry run and (3) for B-LT/B-LTA, revocation information fetched once per
certificate and reused while valid (:mod:`portal.signing.revinfo`), so a document costs
only its timestamps.

pyHanko runs its own event loop (``asyncio.run``): call :func:`sign_pdf` from
synchronous code (a Flask view, an RQ job), never from inside a running event loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from io import BytesIO

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers.pdf_signer import DSSContentSettings, TimestampDSSContentSettings
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError, ValidationError

from .errors import (
    PdfSigningError,
    RevocationInfoUnavailable,
    SignerCertificateUnusable,
    SigningServiceUnavailable,
    TimestampUnavailable,
)
from .keys import SigningIdentity
from .revinfo import RevocationCache
from .stamp import visible_signature
from .timestamps import dummy_timestamp_token, tsa_certificates

__all__ = [
    "SIGNATURE_FIELD",
    "SIGNATURE_LEVELS",
    "PdfSigningError",
    "RevocationInfoUnavailable",
    "SignatureLevel",
    "SignerCertificateUnusable",
    "SigningServiceUnavailable",
    "Stamp",
    "TimestampUnavailable",
    "TrustServices",
    "parse_signature_level",
    "sign_pdf",
]

logger = logging.getLogger(__name__)

SIGNATURE_FIELD = "TraSignature"
"""Name of the (invisible) signature field our signatures go in."""

TIMESTAMP_FIELD = "TraDocumentTimestamp"
"""Name of the field of the B-LTA document timestamp."""

_DIGEST = "sha256"

_CMS_SLACK = 512
"""Bytes of CMS structure besides the certificates, the issuer name and the raw signature (see
:func:`_bytes_reserved`): content type, digest algorithms, the signed attributes' fixed parts
and algorithm identifiers come to about 300 bytes; the rest is margin. The unused part of the
reservation is zero padding written twice (hex) into every file, so it is kept small."""

_TIMESTAMP_OVERHEAD = 256
"""Room for a timestamp token beyond the dummy token's size (serial, nonce, time vary by a few bytes)."""


class SignatureLevel(StrEnum):
    """PAdES baseline levels (ETSI EN 319 142-1)."""

    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"

    @property
    def needs_timestamp(self) -> bool:
        return self is not SignatureLevel.B_B

    @property
    def needs_revocation_info(self) -> bool:
        return self in (SignatureLevel.B_LT, SignatureLevel.B_LTA)


SIGNATURE_LEVELS = tuple(level.value for level in SignatureLevel)
"""``("B-B", "B-T", "B-LT", "B-LTA")``."""


def parse_signature_level(value: str | SignatureLevel) -> SignatureLevel:
    """``"b-lta"``/``"B-LTA"``/``"PAdES-B-LTA"`` -> :attr:`SignatureLevel.B_LTA`; ``ValueError`` otherwise."""
    text = str(value).strip().upper().removeprefix("PADES-")
    try:
        return SignatureLevel(text)
    except ValueError:
        raise ValueError(
            f"unknown signature level {value!r}; use one of {', '.join(SIGNATURE_LEVELS)}"
        ) from None


@dataclass(frozen=True)
class Stamp:
    """What the visible signature stamp says: the agency in Thai and English, and when."""

    agency_th: str
    agency_en: str
    signed_at: datetime
    """Aware datetime; printed in Bangkok time (Buddhist-era year on the Thai line)."""


@dataclass(frozen=True)
class TrustServices:
    """The outside services that levels above B-B use; build once per process and reuse."""

    timestamper: TimeStamper
    """RFC 3161 client of the configured TSA (:func:`portal.signing.timestamps.http_timestamper`)."""

    revocation: RevocationCache | None = None
    """Revocation information cache over our trust roots; required for B-LT and B-LTA."""


def sign_pdf(
    pdf: bytes,
    identity: SigningIdentity,
    *,
    reason: str | None = None,
    location: str | None = None,
    level: str | SignatureLevel = SignatureLevel.B_B,
    services: TrustServices | None = None,
    stamp: Stamp | None = None,
) -> bytes:
    """Return ``pdf`` with a PAdES signature of ``level`` by ``identity`` appended.

    ``reason`` and ``location`` go into the signature dictionary (shown by PDF
    readers); keep them free of personal data. Levels above B-B need ``services``.
    With ``stamp`` the signature is visible: a bilingual stamp on the page
    (:mod:`portal.signing.stamp`, embedded Thai font), otherwise it is invisible.

    Raises :class:`SigningServiceUnavailable` (its subclasses :class:`TimestampUnavailable`,
    :class:`RevocationInfoUnavailable`) when the TSA, OCSP responder or CRL server fails:
    transient, retry later. Raises :class:`SignerCertificateUnusable` when the signing
    certificate is revoked, expired or untrusted, and :class:`PdfSigningError` otherwise.
    """
    level = parse_signature_level(level)
    if level is SignatureLevel.B_B:
        return _sign_basic(pdf, identity, reason=reason, location=location, stamp=stamp)
    if services is None:
        raise PdfSigningError(f"signature level {level} needs a time-stamping authority; none configured")
    if level.needs_revocation_info and services.revocation is None:
        raise PdfSigningError(f"signature level {level} needs trust roots for revocation checks")
    return _sign_with_timestamp(pdf, identity, level, services, reason=reason, location=location, stamp=stamp)


def _metadata(reason: str | None, location: str | None, **extra) -> signers.PdfSignatureMetadata:
    return signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm=_DIGEST,
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        certify=False,
        **extra,
    )


def _signer_for(
    meta: signers.PdfSignatureMetadata,
    identity: SigningIdentity,
    writer: IncrementalPdfFileWriter,
    stamp: Stamp | None,
    timestamper: TimeStamper | None = None,
) -> tuple[signers.PdfSigner, dict]:
    """pyHanko's signer, with the visible stamp's field and style when there is one, and the
    extra arguments its ``sign_pdf`` then needs."""
    if stamp is None:
        return signers.PdfSigner(meta, identity.signer, timestamper=timestamper), {}
    visible = visible_signature(
        agency_th=stamp.agency_th,
        agency_en=stamp.agency_en,
        signed_at=stamp.signed_at,
        document=writer,
        field_name=meta.field_name,
    )
    pdf_signer = signers.PdfSigner(
        meta,
        identity.signer,
        timestamper=timestamper,
        stamp_style=visible.style,
        new_field_spec=visible.field_spec,
    )
    return pdf_signer, {"appearance_text_params": visible.text_params}


def _sign_basic(
    pdf: bytes, identity: SigningIdentity, *, reason: str | None, location: str | None, stamp: Stamp | None
) -> bytes:
    """B-B: no network, the fast path."""
    meta = _metadata(reason, location)
    try:
        writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
        pdf_signer, extra = _signer_for(meta, identity, writer, stamp)
        output = pdf_signer.sign_pdf(writer, bytes_reserved=_bytes_reserved(identity), **extra)
    except (PdfError, PyHankoSigningError, ValueError, KeyError, TypeError) as exc:
        raise PdfSigningError(f"could not sign PDF: {exc}") from exc
    return _done(pdf, output.getvalue(), identity, SignatureLevel.B_B)


def _sign_with_timestamp(
    pdf: bytes,
    identity: SigningIdentity,
    level: SignatureLevel,
    services: TrustServices,
    *,
    reason: str | None,
    location: str | None,
    stamp: Stamp | None,
) -> bytes:
    timestamper = services.timestamper
    token_size = len(dummy_timestamp_token(timestamper).dump())  # cached after the first call
    extra: dict = {}
    if level.needs_revocation_info:
        assert services.revocation is not None  # checked by sign_pdf
        _quiet_offline_warning()
        cache = services.revocation
        chain = list(identity.signer.cert_registry)
        infos = [cache.info_for(identity.certificate, chain)]
        tsa_leaves, tsa_others = tsa_certificates(timestamper)
        infos.extend(cache.info_for(leaf, tsa_others) for leaf in tsa_leaves)
        extra = {
            "embed_validation_info": True,
            "validation_context": cache.validation_context(infos, other_certs=[*chain, *tsa_others]),
            "use_pades_lta": level is SignatureLevel.B_LTA,
            "timestamp_field_name": TIMESTAMP_FIELD if level is SignatureLevel.B_LTA else None,
            # All validation info goes in before the document timestamp, so that the timestamp
            # is the file's last revision and covers every byte (pdfsig: "Total document signed").
            # That rules out VRI entries (optional in PAdES baseline; they name a signature's hash).
            "dss_settings": DSSContentSettings(
                include_vri=False,
                next_ts_settings=TimestampDSSContentSettings(update_before_ts=True, include_vri=False),
            ),
        }
    meta = _metadata(reason, location, **extra)
    reserved = _bytes_reserved(identity) + 2 * (token_size + _TIMESTAMP_OVERHEAD)
    try:
        writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
        pdf_signer, more = _signer_for(meta, identity, writer, stamp, timestamper)
        output = pdf_signer.sign_pdf(writer, bytes_reserved=reserved, **more)
    except TimestampRequestError as exc:
        raise TimestampUnavailable(f"time-stamping authority unavailable: {exc}") from exc
    except PathBuildingError as exc:
        raise SignerCertificateUnusable(f"signing certificate does not chain to a trust root: {exc}") from exc
    except (PathValidationError, ValidationError) as exc:
        # Offline validation with the cached information failed: refetching may help.
        raise RevocationInfoUnavailable(f"revocation information not usable: {exc}") from exc
    except OSError as exc:
        raise SigningServiceUnavailable(f"signing service unavailable: {exc}") from exc
    except (PdfError, PyHankoSigningError, ValueError, KeyError, TypeError) as exc:
        raise PdfSigningError(f"could not sign PDF: {exc}") from exc
    return _done(pdf, output.getvalue(), identity, level)


def _done(pdf: bytes, signed: bytes, identity: SigningIdentity, level: SignatureLevel) -> bytes:
    logger.debug(
        "signed PDF (%s) for agency %s with key %s (%d -> %d bytes)",
        level,
        identity.agency,
        identity.key_id[:16],
        len(pdf),
        len(signed),
    )
    return signed


class _DropOfflineFetchWarning(logging.Filter):
    """pyHanko warns on every signature that embeds validation info without fetching; we do
    that on purpose (the information was fetched once, see :mod:`portal.signing.revinfo`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


_OFFLINE_FILTER = _DropOfflineFetchWarning()


def _quiet_offline_warning() -> None:
    pdf_signer_log = logging.getLogger("pyhanko.sign.signers.pdf_signer")
    if _OFFLINE_FILTER not in pdf_signer_log.filters:
        pdf_signer_log.addFilter(_OFFLINE_FILTER)


def _bytes_reserved(identity: SigningIdentity) -> int:
    """Hex characters to reserve for the CMS object (twice its DER size, even).

    The certificates embedded in the CMS dominate its size: the signer's and the chain, the
    self-signed roots only when the signer embeds them (ours do: without the root in the CMS and
    the DSS, pyHanko's ETSI validation of a B-LTA file ends NO_POE). The issuer's name is written
    twice (signer identifier, signing-certificate-v2), then the raw signature: RSA the modulus
    size, ECDSA two integers with their DER headers.
    """
    signer = identity.signer
    certificate = identity.certificate
    chain = [c for c in signer.cert_registry if signer.embed_roots or c.self_signed == "no"]
    embedded = [certificate, *chain]
    cert_bytes = sum(len(cert.dump()) for cert in embedded)
    key = certificate.public_key
    key_bytes = (key.bit_size + 7) // 8
    signature_bytes = key_bytes if key.algorithm == "rsa" else 2 * key_bytes + 9
    return 2 * (cert_bytes + 2 * len(certificate.issuer.dump()) + signature_bytes + _CMS_SLACK)
