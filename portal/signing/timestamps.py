"""RFC 3161 time-stamping for signatures of level B-T and above.

What: :func:`http_timestamper` makes the pyHanko client for a TSA URL; :func:`tsa_certificates`
returns the TSA's certificates (fetched once with a dummy request and kept by the client).

Why: one client per process and TSA keeps pyHanko's cached dummy response, which it uses to
size the signature and to find the TSA's certificates; a new client per document would cost
one extra TSA round trip each time.
"""

from __future__ import annotations

import asyncio
import threading
import weakref

from asn1crypto import cms, x509
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError
from pyhanko.sign.timestamps.common_utils import extract_ts_certs
from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper

from .errors import TimestampUnavailable

__all__ = ["DEFAULT_TSA_TIMEOUT", "http_timestamper", "tsa_certificates"]

DEFAULT_TSA_TIMEOUT = 5.0
"""Seconds to wait for the TSA (connect and read) before giving up."""

_DIGEST = "sha256"
_lock = threading.Lock()
_dummy_tokens: weakref.WeakKeyDictionary[TimeStamper, cms.ContentInfo] = weakref.WeakKeyDictionary()


def http_timestamper(url: str, *, timeout: float = DEFAULT_TSA_TIMEOUT) -> TimeStamper:
    """A pyHanko RFC 3161 client for the TSA at ``url`` (plain HTTP POST, no authentication).

    Keep the returned object for the life of the process; it caches what it learned.
    """
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"TSA URL must be http(s): {url!r}")
    return RequestsHTTPTimeStamper(url, timeout=timeout)


def dummy_timestamp_token(timestamper: TimeStamper) -> cms.ContentInfo:
    """The TSA's dummy token (fetched on first use, then cached); raises :class:`TimestampUnavailable`."""
    token = _dummy_tokens.get(timestamper)
    if token is not None:
        return token
    with _lock:
        token = _dummy_tokens.get(timestamper)
        if token is None:
            try:
                token = asyncio.run(timestamper.async_dummy_response(_DIGEST))
            except TimestampRequestError as exc:
                raise TimestampUnavailable(f"time-stamping authority unavailable: {exc}") from exc
            except (OSError, ValueError) as exc:
                raise TimestampUnavailable(f"time-stamping authority gave no usable answer: {exc}") from exc
            _dummy_tokens[timestamper] = token
        return token


def tsa_certificates(timestamper: TimeStamper) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    """``(signing certificates, other certificates)`` that the TSA's tokens carry."""
    token = dummy_timestamp_token(timestamper)
    with _lock:
        leaves = list(extract_ts_certs(token, timestamper.cert_registry))
        others = [cert for cert in timestamper.cert_registry if cert not in leaves]
    return leaves, others
