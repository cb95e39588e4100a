"""Issuer settings declared as data: what each issuer may be configured with, checked at start-up.

What: an issuer class lists its :class:`Setting` s (name, kind, default, required, secret, help);
every issuer also gets :data:`STANDARD_SETTINGS` (registry address, credentials, timeouts,
signature level, on/off). :func:`configured_values` collects what the configuration says for one
issuer, :meth:`IssuerSettings.build` checks and converts it into a typed read-only mapping.

Why: a mistake in an agency's settings must stop the portal at start with a message naming the
issuer and the setting, not fail the first person's request; and a secret (a registry token) must
never be shown back, in a log line, an error or an operator listing.

Where values come from, most specific first (docs/writing-an-issuer.md, "Configuring"):

1. ``ISSUER_SETTINGS`` in the application configuration: ``{"dlt": {"timeout": 3}}``;
2. ``ISSUER_<ID>_<SETTING>`` environment variables (``ISSUER_DLT_TIMEOUT=3``), or the same keys set
   in the application configuration;
3. the older per-agency names: ``<ID>_REGISTRY_URL``, ``<ID>_REGISTRY_TOKEN``,
   ``SIGNATURE_LEVEL_<ID>``;
4. portal-wide values: ``REGISTRY_TIMEOUT_SECONDS`` (timeout), ``SIGNATURE_LEVEL`` (signature level),
   and the mounted sample registry in development (registry address);
5. the setting's declared default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "MASK",
    "SETTING_KINDS",
    "STANDARD_SETTINGS",
    "IssuerSettingError",
    "IssuerSettings",
    "Setting",
    "check_value",
    "configured_values",
    "merge_specs",
]

#: What a secret's value is shown as, anywhere.
MASK = "••••"

#: The kinds a setting may have, and the Python type of its value.
SETTING_KINDS: Mapping[str, str] = {
    "str": "text",
    "url": "an http(s) address",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "timeout": "seconds (one number, or connect,read)",
    "path": "the path of an existing file",
    "signature_level": "a PAdES level (B-B, B-T, B-LT, B-LTA)",
}

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class IssuerSettingError(RuntimeError):
    """A configured value an issuer cannot start with (names the issuer and the setting)."""


@dataclass(frozen=True)
class Setting:
    """One configurable value of an issuer."""

    #: Key in the settings mapping and, upper-cased, in ``ISSUER_<ID>_<NAME>``.
    name: str
    #: One of :data:`SETTING_KINDS`; decides how text from the environment is converted.
    kind: str = "str"
    #: Value when nothing is configured (None: no value).
    default: Any = None
    #: Start-up fails when an enabled issuer has no value.
    required: bool = False
    #: Never shown back: masked in ``repr``, listings and errors.
    secret: bool = False
    #: One line for operators (``flask portal issuers``).
    help_en: str = ""
    #: Smallest and largest values allowed for ``int`` and ``float`` settings.
    minimum: float | None = None
    maximum: float | None = None


#: Settings every issuer has; an issuer may re-declare one to change its default or help.
STANDARD_SETTINGS: tuple[Setting, ...] = (
    Setting("registry_url", "url", help_en="Base address of the agency's registry API."),
    Setting("token", "str", secret=True, help_en="Bearer token sent to the registry."),
    Setting("client_cert", "path", help_en="Client certificate (PEM) for mutual TLS with the registry."),
    Setting("client_key", "path", help_en="Private key (PEM) of the client certificate."),
    Setting(
        "ca_bundle", "path", help_en="CA certificates (PEM) the registry's TLS certificate must chain to."
    ),
    Setting(
        "timeout",
        "timeout",
        5.0,
        help_en="Seconds to wait for the registry per try: one number, or connect,read (e.g. 3,10).",
    ),
    Setting(
        "retries",
        "int",
        2,
        minimum=0,
        maximum=5,
        help_en="Quick further tries within one read, with backoff.",
    ),
    Setting("backoff", "float", 0.25, minimum=0, help_en="Backoff factor between those tries, in seconds."),
    Setting(
        "breaker_threshold",
        "int",
        5,
        minimum=1,
        help_en="Failures in a row that open the agency's circuit breaker.",
    ),
    Setting("breaker_cooldown", "float", 30.0, minimum=0, help_en="Seconds the breaker stays open."),
    Setting(
        "signature_level",
        "signature_level",
        "B-B",
        help_en="PAdES level of this agency's signatures; the same value as SIGNATURE_LEVEL_<ID>.",
    ),
    Setting(
        "enabled", "bool", True, help_en="Off: the issuer is not loaded and its documents are not offered."
    ),
)

#: Older configuration names still read, per setting ("{ID}" is the upper-cased issuer id).
_ALIASES: Mapping[str, tuple[str, ...]] = {
    "registry_url": ("{ID}_REGISTRY_URL",),
    "token": ("{ID}_REGISTRY_TOKEN",),
    "signature_level": ("SIGNATURE_LEVEL_{ID}",),
}
#: Portal-wide configuration keys that give every issuer its value.
_PORTAL_WIDE: Mapping[str, str] = {
    "timeout": "REGISTRY_TIMEOUT_SECONDS",
    "signature_level": "SIGNATURE_LEVEL",
}


def merge_specs(declared: Iterable[Setting]) -> tuple[Setting, ...]:
    """The standard settings followed by an issuer's own; a re-declared name replaces the standard one."""
    declared = tuple(declared)
    own = {s.name for s in declared}
    return tuple(s for s in STANDARD_SETTINGS if s.name not in own) + declared


