"""The keys configured by environment (docs/keys.md), as the key register sees them.

What: each agency's configured key location, its certificate when that can be read without the
private key, and a certificate's validity period. The table is not seeded from these: while an
agency has no rows, ``keys list`` and verification speak of its configured key instead.

Why: an agency may sign with its configured key before it has any row, so the register and the
verification pages must know that key too. A configuration mistake is a clear error where an
operator acts, and no failure where a citizen verifies.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from asn1crypto import x509
from flask import current_app

from portal.errors import BadInput
from portal.services import runtime
from portal.signing import FileKeySpec, KeySpec, SigningError, load_trust_roots, signing_key_settings

# For the sibling modules (the package's API is in its __init__).
__all__ = [
    "agency_ids",
    "configured_certificate",
    "configured_key_specs",
    "configured_specs",
    "validity_of",
]

# The package's logger, as before the package was split: logging configuration may name it.
log = logging.getLogger("portal.services.keys")


def agency_ids() -> list[str]:
    """The ids of the agencies that issue here (one signing identity each)."""
    return [issuer.id for issuer in runtime.issuers()]


def validity_of(certificate: x509.Certificate) -> tuple[datetime, datetime]:
    """(not before, not after) of a certificate, as aware datetimes."""
    validity = certificate["tbs_certificate"]["validity"]
    return validity["not_before"].native, validity["not_after"].native


def configured_key_specs() -> dict[str, KeySpec]:
    """Each agency's key as configured by environment (docs/keys.md), else its dev PKI key files.

    Read once per process (verification asks on every page for agencies without a key table)."""
    return dict(runtime.cached("tra.key_specs", _read_key_specs))


def _read_key_specs() -> dict[str, KeySpec]:
    config = current_app.config
    agencies = agency_ids()
    settings = signing_key_settings(
        agencies, keys_file=config.get("SIGNING_KEYS_FILE"), environ=config.get("SIGNING_KEY_ENV")
    )
    missing = [agency for agency in agencies if agency not in settings]
    if missing:
        pki = runtime.dev_pki()
        for agency in missing:
            key_path, cert_path = pki.agency_paths[agency]
            settings[agency] = FileKeySpec(
                agency=agency, key=key_path, cert=cert_path, chain=(pki.root_cert_path,)
            )
    return settings


def configured_specs(*, strict: bool) -> dict[str, KeySpec]:
    """The keys configured by environment; a configuration mistake is a clear error (``strict``) or
    leaves the configured keys out (what verification pages do: they must not fail on it)."""
    try:
        return configured_key_specs()
    except SigningError as exc:
        if strict:
            raise BadInput(str(exc)) from None
        log.warning("signing key configuration unusable: %s", exc)
        return {}


def configured_certificate(spec: KeySpec) -> x509.Certificate | None:
    """The configured key's certificate when it can be read without the private key."""
    return None if spec.cert is None else _certificate_file(Path(spec.cert))


@lru_cache(maxsize=64)
def _certificate_file(path: Path) -> x509.Certificate | None:
    """The one certificate in ``path``, read once per process (configured keys are, too)."""
    try:
        (certificate,) = load_trust_roots([path])  # reads one or more certificates from a file
    except (SigningError, ValueError):
        return None
    return certificate
