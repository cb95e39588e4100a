"""RFC 3161 time-stamping for signatures of level B-T and above.

What: :func:`http_timestamper` makes the pyHanko client for a TSA URL; :func:`dev_timestamper`
makes the in-process development TSA that ``TSA_URL=dev`` (:data:`DEV_TSA_URL`) selects;
:func:`tsa_certificates` returns the TSA's certificates (fetched once with a dummy request and
kept by the client).

Why: one client per process and TSA keeps pyHanko's cached dummy response, which it uses to
size the signature and to find the TSA's certificates; a new client per document would cost
one extra TSA round trip each time. The development TSA lets the demo sign at B-T without a
network service; its certificate comes from the development PKI and says DEVELOPMENT, so its
timestamps prove nothing outside a development machine (production refuses ``TSA_URL=dev``).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import algos, cms, core, pem, tsp, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError
from pyhanko.sign.timestamps.common_utils import extract_ts_certs, get_nonce
from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from .errors import TimestampUnavailable

__all__ = [
    "DEFAULT_TSA_TIMEOUT",
    "DEV_TSA_URL",
    "dev_timestamper",
    "http_timestamper",
    "is_dev_tsa_url",
    "is_development_tsa",
    "tsa_certificates",
]

DEFAULT_TSA_TIMEOUT = 5.0
"""Seconds to wait for the TSA (connect and read) before giving up."""

DEV_TSA_URL = "dev"
"""Reserved ``TSA_URL`` value: the in-process development TSA of the development PKI."""

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


def is_dev_tsa_url(url: str | None) -> bool:
    """Whether ``url`` (a ``TSA_URL`` setting) selects the development TSA."""
    return (url or "").strip().lower() == DEV_TSA_URL


def is_development_tsa(certificate: x509.Certificate) -> bool:
    """Whether a timestamp's signing certificate (e.g. pyHanko's ``timestamp_validity.signing_cert``)
    names a development TSA, so that a verification page can say the time is proven only by a
    development service. Says nothing about trust: a foreign development PKI has the same names.
    """
    from .devpki import DEV_ORGANIZATION, TSA_COMMON_NAME

    subject = certificate.subject.native
    return (
        subject.get("organization_name") == DEV_ORGANIZATION and subject.get("common_name") == TSA_COMMON_NAME
    )


def dev_timestamper(cert_path: Path, key_path: Path) -> TimeStamper:
    """The development TSA: answers in-process (no HTTP), signing with the development PKI's TSA
    key (``DevPki.tsa_key_path``, RSA) and certificate; the time is this machine's clock.

    Keep the returned object for the life of the process, like an HTTP client.
    """
    certificate = x509.Certificate.load(pem.unarmor(cert_path.read_bytes())[2])
    private_key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(private_key, RSAPrivateKey):
        raise ValueError(f"{key_path}: the development TSA key must be RSA")
    return _DevTimeStamper(certificate, private_key)


_DEV_TSA_POLICY = "2.25.287854206003330432424077693037759938288"
"""Policy OID of the development TSA's tokens (a UUID OID, X.667: no registration needed)."""


def _der(value) -> bytes:
    return value.dump()


class _DevTimeStamper(TimeStamper):
    """An RFC 3161 TSA inside the process, for development only.

    pyHanko's ``DummyTimeStamper`` does the same job (and can use this key), but costs some
    60 ms a token: it parses its RSA key for every token (cryptography checks the key on each
    parse) and rebuilds the parts that never change. Here those are prepared once, so a token
    costs about one RSA signature.
    """

    def __init__(self, certificate: x509.Certificate, key: RSAPrivateKey) -> None:
        super().__init__(include_nonce=True)
        self._key = key
        # DER of the parts that never change; each token parses its own copies (asn1crypto
        # objects shared between trees, or built fresh, are re-encoded on every dump()).
        self._tsa_name = _der(x509.GeneralName(name="directory_name", value=certificate.subject))
        self._content_type = _der(simple_cms_attribute("content_type", "tst_info"))
        # SHA-256, RFC 5816's default, which the DER leaves out, as most TSAs' tokens do: so the
        # demo and the tests take the path that once made signatures take a minute
        # (portal/signing/asn1fix.py).
        self._signing_certificate = _der(
            simple_cms_attribute("signing_certificate_v2", as_signing_certificate_v2(certificate))
        )
        self._sid = _der(
            cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": certificate.issuer, "serial_number": certificate.serial_number},
            )
        )
        self._certificates = _der(cms.CertificateSet([cms.CertificateChoices("certificate", certificate)]))

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        return self.request_tsa_response(req)

    def request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        """Grant ``req``: a token over its message imprint, signed now."""
        imprint = req["message_imprint"]
        md_algorithm = imprint["hash_algorithm"]["algorithm"].native
        now = datetime.now(UTC)
        tst_info = {
            "version": "v1",
            "policy": _DEV_TSA_POLICY,
            "message_imprint": imprint,
            "serial_number": get_nonce(),
            "gen_time": now,
            "tsa": x509.GeneralName.load(self._tsa_name),
        }
        if req["nonce"].native is not None:
            tst_info["nonce"] = req["nonce"]
        content = tsp.TSTInfo(tst_info).dump()
        digest = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
        digest.update(content)
        signed_attrs = cms.CMSAttributes(
            [
                cms.CMSAttribute.load(self._content_type),
                simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(now)})),
                cms.CMSAttribute.load(self._signing_certificate),
                simple_cms_attribute("message_digest", digest.finalize()),
            ]
        )
        signature = self._key.sign(signed_attrs.dump(), PKCS1v15(), get_pyca_cryptography_hash(md_algorithm))
        digest_algorithm = algos.DigestAlgorithm({"algorithm": md_algorithm})
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier.load(self._sid),
                "digest_algorithm": digest_algorithm,
                "signed_attrs": signed_attrs,
                "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}),
                "signature": signature,
            }
        )
        signed_data = cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": [digest_algorithm],
                "encap_content_info": {
                    "content_type": "tst_info",
                    "content": cms.ParsableOctetString(content),
                },
                "certificates": cms.CertificateSet.load(self._certificates),
                "signer_infos": [signer_info],
            }
        )
        token = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
        response = tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token})
        return tsp.TimeStampResp.load(response.dump())  # as if it came over the wire


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