def env_prefix(issuer_id: str) -> str:
    return f"ISSUER_{issuer_id.upper()}_"


def _lookup(config: Mapping[str, Any], key: str) -> Any:
    """``key`` from the application configuration, else from the environment snapshot."""
    value = config.get(key)
    if value is None or value == "":
        value = (config.get("ISSUER_ENV") or {}).get(key)
    return None if value == "" else value


def configured_values(
    issuer_id: str,
    names: Iterable[str],
    config: Mapping[str, Any],
    *,
    sample_registry: bool = False,
    other_ids: Iterable[str] = (),
    strict: bool = True,
) -> dict[str, tuple[Any, str]]:
    """What the configuration says for ``issuer_id``: setting name -> (raw value, where it came from).

    Names the configuration gives that are not in ``names`` (a typo) raise IssuerSettingError.
    ``sample_registry``: the issuer ships a sample registry, mounted at ``/_sample/<id>`` when
    ``SAMPLE_REGISTRIES_MOUNTED`` is on (the development default for ``registry_url``).
    ``other_ids``: the other issuers' ids, so that ``ISSUER_A_B_TIMEOUT`` belongs to ``a_b``, not ``a``.
    ``strict=False`` ignores names outside ``names`` instead of refusing them.
    """
    names = tuple(names)
    upper = issuer_id.upper()
    found: dict[str, tuple[Any, str]] = {}
    if config.get("SAMPLE_REGISTRIES_MOUNTED") and sample_registry and "registry_url" in names:
        found["registry_url"] = (
            f"{str(config['PUBLIC_BASE_URL']).rstrip('/')}/_sample/{issuer_id}",
            "sample",
        )
    for name, key in _PORTAL_WIDE.items():
        if name in names and _lookup(config, key) is not None:
            found[name] = (_lookup(config, key), key)
    for name, aliases in _ALIASES.items():
        for alias in aliases:
            key = alias.format(ID=upper)
            if name in names and _lookup(config, key) is not None:
                found[name] = (_lookup(config, key), key)
    prefix = env_prefix(issuer_id)
    longer = [
        env_prefix(o) for o in other_ids if len(o) > len(issuer_id) and env_prefix(o).startswith(prefix)
    ]
    keys = {
        k
        for k in (*config.keys(), *(config.get("ISSUER_ENV") or {}))
        if k.startswith(prefix) and not any(k.startswith(p) for p in longer)
    }
    for key in sorted(keys):
        name = key[len(prefix) :].lower()
        if name not in names and not strict:
            continue
        if name not in names:
            raise IssuerSettingError(f"issuer {issuer_id!r}: {key} names no setting of this issuer")
        if _lookup(config, key) is not None:
            found[name] = (_lookup(config, key), key)
    explicit = (config.get("ISSUER_SETTINGS") or {}).get(issuer_id) or {}
    for name, value in explicit.items():
        if name not in names and not strict:
            continue
        if name not in names:
            raise IssuerSettingError(f"issuer {issuer_id!r}: ISSUER_SETTINGS names no setting {name!r}")
        found[name] = (value, "ISSUER_SETTINGS")
    return found


