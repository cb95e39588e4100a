"""Revocation information (OCSP responses, CRLs) fetched once per certificate and reused.

What: :class:`RevocationCache` validates a certificate's path to the trust roots with fetching
switched on, keeps the OCSP responses and CRLs that validation gathered, and hands them out
again until the earliest of their ``nextUpdate`` times (less a margin) has passed.
:meth:`RevocationCache.validation_context` builds an *offline* pyHanko validation context
from them, which is what the signer embeds in the document's DSS (levels B-LT and B-LTA).

Why: the revocation information is the same for every document an agency signs while it is
valid; fetching it per document would put an OCSP round trip (and the responder's load) on
every issuance. The expiry is measured on :mod:`portal.clock`, so tests can move time.

Where the information comes from is a pyHanko fetcher backend: HTTP (``requests``) by default;
with ``TSA_URL=dev`` the in-process development CRL and nothing else
(:class:`portal.signing.devcrl.DevRevocationFetcherBackend`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from asn1crypto import crl, ocsp, x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InsufficientRevinfoError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
    ValidationError,
)
from pyhanko_certvalidator.fetchers.api import FetcherBackend
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

from portal import clock

from .errors import RevocationInfoUnavailable, SignerCertificateUnusable
from .keys import certificate_common_name, certificate_key_id

__all__ = ["DEFAULT_FETCH_TIMEOUT", "RevocationCache", "RevocationInfo"]

logger = logging.getLogger(__name__)

DEFAULT_FETCH_TIMEOUT = 5.0
"""Seconds per OCSP/CRL request."""

REFRESH_MARGIN = dt.timedelta(minutes=2)
"""Refetch this long before the information expires, so that a signature never embeds a
response that is stale by the time a verifier reads it at signing time."""

MAX_REUSE = dt.timedelta(hours=24)
"""Refetch at least this often even when a CRL is valid for longer (a revocation shows up)."""


@dataclass(frozen=True)
class RevocationInfo:
    """OCSP responses and CRLs covering one certificate's path, and how long they stay usable."""

    ocsps: tuple[ocsp.OCSPResponse, ...]
    crls: tuple[crl.CertificateList, ...]
    certificates: tuple[x509.Certificate, ...]
    """The certificates of the validated path (without the trust root)."""
    fetched_at: dt.datetime
    fresh_until: dt.datetime


