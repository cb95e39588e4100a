"""Signature level per agency and the per-process services that levels above B-B use.

What: :func:`issuer_signature_level` reads an agency's PAdES level from its issuer's settings
(``signature_level``, checked at start-up; ``SIGNATURE_LEVEL_<ID>`` and ``SIGNATURE_LEVEL`` feed it);
:func:`trust_services` returns the process's :class:`~portal.signing.signer.TrustServices`
(TSA client and revocation cache) for a configuration, built on first use.

``TSA_URL=dev`` selects the in-process development TSA of the development PKI under
``DEV_PKI_DIR`` (created there if missing) instead of an HTTP client, and makes the revocation
cache read the development CRL in-process and fetch nothing else (no network): development and
the demo only; a production configuration gets it only when it issues SAMPLE documents.

Why one per process: the TSA client caches its dummy token and the revocation cache its OCSP
responses and CRLs; both would be refetched for every document if rebuilt per call. Nothing
is built at import time.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from asn1crypto import x509
from pyhanko.sign.timestamps import TimeStamper

from .devcrl import DevRevocationFetcherBackend
from .devpki import ensure_dev_pki
from .keys import certificate_key_id
from .revinfo import DEFAULT_FETCH_TIMEOUT, RevocationCache
from .signer import SignatureLevel, TrustServices, parse_signature_level
from .timestamps import DEFAULT_TSA_TIMEOUT, dev_timestamper, http_timestamper, is_dev_tsa_url

__all__ = ["issuer_signature_level", "trust_services"]

_cache: dict[tuple, TrustServices] = {}
_lock = threading.Lock()


def issuer_signature_level(settings: Mapping) -> SignatureLevel:
    """The level an agency signs at: its issuer's ``signature_level`` setting.

    The issuer's settings hold it checked (``IssuerSettings``, at start-up), from, most specific
    first, ``ISSUER_SETTINGS``, ``ISSUER_<ID>_SIGNATURE_LEVEL``, ``SIGNATURE_LEVEL_<ID>``,
    ``SIGNATURE_LEVEL`` or the standard default (B-B): one parse, one default.
    """
    return parse_signature_level(settings["signature_level"])


def trust_services(config: Mapping, trust_roots: Sequence[x509.Certificate]) -> TrustServices | None:
    """The process's TSA client and revocation cache for ``TSA_URL``; ``None`` without a TSA.

    ``TSA_URL=dev``: the development TSA and CRL, whose files live in ``DEV_PKI_DIR``; refused
    (``ValueError``) in a production configuration without ``SAMPLE_DOCUMENTS``.
    """
    url = config.get("TSA_URL")
    if not url:
        return None
    if is_dev_tsa_url(url) and config.get("ENV_NAME") == "production" and not config.get("SAMPLE_DOCUMENTS"):
        raise ValueError("TSA_URL=dev (development TSA and CRL) is refused in production")
    tsa_timeout = float(config.get("TSA_TIMEOUT_SECONDS") or DEFAULT_TSA_TIMEOUT)
    fetch_timeout = float(config.get("REVOCATION_FETCH_TIMEOUT_SECONDS") or DEFAULT_FETCH_TIMEOUT)
    # The development TSA of another PKI directory is another TSA.
    where = config.get("DEV_PKI_DIR") if is_dev_tsa_url(url) else None
    roots = tuple(sorted(certificate_key_id(c) for c in trust_roots))
    key = (url, where, tsa_timeout, fetch_timeout, roots)
    services = _cache.get(key)
    if services is None:
        with _lock:
            services = _cache.get(key)
            if services is None:
                timestamper = _timestamper(config, url, tsa_timeout)
                revocation = None
                if trust_roots:
                    backend = DevRevocationFetcherBackend(Path(where)) if where else None
                    revocation = RevocationCache(trust_roots, timeout=fetch_timeout, fetcher_backend=backend)
                services = _cache[key] = TrustServices(timestamper=timestamper, revocation=revocation)
    return services


def _timestamper(config: Mapping, url: str, timeout: float) -> TimeStamper:
    if not is_dev_tsa_url(url):
        return http_timestamper(url, timeout=timeout)
    directory = config.get("DEV_PKI_DIR")
    if not directory:
        raise ValueError("TSA_URL=dev needs DEV_PKI_DIR (the development PKI directory)")
    pki = ensure_dev_pki(Path(directory), {})  # the root and the TSA; adds the TSA to an older PKI
    return dev_timestamper(pki.tsa_cert_path, pki.tsa_key_path)
