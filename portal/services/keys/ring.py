"""The key ring the running processes sign with: each agency's current key from the table.

What: :class:`RotatingKeyRing` signs with the agency's *current* key in ``signing_keys`` and
falls back to the key configured by environment (docs/keys.md) while the agency has no current
key in the table. It refuses the configured key once the table retires or revokes it
(:class:`SigningKeyUnusable`).

Why: running processes must pick up a switch without a restart, and signing must stay as fast
as before rotation (docs/keys.md, "Rotation"):

- Running processes pick up a switch within ``SIGNING_KEY_REFRESH_SECONDS`` (default 10): the
  ring re-reads the agency's key states with one small indexed query at most that often;
  identities are loaded once per key and kept, so signing stays as fast as before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select

from portal.extensions import db
from portal.models import SigningKey, SigningKeyStatus
from portal.services import runtime
from portal.signing import (
    KeyLoadError,
    KeyRing,
    KeySpec,
    SigningIdentity,
    configured_identity_loader,
)

from .configured import configured_key_specs
from .locations import spec_of

__all__ = ["RotatingKeyRing", "SigningKeyUnusable", "key_ring"]

# The package's logger, as before the package was split: logging configuration may name it.
log = logging.getLogger("portal.services.keys")


class SigningKeyUnusable(KeyLoadError):
    """The key an agency would sign with is retired or revoked in the table."""


@dataclass(frozen=True)
class _AgencyKeys:
    """What the table says about one agency, as read at ``checked_at`` (monotonic seconds)."""

    current: SigningKey | None
    spec: KeySpec | None
    unusable: frozenset[str]
    checked_at: float


class RotatingKeyRing:
    """Signs with each agency's current key from the table, else the configured one.

    ``get`` costs a dictionary look-up; at most every ``refresh_seconds`` per agency it also
    reads the agency's key states (one indexed query). A new key is loaded once and kept.
    The configured key is refused once the table retires or revokes it.
    """

    def __init__(
        self,
        configured: KeyRing,
        *,
        refresh_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.configured = configured
        self.refresh_seconds = refresh_seconds
        self._monotonic = monotonic
        self._agencies: dict[str, _AgencyKeys] = {}
        self._identities: dict[str, SigningIdentity] = {}
        self._lock = threading.Lock()
        self._has_table = False

    def _table_exists(self) -> bool:
        """An unmigrated database (before 0004) signs with the configured keys, as before rotation."""
        if not self._has_table:
            self._has_table = sa_inspect(db.engine).has_table(SigningKey.__tablename__)
            if not self._has_table:
                log.warning("no signing_keys table (run flask db upgrade): using the configured keys")
        return self._has_table

    def invalidate(self, agency: str | None = None) -> None:
        """Forget what the table said (all agencies, or one), so the next ``get`` reads it again."""
        with self._lock:
            if agency is None:
                self._agencies.clear()
            else:
                self._agencies.pop(agency, None)

    def get(self, agency: str) -> SigningIdentity:
        """The identity that signs ``agency``'s new documents now."""
        state = self._agencies.get(agency)
        if state is None or self._monotonic() - state.checked_at >= self.refresh_seconds:
            state = self._read(agency)
        if state.current is None:
            identity = self.configured.get(agency)
            if identity.key_id in state.unusable:
                raise SigningKeyUnusable(
                    f"agency {agency}: the configured signing key {identity.key_id[:16]} is retired or "
                    "revoked in the key table; make another key current (flask portal keys current)"
                )
            return identity
        key_id = state.current.key_id
        identity = self._identities.get(key_id)
        if identity is None:
            with self._lock:
                identity = self._identities.get(key_id)
                if identity is None:
                    identity = _load_identity(agency, key_id, state.spec)
                    self._identities[key_id] = identity
        return identity

    def _read(self, agency: str) -> _AgencyKeys:
        if not self._table_exists():
            state = _AgencyKeys(None, None, frozenset(), self._monotonic())
            self._agencies[agency] = state
            return state
        rows = db.session.scalars(
            select(SigningKey).where(
                SigningKey.agency == agency,
                SigningKey.status != SigningKeyStatus.STANDBY.value,
            )
        ).all()
        current = next((r for r in rows if r.status == SigningKeyStatus.CURRENT), None)
        state = _AgencyKeys(
            current=_detached(current) if current is not None else None,
            spec=spec_of(current) if current is not None else None,
            unusable=frozenset(r.key_id for r in rows if r.status != SigningKeyStatus.CURRENT),
            checked_at=self._monotonic(),
        )
        with self._lock:
            self._agencies[agency] = state
        return state


def _detached(row: SigningKey) -> SigningKey:
    """A plain copy of the row's loading facts, independent of the session."""
    return SigningKey(
        agency=row.agency,
        key_id=row.key_id,
        store=row.store,
        reference=row.reference,
        settings=dict(row.settings or {}),
        chain=list(row.chain or []),
        status=row.status,
    )


def _load_identity(agency: str, key_id: str, spec: KeySpec | None) -> SigningIdentity:
    if spec is None:  # pragma: no cover - _read always sets a spec with a current row
        raise KeyLoadError(f"agency {agency}: no key location for {key_id[:16]}")
    identity = configured_identity_loader({agency: spec})(agency)
    if identity.key_id != key_id:
        raise KeyLoadError(
            f"agency {agency}: the certificate at the recorded location is no longer key {key_id[:16]} "
            f"(found {identity.key_id[:16]}); add the new certificate with flask portal keys add"
        )
    return identity


def key_ring() -> RotatingKeyRing:
    """This process's ring: each agency's current key in the signing_keys table (rotation), else
    the configured key files or PKCS#11 key, else the dev PKI. Built on first use and kept; a
    configuration mistake fails there (the worker warms the keys at start-up)."""

    def build() -> RotatingKeyRing:
        configured = KeyRing(configured_identity_loader(configured_key_specs()))
        refresh = float(current_app.config.get("SIGNING_KEY_REFRESH_SECONDS", 10))
        return RotatingKeyRing(configured, refresh_seconds=refresh)

    return runtime.cached("tra.keyring", build)
