"""An agency registry's connection settings, taken from an issuer's checked settings; and the
log filter that keeps filled registry URLs (which carry national IDs) out of urllib3's log lines.

The settings and their defaults are the standard issuer settings (``portal.issuing.settings``,
``STANDARD_SETTINGS``), checked once at start-up into the issuer's ``IssuerSettings``; this module
only reads them. A plain mapping (an issuer built outside the registry, a test) is checked here
with the same specs and converters; a bad value is an operator's problem, reported as
``RegistryRejected`` with a message that names the key, so that the person's request fails with
a plain reason instead of a crash. The keys are documented in docs/agency-registries.md.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from portal.issuing.contract import RegistryRejected
from portal.issuing.settings import STANDARD_SETTINGS, IssuerSettings, check_value

__all__ = ["REGISTRY_SETTING_NAMES", "RegistrySettings", "install_url_redaction"]

#: The standard settings that say how to reach a registry.
REGISTRY_SETTING_NAMES = (
    "registry_url",
    "token",
    "client_cert",
    "client_key",
    "ca_bundle",
    "timeout",
    "retries",
    "backoff",
    "breaker_threshold",
    "breaker_cooldown",
)
_SPECS = {s.name: s for s in STANDARD_SETTINGS if s.name in REGISTRY_SETTING_NAMES}


@dataclass(frozen=True)
class RegistrySettings:
    """How to reach one agency's registry (defaults: ``STANDARD_SETTINGS``)."""

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
    timeout: tuple[float, float] = (_SPECS["timeout"].default, _SPECS["timeout"].default)
    #: Extra tries within one call for refused connections, timeouts and 5xx.
    retries: int = _SPECS["retries"].default
    #: Exponential backoff factor between those tries, in seconds.
    backoff: float = _SPECS["backoff"].default
    #: Consecutive transient failures that open the agency's circuit breaker.
    breaker_threshold: int = _SPECS["breaker_threshold"].default
    #: Seconds the breaker stays open before one trial call.
    breaker_cooldown: float = _SPECS["breaker_cooldown"].default

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any], *, label: str) -> RegistrySettings:
        """The registry part of an issuer's settings; ``label`` names the agency in messages.

        An ``IssuerSettings`` was checked at start-up and is read as it is; any other mapping is
        checked here, with the same specs and defaults."""
        values = settings if isinstance(settings, IssuerSettings) else _checked(settings, label)
        timeout = values.get("timeout", _SPECS["timeout"].default)
        return cls(
            registry_url=values.get("registry_url"),
            token=values.get("token"),
            client_cert=values.get("client_cert"),
            client_key=values.get("client_key"),
            ca_bundle=values.get("ca_bundle"),
            timeout=tuple(timeout) if isinstance(timeout, tuple | list) else (timeout, timeout),
            retries=values.get("retries", _SPECS["retries"].default),
            backoff=values.get("backoff", _SPECS["backoff"].default),
            breaker_threshold=values.get("breaker_threshold", _SPECS["breaker_threshold"].default),
            breaker_cooldown=values.get("breaker_cooldown", _SPECS["breaker_cooldown"].default),
        )


def _checked(settings: Mapping[str, Any], label: str) -> dict[str, Any]:
    """The registry settings of a plain mapping, checked and converted like configured ones.

    File paths are taken as text: the client reports a file it cannot read when it calls."""
    values: dict[str, Any] = {}
    for name, spec in _SPECS.items():
        if spec.kind == "path":
            spec = replace(spec, kind="str")
        raw = settings.get(name)
        if raw is None or raw == "":
            values[name] = spec.default
            continue
        try:
            values[name] = check_value(spec, raw)
        except ValueError as exc:
            raise RegistryRejected(f"the {label} registry setting {name!r} is invalid: {exc}") from None
    return values


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
