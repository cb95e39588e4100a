"""The development CRL: made by the development root, served in-process, never over a network.

What: :func:`dev_crl` returns the development root's CRL (no revoked certificates), kept beside
the root as ``dev-root.crl`` and made again when it is missing, stale or signed by another
root. :class:`DevRevocationFetcherBackend` is a pyHanko certificate-validator fetcher backend
that answers :data:`~portal.signing.devpki.DEV_CRL_URL` with that CRL and refuses every other
URL, OCSP responder and issuer-certificate download.

Why: B-LT and B-LTA embed revocation information for the signer's and the TSA's certificates.
The development PKI has no CRL server, and the demo must sign at B-LTA without network, so
its certificates name a reserved ``.invalid`` URL that only this backend answers. It is used
only with ``TSA_URL=dev`` (:func:`portal.signing.services.trust_services`), which production
refuses unless it issues SAMPLE documents. The CRL is a file so that every process of one
PKI hands out the same CRL (same number) until it is renewed; the ``flock`` of the PKI
directory serialises its makers. Times come from :mod:`portal.clock`, so tests can move them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncGenerator, Iterable
from pathlib import Path

from asn1crypto import cms, crl, ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko_certvalidator.authority import Authority
from pyhanko_certvalidator.errors import CertificateFetchError, CRLFetchError, OCSPFetchError
from pyhanko_certvalidator.fetchers.api import (
    CertificateFetcher,
    CRLFetcher,
    FetcherBackend,
    Fetchers,
    OCSPFetcher,
)
from pyhanko_certvalidator.fetchers.common_utils import enumerate_delivery_point_urls, gather_aia_issuer_urls
from pyhanko_certvalidator.util import get_relevant_crl_dps, issuer_serial

from portal import clock

from .devpki import CLOCK_SKEW, ROOT_CERT_FILE, ROOT_KEY_FILE, directory_lock
from .devpki_certs import DEV_CRL_URL, DevPkiError, load_cert, load_key, write_atomically

__all__ = ["CRL_FILE", "CRL_VALIDITY", "DevRevocationFetcherBackend", "dev_crl"]

logger = logging.getLogger(__name__)

CRL_FILE = "dev-root.crl"
"""DER file of the current development CRL, beside the root certificate."""

CRL_VALIDITY = dt.timedelta(days=7)
"""From thisUpdate to nextUpdate."""

CRL_RENEW_AFTER = CRL_VALIDITY / 2
"""A CRL this old is made again, so the one handed out is always good for days
(:class:`~portal.signing.revinfo.RevocationCache` reuses it for at most a day)."""


def dev_crl(directory: Path, *, now: dt.datetime | None = None) -> crl.CertificateList:
    """The development root's current CRL in ``directory`` (a PKI of
    :func:`~portal.signing.devpki.ensure_dev_pki`), made there first when missing or stale.

    ``now`` defaults to :func:`portal.clock.now`. Raises :class:`DevPkiError` when the
    directory holds no development root.
    """
    directory = Path(directory)
    now = now or clock.now()
    with directory_lock(directory):
        root_cert_path, root_key_path = directory / ROOT_CERT_FILE, directory / ROOT_KEY_FILE
        if not (root_cert_path.exists() and root_key_path.exists()):
            raise DevPkiError(f"no development root CA in {directory}")
        root_cert = load_cert(root_cert_path)
        path = directory / CRL_FILE
        current = _read_crl(path)
        if current is not None and _usable(current, root_cert, now):
            return crl.CertificateList.load(current.public_bytes(serialization.Encoding.DER))
        number = _crl_number(current) + 1 if current is not None else 1
        made = _make_crl(root_cert, load_key(root_key_path, ec.EllipticCurvePrivateKey), number, now)
        der = made.public_bytes(serialization.Encoding.DER)
        write_atomically(path, der, mode=0o644)
        logger.info(
            "made development CRL number %d in %s (next update %s)", number, path, made.next_update_utc
        )
        return crl.CertificateList.load(der)


def _read_crl(path: Path) -> x509.CertificateRevocationList | None:
    try:
        return x509.load_der_x509_crl(path.read_bytes())
    except FileNotFoundError:
        return None
    except ValueError:
        logger.warning("%s is not a DER CRL; making a new one", path)
        return None


def _usable(current: x509.CertificateRevocationList, root_cert: x509.Certificate, now: dt.datetime) -> bool:
    """Signed by this root, already valid at ``now`` and not yet due for renewal."""
    if current.issuer != root_cert.subject or not current.is_signature_valid(root_cert.public_key()):
        return False  # the root was replaced
    last_update = current.last_update_utc
    return last_update <= now < last_update + CLOCK_SKEW + CRL_RENEW_AFTER


def _crl_number(current: x509.CertificateRevocationList) -> int:
    try:
        return current.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return 0


def _make_crl(
    root_cert: x509.Certificate, root_key: ec.EllipticCurvePrivateKey, number: int, now: dt.datetime
) -> x509.CertificateRevocationList:
    """A full CRL of the root listing no revoked certificate (nothing is ever revoked here)."""
    root_ski = root_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root_cert.subject)
        .last_update(now - CLOCK_SKEW)
        .next_update(now - CLOCK_SKEW + CRL_VALIDITY)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski.value), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )


# --- pyHanko certificate-validator fetchers -----------------------------------------------


class DevRevocationFetcherBackend(FetcherBackend):
    """Fetchers that answer the development CRL URL from ``directory`` and nothing else."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def get_fetchers(self) -> Fetchers:
        return Fetchers(
            ocsp_fetcher=_NoOcspFetcher(),
            crl_fetcher=_DevCrlFetcher(self.directory),
            cert_fetcher=_NoCertificateFetcher(),
        )