class RevocationCache:
    """Per-process cache of revocation information per certificate (thread-safe).

    ``trust_roots`` are the roots paths must lead to. ``fetcher_backend`` fetches OCSP responses
    and CRLs (default: over HTTP with ``timeout`` per request). ``fetch_count`` counts fetches
    (one per certificate and expiry), for tests and metrics.
    """

    def __init__(
        self,
        trust_roots: Iterable[x509.Certificate],
        *,
        timeout: float = DEFAULT_FETCH_TIMEOUT,
        refresh_margin: dt.timedelta = REFRESH_MARGIN,
        max_reuse: dt.timedelta = MAX_REUSE,
        fetcher_backend: FetcherBackend | None = None,
    ) -> None:
        self._roots = tuple(trust_roots)
        if not self._roots:
            raise ValueError("a revocation cache needs at least one trust root")
        self._timeout = timeout
        self._margin = refresh_margin
        self._max_reuse = max_reuse
        self._fetcher_backend = fetcher_backend
        self._entries: dict[str, RevocationInfo] = {}
        self._lock = threading.Lock()
        self.fetch_count = 0

    @property
    def trust_roots(self) -> tuple[x509.Certificate, ...]:
        return self._roots

    @property
    def fetcher_backend(self) -> FetcherBackend | None:
        """The backend given at construction (``None``: HTTP)."""
        return self._fetcher_backend

    def info_for(
        self, certificate: x509.Certificate, chain: Sequence[x509.Certificate] = ()
    ) -> RevocationInfo:
        """Revocation information for ``certificate``'s path, from the cache or fetched now.

        Raises :class:`RevocationInfoUnavailable` (transient) when a responder cannot be
        reached, :class:`SignerCertificateUnusable` when the certificate is revoked, expired
        or untrusted.
        """
        key = certificate_key_id(certificate)
        entry = self._entries.get(key)
        if entry is not None and clock.now() < entry.fresh_until:
            return entry
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or clock.now() >= entry.fresh_until:
                entry = self._fetch(certificate, chain)
                self._entries[key] = entry
            return entry

    def validation_context(
        self,
        infos: Sequence[RevocationInfo],
        *,
        other_certs: Iterable[x509.Certificate] = (),
    ) -> ValidationContext:
        """An offline validation context with our roots and exactly the revocation info given.

        pyHanko embeds every OCSP response and CRL of the context in the DSS, so pass only
        what the document's signer and TSA need.
        """
        ocsps = [o for info in infos for o in info.ocsps]
        crls = [c for info in infos for c in info.crls]
        certs = [c for info in infos for c in info.certificates]
        return ValidationContext(
            trust_roots=list(self._roots),
            other_certs=[*certs, *other_certs],
            ocsps=ocsps,
            crls=crls,
            allow_fetching=False,
            revocation_mode="hard-fail",
        )

    def _fetch(self, certificate: x509.Certificate, chain: Sequence[x509.Certificate]) -> RevocationInfo:
        name = certificate_common_name(certificate)
        context = ValidationContext(
            trust_roots=list(self._roots),
            other_certs=list(chain),
            allow_fetching=True,
            revocation_mode="hard-fail",
            fetcher_backend=self._fetcher_backend
            or RequestsFetcherBackend(per_request_timeout=self._timeout),
        )
        validator = CertificateValidator(
            certificate, intermediate_certs=list(chain), validation_context=context
        )
        self.fetch_count += 1
        try:
            path = asyncio.run(validator.async_validate_usage(set()))
        except RevokedError as exc:
            raise SignerCertificateUnusable(f"certificate {name!r} is revoked: {exc}") from exc
        except (ExpiredError, NotYetValidError) as exc:
            raise SignerCertificateUnusable(f"certificate {name!r} is not valid now: {exc}") from exc
        except InsufficientRevinfoError as exc:
            raise RevocationInfoUnavailable(f"no revocation information for {name!r}: {exc}") from exc
        except PathBuildingError as exc:
            raise SignerCertificateUnusable(f"certificate {name!r} does not chain to a trust root") from exc
        except PathValidationError as exc:
            # hard-fail mode reports an unreachable responder as a failed path validation
            if _looks_like_fetch_failure(exc):
                raise RevocationInfoUnavailable(f"revocation check of {name!r} failed: {exc}") from exc
            raise SignerCertificateUnusable(f"certificate {name!r} is not usable: {exc}") from exc
        except (ValidationError, OSError) as exc:
            raise RevocationInfoUnavailable(f"revocation check of {name!r} failed: {exc}") from exc

        # Parse back from DER once: freshly built asn1crypto trees re-encode on every dump().
        ocsps = tuple(ocsp.OCSPResponse.load(o.dump()) for o in context.ocsps)
        crls = tuple(crl.CertificateList.load(c.dump()) for c in context.crls)
        if not ocsps and not crls:
            if not (certificate.ocsp_urls or certificate.crl_distribution_points):
                raise SignerCertificateUnusable(
                    f"certificate {name!r} names no OCSP responder or CRL: B-LT and B-LTA need one"
                )
            raise RevocationInfoUnavailable(f"no OCSP response or CRL obtained for {name!r}")
        now = clock.now()
        expiries = [_ocsp_next_update(o) for o in ocsps] + [
            c["tbs_cert_list"]["next_update"].native for c in crls
        ]
        known = [e for e in expiries if e is not None]
        fresh_until = min([*known, now + self._max_reuse + self._margin]) - self._margin
        certificates = tuple(x509.Certificate.load(c.dump()) for c in path.iter_certs(include_root=False))
        logger.info(
            "fetched revocation info for %s: %d OCSP, %d CRL, reused until %s",
            name,
            len(ocsps),
            len(crls),
            fresh_until.isoformat(timespec="seconds"),
        )
        return RevocationInfo(
            ocsps=ocsps, crls=crls, certificates=certificates, fetched_at=now, fresh_until=fresh_until
        )


def _ocsp_next_update(response: ocsp.OCSPResponse) -> dt.datetime | None:
    try:
        basic = response["response_bytes"]["response"].parsed
        return min(
            (
                r["next_update"].native
                for r in basic["tbs_response_data"]["responses"]
                if r["next_update"].native
            ),
            default=None,
        )
    except (KeyError, ValueError, TypeError):
        return None


def _looks_like_fetch_failure(exc: PathValidationError) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("fetch", "unreachable", "timed out", "connection", "revocation"))
