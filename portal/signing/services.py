"""Signature level per agency and the per-process services that levels above B-B use.

What: :func:`agency_signature_level` reads the configured PAdES level of an agency;
:func:`trust_services` returns the process's :class:`~portal.signing.signer.TrustServices`
(TSA client and revocation cache) for a configuration, built on first use.

Why one per process: the TSA client caches its dummy token and the revocation cache its OCSP
responses and CRLs; both would be refetched for every document if rebuilt per call. Nothing
is built at import time.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from asn1crypto import x509

from .keys import certificate_key_id
from .revinfo import DEFAULT_FETCH_TIMEOUT, RevocationCache
from .signer import SignatureLevel, TrustServices, parse_signature_level
from .timestamps import DEFAULT_TSA_TIMEOUT, http_timestamper

__all__ = ["agency_signature_level", "trust_services"]

_cache: dict[tuple, TrustServices] = {}
_lock = threading.Lock()


def agency_signature_level(config: Mapping, agency: str) -> SignatureLevel:
    """``SIGNATURE_LEVEL_<AGENCY>`` (e.g. ``SIGNATURE_LEVEL_DLT``) if set, else ``SIGNATURE_LEVEL``.

    Raises ``ValueError`` for a level that does not exist (a configuration mistake).
    """
    key = "SIGNATURE_LEVEL_" + agency.upper().replace("-", "_")
    return parse_signature_level(config.get(key) or config.get("SIGNATURE_LEVEL") or SignatureLevel.B_B)


def trust_services(config: Mapping, trust_roots: Sequence[x509.Certificate]) -> TrustServices | None:
    """The process's TSA client and revocation cache for ``TSA_URL``; ``None`` without a TSA."""
    url = config.get("TSA_URL")
    if not url:
        return None
    tsa_timeout = float(config.get("TSA_TIMEOUT_SECONDS") or DEFAULT_TSA_TIMEOUT)
    fetch_timeout = float(config.get("REVOCATION_FETCH_TIMEOUT_SECONDS") or DEFAULT_FETCH_TIMEOUT)
    key = (url, tsa_timeout, fetch_timeout, tuple(sorted(certificate_key_id(c) for c in trust_roots)))
    services = _cache.get(key)
    if services is None:
        with _lock:
            services = _cache.get(key)
            if services is None:
                services = _cache[key] = TrustServices(
                    timestamper=http_timestamper(url, timeout=tsa_timeout),
                    revocation=RevocationCache(trust_roots, timeout=fetch_timeout) if trust_roots else None,
                )
    return services
