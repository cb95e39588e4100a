"""The one HTTP client issuers use to read records from their agency's registry.

Every agency (DLT, DBD, DOPA, BOI, and out-of-tree issuers) goes through this client, so that
they all behave the same way when things go wrong:

- timeouts on connect and read; a few quick retries with exponential backoff (urllib3's
  ``Retry``) for refused connections, timeouts and 500/502/503/504 on GETs. The in-request budget
  stays small (seconds): waiting minutes for an agency is the job queue's business;
- a circuit breaker per agency per process (``portal.issuing.breaker``);
- a bearer token, or mutual TLS (client certificate and key, CA bundle for the server);
- errors mapped onto the issuer contract: ``RecordNotFound`` (404), ``RegistryUnavailable``
  (transient: unreachable, timeout, 408/429/5xx, breaker open; the request waits and is retried),
  ``RegistryRejected`` (permanent: credentials refused, TLS refused or untrusted, an answer we
  cannot read). Messages are plain English and carry no personal data;
- one INFO log line per call: agency, path *template*, outcome, elapsed ms, attempts.

See docs/agency-registries.md for the settings.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3 import exceptions as urllib3_exceptions
from urllib3.util.retry import Retry

from portal.issuing.breaker import CircuitBreaker, breaker_for
from portal.issuing.contract import RecordNotFound, RegistryRejected, RegistryUnavailable
from portal.issuing.registry_settings import RegistrySettings, install_url_redaction

__all__ = ["RegistryClient", "registry_client"]

log = logging.getLogger(__name__)

#: Statuses retried within one call (a GET is idempotent) and then reported as transient.
RETRIED_STATUSES = frozenset({500, 502, 503, 504})
#: Also transient, but not retried here: the registry asks us to slow down.
TRANSIENT_STATUSES = RETRIED_STATUSES | {408, 429}
#: The standard settings' defaults (one set, in ``portal.issuing.settings``).
_DEFAULTS = RegistrySettings(registry_url=None)


class RegistryClient:
    """Reads JSON from one agency's registry; safe to share between threads."""

    def __init__(
        self,
        agency_id: str,
        *,
        base_url: str | None,
        token: str | None = None,
        client_cert: str | None = None,
        client_key: str | None = None,
        ca_bundle: str | None = None,
        timeout: tuple[float, float] = _DEFAULTS.timeout,
        retries: int = _DEFAULTS.retries,
        backoff: float = _DEFAULTS.backoff,
        backoff_max: float = 2.0,
        breaker: CircuitBreaker | None = None,
        label: str | None = None,
    ) -> None:
        self.agency_id = agency_id
        #: How messages name the agency ("DLT").
        self.label = label or agency_id.upper()
        self.base_url = base_url.rstrip("/") if base_url else None
        self.timeout = timeout
        self.retries = retries
        self.breaker = breaker or CircuitBreaker(agency_id)
        self._session = requests.Session()
        # Settings come from the portal's configuration, never from the environment's proxies
        # or netrc (a stray HTTPS_PROXY must not send personal data elsewhere).
        self._session.trust_env = False
        self._session.headers["Accept"] = "application/json"
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"
        if client_cert:
            self._session.cert = (client_cert, client_key) if client_key else client_cert
        self._session.verify = ca_bundle or True
        retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            other=0,  # TLS failures and the like: retrying cannot help
            redirect=0,
            allowed_methods=frozenset({"GET"}),
            status_forcelist=RETRIED_STATUSES,
            backoff_factor=backoff,
            backoff_max=backoff_max,
            backoff_jitter=backoff / 2,
            raise_on_status=False,
            # A registry's Retry-After may say minutes: that wait belongs to the job queue.
            respect_retry_after_header=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    @classmethod
    def from_settings(
        cls, agency_id: str, settings: Mapping[str, Any], *, label: str | None = None
    ) -> RegistryClient:
        """A client from an issuer's settings mapping, with the agency's shared breaker."""
        parsed = RegistrySettings.from_mapping(settings, label=label or agency_id.upper())
        breaker = (
            breaker_for(
                agency_id,
                parsed.registry_url,
                failure_threshold=parsed.breaker_threshold,
                cooldown=parsed.breaker_cooldown,
            )
            if parsed.registry_url
            else None
        )
        return cls(
            agency_id,
            base_url=parsed.registry_url,
            token=parsed.token,
            client_cert=parsed.client_cert,
            client_key=parsed.client_key,
            ca_bundle=parsed.ca_bundle,
            timeout=parsed.timeout,
            retries=parsed.retries,
            backoff=parsed.backoff,
            breaker=breaker,
            label=label,
        )

    def close(self) -> None:
        self._session.close()

    def get_json(
        self,
        template: str,
        values: Mapping[str, Any] | None = None,
        *,
        not_found_message: str | None = None,
    ) -> Any:
        """GET ``template`` filled with ``values`` (each URL-quoted) and return the parsed JSON.

        ``template`` is what the log shows ("/licences/{pid}"); the filled path never is.
        Raises RecordNotFound (404, with ``not_found_message``), RegistryUnavailable or
        RegistryRejected.
        """
        if not self.base_url:
            raise RegistryUnavailable(f"the {self.label} registry address is not configured")
        path = template.format_map({k: quote(str(v), safe="") for k, v in (values or {}).items()})
        if not self.breaker.acquire():
            self._log(template, "breaker_open", 0.0, 0)
            wait = round(self.breaker.seconds_until_trial())
            raise RegistryUnavailable(
                f"the {self.label} registry has been failing; calls to it are paused for {wait} s"
            )
        started = time.perf_counter()
        outcome, attempts = "error", 1
        try:
            try:
                response = self._session.get(
                    self.base_url + path, timeout=self.timeout, allow_redirects=False
                )
            except requests.RequestException as exc:
                outcome, error = _transport_failure(exc, self.label)
                # Only refused connections and timeouts are retried (TLS errors are not).
                attempts = self.retries + 1 if outcome in ("timeout", "unreachable") else 1
                raise error from None  # the chained exception would carry the filled URL
            except OSError:
                # requests checks the certificate files before connecting.
                outcome = "tls_config"
                raise RegistryRejected(
                    f"the client certificate or CA bundle configured for {self.label} cannot be read"
                ) from None
            outcome = str(response.status_code)
            history = getattr(getattr(response.raw, "retries", None), "history", ())
            attempts = len(history) + 1
            result = self._read(response, not_found_message)
        except RegistryUnavailable:
            self.breaker.record_failure()
            raise
        except (RegistryRejected, RecordNotFound):
            self.breaker.record_success()  # the registry is up; the answer is another matter
            raise
        except BaseException:
            self.breaker.release()
            raise
        else:
            self.breaker.record_success()
            return result
        finally:
            self._log(template, outcome, time.perf_counter() - started, attempts)

    def _read(self, response: requests.Response, not_found_message: str | None) -> Any:
        status = response.status_code
        if status == 404:
            raise RecordNotFound(not_found_message or f"the {self.label} has no record for this person")
        if status in (401, 403):
            raise RegistryRejected(
                f"the {self.label} registry refused the portal's credentials (HTTP {status}): "
                f"check the token or client certificate configured for {self.label}"
            )
        if status in TRANSIENT_STATUSES or status >= 500:
            raise RegistryUnavailable(f"the {self.label} registry answered HTTP {status}")
        if not 200 <= status < 300:
            raise RegistryRejected(f"the {self.label} registry answered HTTP {status}")
        try:
            return response.json()
        except ValueError:
            raise RegistryRejected(f"the {self.label} registry sent an answer that is not JSON") from None

    def _log(self, template: str, outcome: str, seconds: float, attempts: int) -> None:
        elapsed_ms = round(seconds * 1000, 1)
        log.info(
            "registry %s GET %s: %s in %s ms (%s attempt%s)",
            self.agency_id,
            template,
            outcome,
            elapsed_ms,
            attempts,
            "" if attempts == 1 else "s",
            extra={
                "agency": self.agency_id,
                "path": template,
                "outcome": outcome,
                "elapsed_ms": elapsed_ms,
                "attempts": attempts,
            },
        )


