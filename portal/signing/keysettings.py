"""Signing-key configuration: which key store each agency uses (docs/keys.md).

What: :func:`signing_key_settings` reads the ``PORTAL_SIGNING_KEYS`` TOML file and the
``<AGENCY>_SIGNING_PKCS11_*`` environment variables into :class:`FileKeySpec` /
:class:`Pkcs11KeySpec` values; :func:`~portal.signing.keys.configured_identity_loader`
turns them into identities.

Why a module of its own: parsing and checking settings needs no key material and no
token library, and its error messages (naming the agency and the setting as the operator
spelled it, never echoing a value) are a concern apart from loading keys. Import these
names from :mod:`portal.signing.keys`, which re-exports them.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .identity import KeyLoadError

__all__ = [
    "FileKeySpec",
    "KeySpec",
    "Pkcs11KeySpec",
    "agency_env_prefix",
    "signing_key_settings",
]


@dataclass(frozen=True)
class FileKeySpec:
    """An agency's key and certificate in files (development; small deployments)."""

    agency: str
    """Agency id, e.g. ``"dlt"``."""

    key: Path
    """Unencrypted PEM private key (mode 0600)."""

    cert: Path
    """PEM or DER signing certificate."""

    chain: tuple[Path, ...] = ()
    """Files of intermediate (and root) certificates to embed in signatures."""


@dataclass(frozen=True)
class Pkcs11KeySpec:
    """Where an agency's key lives in a PKCS#11 token, and how to log in to it.

    Holds no secret: the PIN is read from the named environment variable or file
    when the session opens. Exactly one of ``pin_env`` and ``pin_file`` is set, and
    at least one of ``key_label`` and ``key_id``.
    """

    agency: str
    """Agency id, e.g. ``"dlt"``."""

    module: str
    """Path of the PKCS#11 module, e.g. ``/usr/lib/softhsm/libsofthsm2.so``."""

    token_label: str
    """Label of the token holding the key."""

    key_label: str | None = None
    """``CKA_LABEL`` of the private key."""

    key_id: bytes | None = None
    """``CKA_ID`` of the private key (configured as hex)."""

    pin_env: str | None = None
    """Name of the environment variable holding the user PIN."""

    pin_file: Path | None = None
    """File holding the user PIN (trailing newline ignored)."""

    cert: Path | None = None
    """Signing certificate file; when unset, the certificate object is read from the token."""

    cert_label: str | None = None
    """Label of the certificate object in the token (default: the key's label, or its id)."""

    chain: tuple[Path, ...] = ()
    """Files of intermediate (and root) certificates to embed in signatures."""

    env_prefix: str | None = None
    """``"DLT_SIGNING_PKCS11_"`` when configured by environment variables (for messages)."""

    keys_file: Path | None = None
    """The signing-keys TOML file when configured there (for messages)."""

    setting_names: Mapping[str, str] | None = field(default=None, compare=False, hash=False)
    """How the command or table that gave this key names each setting, e.g. ``{"pin_env":
    "--pin-env"}`` (for messages, when neither ``env_prefix`` nor the TOML file applies)."""

    def __post_init__(self) -> None:
        missing = [name for name in ("module", "token") if not getattr(self, _FIELD_ATTR[name])]
        if missing:
            raise KeyLoadError(
                f"agency {self.agency}: PKCS#11 key needs {' and '.join(self.setting(m) for m in missing)}"
            )
        if self.key_label is None and self.key_id is None:
            raise KeyLoadError(
                f"agency {self.agency}: PKCS#11 key needs {self.setting('key_label')} "
                f"or {self.setting('key_id')}"
            )
        if (self.pin_env is None) == (self.pin_file is None):
            raise KeyLoadError(
                f"agency {self.agency}: set exactly one of {self.setting('pin_env')} "
                f"(an environment variable's name) and {self.setting('pin_file')} (a file's path)"
            )

    def setting(self, name: str) -> str:
        """How an operator spells setting ``name`` (``"pin_env"``) where this key was configured."""
        if self.setting_names and name in self.setting_names:
            return self.setting_names[name]
        if self.env_prefix is not None:
            return self.env_prefix + name.upper()
        where = f" of {self.keys_file}" if self.keys_file is not None else ""
        return f"{name} in [agencies.{self.agency}]{where}"

    def describe_key(self) -> str:
        """``labelled 'x' with id 01``: the key as the configuration names it."""
        parts = []
        if self.key_label is not None:
            parts.append(f"labelled {self.key_label!r}")
        if self.key_id is not None:
            parts.append(f"with id {self.key_id.hex()}")
        return " ".join(parts)


KeySpec = FileKeySpec | Pkcs11KeySpec

_FIELD_ATTR = {"module": "module", "token": "token_label"}
_PKCS11_FIELDS = (
    "module",
    "token",
    "key_label",
    "key_id",
    "pin_env",
    "pin_file",
    "cert",
    "cert_label",
    "chain",
)
_FILE_FIELDS = ("key", "cert", "chain")
_ENV_INFIX = "_SIGNING_PKCS11_"


def agency_env_prefix(agency: str) -> str:
    """Prefix of an agency's PKCS#11 environment variables: ``"dlt"`` -> ``"DLT_SIGNING_PKCS11_"``."""
    return re.sub(r"[^A-Za-z0-9]", "_", agency).upper() + _ENV_INFIX


