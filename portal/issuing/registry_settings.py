"""An agency registry's connection settings, read from an issuer's settings mapping; and the
log filter that keeps filled registry URLs (which carry national IDs) out of urllib3's log lines.

The settings keys are documented in docs/agency-registries.md. Bad values are an operator's
problem, reported as ``RegistryRejected`` with a message that names the key, so that the person's
request fails with a plain reason instead of a crash.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from portal.issuing.contract import RegistryRejected

__all__ = ["RegistrySettings", "install_url_redaction"]

DEFAULT_TIMEOUT = (3.0, 10.0)
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF = 0.25
DEFAULT_BREAKER_THRESHOLD = 5
DEFAULT_BREAKER_COOLDOWN = 30.0
#: More in-request retries than this would hold a worker for minutes: that is the queue's job.
MAX_RETRIES = 5


@dataclass(frozen=True)
class RegistrySettings:
    """How to reach one agency's registry."""

    #: Base URL of the registry's API; None when not configured.
    registry_url: str | None
    #: Bearer token sent as ``Authorization: Bearer …`` (secret).
    token: str | None = field(default=None, repr=False)
    #: Client certificate (PEM file) for mutual TLS; may hold the key too.
    client_cert: str | None = None
    #: Private key (PEM file) of the client certificate, when not in ``client_cert``.
    client_key: str | None = None
    #: CA bundle (PEM file) that the registry's server certificate must chain to;
    #: None uses the system's trust store.
    ca_bundle: str | None = None
    #: (connect, read) timeouts in seconds, for each try.
    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    #: Extra tries within one call for refused connections, timeouts and 5xx.
    retries: int = DEFAULT_RETRIES
    #: Exponential backoff factor between those tries, in seconds.
    backoff: float = DEFAULT_BACKOFF
    #: Consecutive transient failures that open the agency's circuit breaker.
    breaker_threshold: int = DEFAULT_BREAKER_THRESHOLD
    #: Seconds the breaker stays open before one trial call.
    breaker_cooldown: float = DEFAULT_BREAKER_COOLDOWN

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any], *, label: str) -> RegistrySettings:
        """Parse and check an issuer's settings; ``label`` names the agency in messages."""

        def bad(key: str, expected: str) -> RegistryRejected:
            return RegistryRejected(f"the {label} registry setting {key!r} is invalid: {expected}")

        def number(key: str, default: float, *, minimum: float, integer: bool = False) -> Any:
            value = settings.get(key)
            if value is None or value == "":
                return default
            try:
                parsed = int(value) if integer else float(value)
            except (TypeError, ValueError):
                raise bad(key, "expected a number") from None
            if isinstance(value, bool) or parsed < minimum or (integer and parsed != float(value)):
                raise bad(key, f"expected {'a whole number' if integer else 'a number'} ≥ {minimum}")
            return parsed

        def text(key: str) -> str | None:
            value = settings.get(key)
            if value is None or value == "":
                return None
            if not isinstance(value, str):
                raise bad(key, "expected text")
            return value

        url = text("registry_url")
        if url is not None and urlsplit(url).scheme not in ("http", "https"):
            raise bad("registry_url", "expected an http:// or https:// address")
        retries = number("retries", DEFAULT_RETRIES, minimum=0, integer=True)
        if retries > MAX_RETRIES:
            raise bad("retries", f"at most {MAX_RETRIES} (longer waits are left to the job queue)")
        return cls(
            registry_url=url,
            token=text("token"),
            client_cert=text("client_cert"),
            client_key=text("client_key"),
            ca_bundle=text("ca_bundle"),
            timeout=_timeout(settings.get("timeout"), bad),
            retries=retries,
            backoff=number("backoff", DEFAULT_BACKOFF, minimum=0),
            breaker_threshold=number("breaker_threshold", DEFAULT_BREAKER_THRESHOLD, minimum=1, integer=True),
            breaker_cooldown=number("breaker_cooldown", DEFAULT_BREAKER_COOLDOWN, minimum=0),
        )


def _timeout(value: Any, bad) -> tuple[float, float]:
    """One number (both timeouts), a (connect, read) pair, or "connect,read"."""
    if value is None or value == "":
        return DEFAULT_TIMEOUT
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    parts = list(value) if isinstance(value, list | tuple) else [value, value]
    try:
        if len(parts) != 2 or any(isinstance(p, bool) for p in parts):
            raise ValueError
        connect, read = (float(p) for p in parts)
    except (TypeError, ValueError):
        raise bad("timeout", "expected seconds, or a pair (connect, read)") from None
    if not (connect > 0 and read > 0):
        raise bad("timeout", "expected seconds greater than 0")
    return (connect, read)


class _RedactUrls(logging.Filter):
    """Cuts URL paths out of urllib3's own log lines (retry warnings, debug lines).

    urllib3 logs the URL it requests, and a registry's URL carries the person's national ID
    (``/licences/<pid>``). Only the scheme and host are kept. The portal's own line for each call
    (``portal.issuing.http``) names the path template instead.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: _redact(v) for k, v in record.args.items()}
        return True


def _redact(value: Any) -> Any:
    """A path or URL argument loses everything after the host; other arguments stay."""
    if not isinstance(value, str):
        return value
    if value.startswith("/"):
        return "/<redacted>"
    if "://" in value:
        parts = urlsplit(value)
        return f"{parts.scheme}://{parts.netloc}/<redacted>"
    return value


_URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.connection")
_installed = False
_install_lock = threading.Lock()


def install_url_redaction() -> None:
    """Attach the redacting filter to urllib3's loggers, once per process (on first use, not
    at import: nothing happens at import time)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        for name in _URLLIB3_LOGGERS:
            logging.getLogger(name).addFilter(_RedactUrls())
        _installed = True
