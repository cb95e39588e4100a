"""Sign a PDF with an agency's key: PAdES baseline B-B, invisible signature.

What: :func:`sign_pdf` adds one incremental update holding an approval signature
(SubFilter ``ETSI.CAdES.detached``, no DocMDP certification) in a signature field
named ``TraSignature`` with no appearance.

Why these choices: B-B needs no network (no TSA, no OCSP), so signing is a pure CPU
job of a few milliseconds; the certificate's authenticity is established by comparing
the file's SHA-256 with our database, so a timestamp adds nothing we rely on yet.
Speed comes from (1) a signer that keeps its parsed key and a pre-encoded
signing-certificate attribute (see :mod:`portal.signing.keys`) and (2) a fixed
``bytes_reserved`` that skips pyHanko's size-estimating dry run.

pyHanko runs its own event loop (``asyncio.run``): call :func:`sign_pdf` from
synchronous code (a Flask view, an RQ job), never from inside a running event loop.
"""

from __future__ import annotations

import logging
from io import BytesIO

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError as PyHankoSigningError

from .keys import SigningError, SigningIdentity

__all__ = ["SIGNATURE_FIELD", "PdfSigningError", "sign_pdf"]

logger = logging.getLogger(__name__)

SIGNATURE_FIELD = "TraSignature"
"""Name of the (invisible) signature field our signatures go in."""

_DIGEST = "sha256"

_CMS_OVERHEAD = 1536
"""Bytes of CMS structure besides the certificates: signed attributes, signer info,
algorithm identifiers and the raw signature: about 570 bytes measured with ECDSA P-256;
RSA-4096 adds 440. Generous: the unused part is zero padding."""


class PdfSigningError(SigningError):
    """The PDF could not be signed (unreadable input, field already signed, ...)."""


def sign_pdf(
    pdf: bytes,
    identity: SigningIdentity,
    *,
    reason: str | None = None,
    location: str | None = None,
) -> bytes:
    """Return ``pdf`` with a PAdES B-B signature by ``identity`` appended.

    ``reason`` and ``location`` go into the signature dictionary (shown by PDF
    readers); keep them free of personal data. Raises :class:`PdfSigningError`.
    """
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm=_DIGEST,
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        certify=False,
    )
    try:
        writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
        output = signers.PdfSigner(meta, identity.signer).sign_pdf(
            writer, bytes_reserved=_bytes_reserved(identity)
        )
    except (PdfError, PyHankoSigningError, ValueError, KeyError, TypeError) as exc:
        raise PdfSigningError(f"could not sign PDF: {exc}") from exc
    signed = output.getvalue()
    logger.debug(
        "signed PDF for agency %s with key %s (%d -> %d bytes)",
        identity.agency,
        identity.key_id[:16],
        len(pdf),
        len(signed),
    )
    return signed


def _bytes_reserved(identity: SigningIdentity) -> int:
    """Hex characters to reserve for the CMS object (twice its DER size, even).

    The certificates embedded in the CMS (signer, chain, roots) dominate its size.
    """
    signer = identity.signer
    cert_bytes = len(identity.certificate.dump())
    cert_bytes += sum(len(cert.dump()) for cert in signer.cert_registry)
    return 2 * (cert_bytes + _CMS_OVERHEAD)