def _transport_failure(exc: requests.RequestException, label: str) -> tuple[str, Exception]:
    """The log outcome and contract error for a call that got no HTTP answer."""
    if isinstance(exc, requests.exceptions.SSLError):
        if isinstance(_cause(exc, ssl.SSLError), ssl.SSLCertVerificationError):
            return "tls_untrusted", RegistryRejected(
                f"the {label} registry's TLS certificate is not trusted: check the CA bundle "
                f"configured for {label} (ca_bundle) and the registry address"
            )
        # A handshake refusal (no client certificate, or one the registry does not accept) is a
        # configuration problem: retrying will not fix it, an operator must. Under TLS 1.3 the
        # refusal often arrives as a bare EOF rather than an alert, so every TLS failure counts.
        return "tls_refused", RegistryRejected(
            f"the {label} registry refused the portal's TLS connection: check the client "
            f"certificate and key configured for {label} (client_cert, client_key)"
        )
    if _cause(exc, urllib3_exceptions.NewConnectionError):  # refused, no route, unknown host
        return "unreachable", RegistryUnavailable(f"the {label} registry could not be reached")
    if isinstance(exc, requests.Timeout) or _cause(exc, urllib3_exceptions.TimeoutError):
        # requests reports a read timeout that outlived the retries as a ConnectionError.
        return "timeout", RegistryUnavailable(f"the {label} registry did not answer in time")
    return "unreachable", RegistryUnavailable(f"the {label} registry could not be reached")


def _cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first error of ``kind`` under requests' and urllib3's wrappers, if any."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return current
        pending.extend(a for a in current.args if isinstance(a, BaseException))
        for linked in (getattr(current, "reason", None), current.__cause__, current.__context__):
            if isinstance(linked, BaseException):
                pending.append(linked)
    return None


_clients: dict[tuple[str, str | None, RegistrySettings], RegistryClient] = {}
_clients_lock = threading.Lock()
_MAX_CLIENTS = 64


def registry_client(
    agency_id: str, settings: Mapping[str, Any], *, label: str | None = None
) -> RegistryClient:
    """The process's client for an agency with these settings (built once, then reused).

    Issuers call this in ``fetch_record`` rather than keeping a client from ``__init__``, so that a
    change of settings (an operator's, or a test's) takes effect on the next call while the
    connection pool is kept between calls.
    """
    install_url_redaction()
    parsed = RegistrySettings.from_mapping(settings, label=label or agency_id.upper())
    key = (agency_id, label, parsed)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            if len(_clients) >= _MAX_CLIENTS:
                _clients.pop(next(iter(_clients))).close()
            client = _clients[key] = RegistryClient.from_settings(agency_id, settings, label=label)
        return client