class _DevCrlFetcher(CRLFetcher):
    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._by_cert: dict[bytes, list[crl.CertificateList]] = {}

    async def fetch(self, cert, *, use_deltas=None) -> Iterable[crl.CertificateList]:
        key = issuer_serial(cert)
        if key in self._by_cert:
            return self._by_cert[key]
        urls = [
            url
            for point in get_relevant_crl_dps(cert, use_deltas=use_deltas)
            for url in enumerate_delivery_point_urls(point)
        ]
        refused = [url for url in urls if url != DEV_CRL_URL]
        if refused:
            raise CRLFetchError(
                f"development revocation: refusing CRL {refused[0]} "
                f"(only {DEV_CRL_URL} is answered, in-process)"
            )
        try:
            found = [dev_crl(self._directory)] if urls else []
        except (DevPkiError, OSError) as exc:
            raise CRLFetchError(f"development CRL unavailable: {exc}") from exc
        self._by_cert[key] = found
        return found

    def fetched_crls(self) -> Iterable[crl.CertificateList]:
        # One CRL object per fetch: the same DER twice would be embedded twice.
        unique = {c.dump(): c for found in self._by_cert.values() for c in found}
        return list(unique.values())

    def fetched_crls_for_cert(self, cert) -> Iterable[crl.CertificateList]:
        return self._by_cert[issuer_serial(cert)]


class _NoOcspFetcher(OCSPFetcher):
    async def fetch(self, cert, authority: Authority) -> ocsp.OCSPResponse:
        raise OCSPFetchError(
            "development revocation: no OCSP responder is answered (the development CRL only)"
        )

    def fetched_responses(self) -> Iterable[ocsp.OCSPResponse]:
        return ()

    def fetched_responses_for_cert(self, cert) -> Iterable[ocsp.OCSPResponse]:
        return ()


class _NoCertificateFetcher(CertificateFetcher):
    async def fetch_cert_issuers(
        self, cert: asn1_x509.Certificate | cms.AttributeCertificateV2
    ) -> AsyncGenerator[asn1_x509.Certificate, None]:
        for url in gather_aia_issuer_urls(cert):
            raise CertificateFetchError(f"development revocation: refusing to download {url}")
        return
        yield  # an async generator that yields nothing

    async def fetch_crl_issuers(self, certificate_list) -> AsyncGenerator[asn1_x509.Certificate, None]:
        return
        yield

    def fetched_certs(self) -> Iterable[asn1_x509.Certificate]:
        return ()
