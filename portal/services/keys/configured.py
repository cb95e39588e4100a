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

from portal.errors import BadInput
from portal.signing import KeySpec, SigningError, load_trust_roots

# Helpers for the sibling modules; nothing public.
__all__: list[str] = []

# The package's logger, as before the package was split: logging configuration may name it.
log = logging.getLogger("portal.services.keys")


def _agencies() -> list[str]:
    from portal.services import runtime

    return [issuer.id for issuer in runtime.issuers()]


def _validity(certificate: x509.Certificate) -> tuple[datetime, datetime]:
    validity = certificate["tbs_certificate"]["validity"]
    return validity["not_before"].native, validity["not_after"].native


def _configured_specs(*, strict: bool) -> dict[str, KeySpec]:
    """The keys configured by environment; a configuration mistake is a clear error (``strict``) or
    leaves the configured keys out (what verification pages do: they must not fail on it)."""
    from portal.services import runtime

    try:
        return runtime.configured_key_specs()
    except SigningError as exc:
        if strict:
            raise BadInput(str(exc)) from None
        log.warning("signing key configuration unusable: %s", exc)
        return {}


def _configured_certificate(spec: KeySpec) -> x509.Certificate | None:
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
