"""Where a key's private part lives, as a table row records it and as the signing loaders take it.

What: a ``signing_keys`` row holds a key's location (``store``, ``reference``, ``settings``,
``chain``); :func:`spec_of` turns it into the :class:`~portal.signing.KeySpec` the loaders of
:mod:`portal.signing` take, and :func:`location_of` turns a spec back into row values.

Why: the row must be enough to load the key again in any process, and must never hold a PIN
(only the name of where to read it). Loading errors name the setting at fault the way the
operator gave it (a ``keys add`` option, or the recorded row).
"""

from __future__ import annotations

from pathlib import Path

from portal.models import SigningKey
from portal.signing import FileKeySpec, KeyLoadError, KeySpec, Pkcs11KeySpec

# For the sibling modules (the package's API is in its __init__).
__all__ = ["location_of", "spec_of"]

#: The token settings a row records (never a PIN, only where to read it).
_ROW_SETTINGS = ("module", "token", "key_label", "key_id", "pin_env", "pin_file", "cert", "cert_label")


def _row_settings(row: SigningKey) -> dict[str, str]:
    """How a loading error names a recorded token setting: it is in the table, not the configuration."""
    where = f"recorded for key {row.key_id[:16]} in the key table"
    return {name: f"{name} {where}" for name in _ROW_SETTINGS}


def spec_of(row: SigningKey) -> KeySpec:
    """The key location recorded in a row, as the loaders of :mod:`portal.signing` take it."""
    settings = row.settings or {}
    chain = tuple(Path(p) for p in row.chain or [])
    cert = Path(settings["cert"]) if settings.get("cert") else None
    if row.store == "file":
        if cert is None:
            raise KeyLoadError(f"agency {row.agency}: key {row.key_id[:16]} has no certificate file")
        return FileKeySpec(agency=row.agency, key=Path(row.reference), cert=cert, chain=chain)
    return Pkcs11KeySpec(
        agency=row.agency,
        module=settings.get("module", ""),
        token_label=settings.get("token", ""),
        key_label=row.reference or None,
        key_id=bytes.fromhex(settings["key_id"]) if settings.get("key_id") else None,
        pin_env=settings.get("pin_env"),
        pin_file=Path(settings["pin_file"]) if settings.get("pin_file") else None,
        cert=cert,
        cert_label=settings.get("cert_label"),
        chain=chain,
        setting_names=_row_settings(row),
    )


def location_of(spec: KeySpec) -> tuple[str, str, dict, list[str]]:
    """``(store, reference, settings, chain)`` of a spec, for a row. Never holds a PIN."""
    chain = [str(p) for p in spec.chain]
    if isinstance(spec, FileKeySpec):
        return "file", str(spec.key), {"cert": str(spec.cert)}, chain
    settings = {
        "module": spec.module,
        "token": spec.token_label,
        "key_id": spec.key_id.hex() if spec.key_id else None,
        "pin_env": spec.pin_env,
        "pin_file": str(spec.pin_file) if spec.pin_file else None,
        "cert": str(spec.cert) if spec.cert else None,
        "cert_label": spec.cert_label,
    }
    return "pkcs11", spec.key_label or "", {k: v for k, v in settings.items() if v}, chain