def signing_key_settings(
    agencies: Iterable[str],
    *,
    keys_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, KeySpec]:
    """Which key store each agency uses, from a TOML file and/or environment variables.

    ``keys_file`` (``PORTAL_SIGNING_KEYS``) has one ``[agencies.<id>]`` table per
    agency with ``store = "file"`` or ``store = "pkcs11"``; ``environ`` holds
    ``<AGENCY>_SIGNING_PKCS11_*`` variables. Agencies configured in neither are absent
    from the result (the caller falls back to the development PKI). Any mistake raises
    :class:`KeyLoadError` naming the agency and the setting; values are never echoed.
    """
    known = list(agencies)
    settings: dict[str, KeySpec] = {}
    if keys_file:
        settings.update(_settings_from_file(Path(keys_file), known))
    for agency, spec in _settings_from_env(dict(environ or {}), known).items():
        if agency in settings:
            raise KeyLoadError(
                f"agency {agency}: signing key configured twice, in {keys_file} and by "
                f"{agency_env_prefix(agency)}* environment variables; keep one"
            )
        settings[agency] = spec
    return settings


def _settings_from_file(path: Path, known: list[str]) -> dict[str, KeySpec]:
    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except FileNotFoundError:
        raise KeyLoadError(f"signing keys file {path} (PORTAL_SIGNING_KEYS) does not exist") from None
    except OSError as exc:
        raise KeyLoadError(f"signing keys file {path} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise KeyLoadError(f"signing keys file {path} is not valid TOML: {exc}") from None
    extra = set(document) - {"agencies"}
    if extra:
        raise KeyLoadError(
            f"signing keys file {path}: unknown top-level setting(s) {', '.join(sorted(extra))}"
        )
    tables = document.get("agencies", {})
    if not isinstance(tables, dict):
        raise KeyLoadError(f"signing keys file {path}: 'agencies' must be a table")
    base = path.parent
    result: dict[str, KeySpec] = {}
    for agency, table in tables.items():
        where = f"[agencies.{agency}] of {path}"
        if agency not in known:
            raise KeyLoadError(f"signing keys file {path}: {where} names no known agency")
        if not isinstance(table, dict):
            raise KeyLoadError(f"agency {agency}: {where} must be a table")
        store = table.get("store")
        fields = (
            {"file": _FILE_FIELDS, "pkcs11": _PKCS11_FIELDS}.get(store) if isinstance(store, str) else None
        )
        if fields is None:
            raise KeyLoadError(f'agency {agency}: store in {where} must be "file" or "pkcs11"')
        unknown = set(table) - set(fields) - {"store"}
        if unknown:
            raise KeyLoadError(f"agency {agency}: unknown setting(s) {', '.join(sorted(unknown))} in {where}")

        def text(name: str, table=table, where=where, agency=agency) -> str | None:
            value = table.get(name)
            if value is not None and (not isinstance(value, str) or not value):
                raise KeyLoadError(f"agency {agency}: {name} in {where} must be a non-empty string")
            return value

        def file(name: str, text=text) -> Path | None:
            value = text(name)
            return None if value is None else base / value

        chain = table.get("chain", [])
        if not isinstance(chain, list) or not all(isinstance(p, str) and p for p in chain):
            raise KeyLoadError(f"agency {agency}: chain in {where} must be a list of file paths")
        chain_paths = tuple(base / p for p in chain)
        if store == "file":
            key, cert = file("key"), file("cert")
            if key is None or cert is None:
                raise KeyLoadError(f"agency {agency}: {where} needs both key and cert")
            result[agency] = FileKeySpec(agency=agency, key=key, cert=cert, chain=chain_paths)
        else:
            result[agency] = Pkcs11KeySpec(
                agency=agency,
                module=text("module") or "",
                token_label=text("token") or "",
                key_label=text("key_label"),
                key_id=_hex_id(agency, text("key_id"), f"key_id in {where}"),
                pin_env=text("pin_env"),
                pin_file=file("pin_file"),
                cert=file("cert"),
                cert_label=text("cert_label"),
                chain=chain_paths,
                keys_file=path,
            )
    return result


def _settings_from_env(environ: dict[str, str], known: list[str]) -> dict[str, KeySpec]:
    result: dict[str, KeySpec] = {}
    used: set[str] = set()
    for agency in known:
        prefix = agency_env_prefix(agency)
        values = {
            name[len(prefix) :].lower(): v for name, v in environ.items() if name.startswith(prefix) and v
        }
        used.update(prefix + name.upper() for name in values)
        if not values:
            continue
        unknown = set(values) - set(_PKCS11_FIELDS)
        if unknown:
            names = ", ".join(prefix + n.upper() for n in sorted(unknown))
            hint = ""
            if any("pin" in n for n in unknown):
                hint = (
                    f"; the PIN itself never goes in configuration: name an environment variable "
                    f"({prefix}PIN_ENV) or a file ({prefix}PIN_FILE) that holds it"
                )
            raise KeyLoadError(f"agency {agency}: {names} is not a setting{hint}")
        result[agency] = Pkcs11KeySpec(
            agency=agency,
            module=values.get("module", ""),
            token_label=values.get("token", ""),
            key_label=values.get("key_label"),
            key_id=_hex_id(agency, values.get("key_id"), prefix + "KEY_ID"),
            pin_env=values.get("pin_env"),
            pin_file=Path(values["pin_file"]) if "pin_file" in values else None,
            cert=Path(values["cert"]) if "cert" in values else None,
            cert_label=values.get("cert_label"),
            chain=tuple(Path(p) for p in values.get("chain", "").split(":") if p),
            env_prefix=prefix,
        )
    strays = sorted(name for name in environ if _ENV_INFIX in name and environ[name] and name not in used)
    if strays:
        raise KeyLoadError(f"{', '.join(strays)} name(s) no known agency (known: {', '.join(known)})")
    return result


def _hex_id(agency: str, value: str | None, setting: str) -> bytes | None:
    if value is None:
        return None
    try:
        return bytes.fromhex(value.replace(":", ""))
    except ValueError:
        raise KeyLoadError(f"agency {agency}: {setting} must be hexadecimal (e.g. 01 or a1:b2)") from None