def check_value(spec: Setting, raw: Any) -> Any:
    """``raw`` as the setting's kind; ValueError with a message that never holds a secret's value."""
    shown = "the configured value" if spec.secret else repr(raw)[:80]
    kind = spec.kind
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if str(raw).strip().lower() in _TRUE | _FALSE:
            return str(raw).strip().lower() in _TRUE
    elif kind in ("int", "float"):
        try:
            if isinstance(raw, bool):
                raise ValueError
            value = int(str(raw).strip()) if kind == "int" else float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{shown} is not {SETTING_KINDS[kind]}") from None
        if spec.minimum is not None and value < spec.minimum:
            raise ValueError(f"{shown} is below the minimum {spec.minimum:g}")
        if spec.maximum is not None and value > spec.maximum:
            raise ValueError(f"{shown} is above the maximum {spec.maximum:g}")
        return value
    elif kind == "timeout":
        parts = str(raw).split(",") if isinstance(raw, str) else raw
        parts = list(parts) if isinstance(parts, list | tuple) else [parts]
        try:
            if len(parts) not in (1, 2) or any(isinstance(p, bool) for p in parts):
                raise ValueError
            seconds = tuple(float(p) for p in parts)
        except (TypeError, ValueError):
            raise ValueError(f"{shown} is not {SETTING_KINDS[kind]}") from None
        if min(seconds) <= 0:
            raise ValueError(f"{shown}: seconds must be more than 0")
        return seconds[0] if len(seconds) == 1 else seconds
    elif kind == "url":
        parts = urlsplit(str(raw).strip())
        if parts.scheme in ("http", "https") and parts.netloc:
            return str(raw).strip()
    elif kind == "path":
        if Path(str(raw)).is_file():
            return str(raw)
        raise ValueError(f"no file at {shown}")
    elif kind == "signature_level":
        from portal.signing.signer import parse_signature_level  # pyHanko: only when used

        return parse_signature_level(str(raw)).value
    elif isinstance(raw, str):
        return raw
    raise ValueError(f"{shown} is not {SETTING_KINDS.get(kind, kind)}")


class IssuerSettings(Mapping[str, Any]):
    """One issuer's checked settings: read-only, typed by kind, secrets masked when shown."""

    __slots__ = ("_issuer_id", "_sources", "_specs", "_values")

    def __init__(
        self,
        issuer_id: str,
        specs: Iterable[Setting],
        values: Mapping[str, Any],
        sources: Mapping[str, str] | None = None,
    ) -> None:
        self._issuer_id = issuer_id
        self._specs = {s.name: s for s in specs}
        self._values = dict(values)
        self._sources = dict(sources or {})

    @classmethod
    def build(
        cls, issuer_id: str, specs: Iterable[Setting], configured: Mapping[str, Any | tuple[Any, str]]
    ) -> IssuerSettings:
        """Check ``configured`` (name -> value, or -> (value, source)) against ``specs``; fill defaults.

        Raises IssuerSettingError naming the issuer, the setting and where the value came from.
        """
        specs = tuple(specs)
        known = {s.name for s in specs}
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for name, item in configured.items():
            if name not in known:
                raise IssuerSettingError(f"issuer {issuer_id!r}: no setting {name!r}")
            raw, source = item if isinstance(item, tuple) else (item, "given")
            spec = next(s for s in specs if s.name == name)
            if raw is None or raw == "":
                continue
            try:
                values[name] = check_value(spec, raw)
            except ValueError as exc:
                raise IssuerSettingError(
                    f"issuer {issuer_id!r}, setting {name!r} (from {source}): {exc}"
                ) from None
            sources[name] = source
        for spec in specs:
            if spec.name not in values:
                if spec.required:
                    raise IssuerSettingError(
                        f"issuer {issuer_id!r}, setting {spec.name!r} is required: set "
                        f"{env_prefix(issuer_id)}{spec.name.upper()}"
                    )
                values[spec.name] = spec.default
                sources[spec.name] = "default"
        ordered = {spec.name: values[spec.name] for spec in specs}
        return cls(issuer_id, specs, ordered, sources)

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def specs(self) -> tuple[Setting, ...]:
        return tuple(self._specs.values())

    def source(self, name: str) -> str:
        """Where the value came from: a configuration key, ``ISSUER_SETTINGS``, ``sample`` or ``default``."""
        return self._sources.get(name, "default")

    def shown(self, name: str) -> str:
        """The value as it may be displayed: secrets that are set are always the mask."""
        value = self._values.get(name)
        if value is None:
            return "-"
        spec = self._specs.get(name)
        return MASK if spec is not None and spec.secret else str(value)

    def replace(self, **changes: Any) -> IssuerSettings:
        """A copy with some values changed (checked like configured ones)."""
        configured = {n: (v, self._sources.get(n, "given")) for n, v in self._values.items()}
        configured.update({n: (v, "given") for n, v in changes.items()})
        return IssuerSettings.build(self._issuer_id, self.specs, configured)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={self.shown(name)}" for name in self._values)
        return f"IssuerSettings({self._issuer_id}: {shown})"

    __str__ = __repr__
