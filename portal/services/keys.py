"""Key rotation: an agency's signing certificates over time, and which one signs now.

What: the ``signing_keys`` table lists each agency's signing certificates (public part only)
and where their private keys live. At most one is *current* per agency (a partial unique
index, plus a check under a row lock here for a clear message). :class:`RotatingKeyRing`
signs with the current key and falls back to the key configured by environment
(docs/keys.md) while an agency has no current key in the table.

Why: documents must keep verifying after a key is replaced, and a verifier must learn
which certificate signed and whether it was since retired (normal) or revoked (a problem).

Decisions (docs/keys.md, "Rotation"):

- The table is not seeded. ``keys list`` shows an agency without rows with its configured
  key, marked as not in the table. The first time a key of the agency is made current, the
  configured key is recorded (adopted) and retired, so its documents say "retired", not "unknown".
- Running processes pick up a switch within ``SIGNING_KEY_REFRESH_SECONDS`` (default 10): the
  ring re-reads the agency's key states with one small indexed query at most that often;
  identities are loaded once per key and kept, so signing stays as fast as before.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from asn1crypto import pem, x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from flask_babel import gettext as _
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select

from portal import clock
from portal.errors import BadInput, NotFound
from portal.extensions import db
from portal.models import SigningKey, SigningKeyStatus
from portal.services.audit import record_audit
from portal.signing import (
    FileKeySpec,
    KeyLoadError,
    KeyRing,
    KeySpec,
    Pkcs11KeySpec,
    SigningError,
    SigningIdentity,
    certificate_key_id,
    configured_identity_loader,
    load_trust_roots,
)
from portal.signing.keys import certificate_common_name

__all__ = [
    "KeyRow",
    "Pkcs11Location",
    "RotatingKeyRing",
    "SignerFacts",
    "SigningKeyUnusable",
    "add_key",
    "find_key",
    "key_agency",
    "list_keys",
    "make_current",
    "retire_key",
    "revoke_key",
    "signer_facts",
]

log = logging.getLogger(__name__)

#: Shortest key id prefix an operator may type.
MIN_PREFIX = 8


class SigningKeyUnusable(KeyLoadError):
    """The key an agency would sign with is retired or revoked in the table."""


# --- the ring the running processes sign with -------------------------------------------------


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
            spec=_spec_of(current) if current is not None else None,
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


#: How ``keys add`` spells each token setting, so that its errors name the option at fault.
_ADD_OPTIONS = {
    "module": "--pkcs11-module",
    "token": "--pkcs11-token",
    "key_label": "--pkcs11-key-label",
    "key_id": "--pkcs11-key-id",
    "pin_env": "--pin-env",
    "pin_file": "--pin-file",
    "cert": "--cert",
}


def _row_settings(row: SigningKey) -> dict[str, str]:
    """How a loading error names a recorded token setting: it is in the table, not the configuration."""
    where = f"recorded for key {row.key_id[:16]} in the key table"
    return {name: f"{name} {where}" for name in (*_ADD_OPTIONS, "cert_label")}


def _spec_of(row: SigningKey) -> KeySpec:
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


def _location(spec: KeySpec) -> tuple[str, str, dict, list[str]]:
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


# --- operator use cases --------------------------------------------------------------------------


@dataclass(frozen=True)
class Pkcs11Location:
    """Where a new key lives in a token (the PIN is named, never given)."""

    module: str
    token: str
    key_label: str | None = None
    key_id: str | None = None
    pin_env: str | None = None
    pin_file: Path | None = None


@dataclass(frozen=True)
class KeyRow:
    """One line of ``keys list``."""

    agency: str
    key_id: str
    common_name: str
    not_before: datetime
    not_after: datetime
    store: str
    """Where the private key lives: ``file`` or ``pkcs11`` (a token)."""
    status: str
    activated_at: datetime | None
    retired_at: datetime | None
    revoked_at: datetime | None
    in_table: bool
    """False for an agency's key configured by environment and not (yet) in the table."""


def _agencies() -> list[str]:
    from portal.services import runtime

    return [issuer.id for issuer in runtime.issuers()]


def _validity(certificate: x509.Certificate) -> tuple[datetime, datetime]:
    validity = certificate["tbs_certificate"]["validity"]
    return validity["not_before"].native, validity["not_after"].native


def list_keys(agency: str | None = None) -> list[KeyRow]:
    """Every key in the table, plus each agency's configured key while the agency has no rows."""

    query = select(SigningKey).order_by(SigningKey.agency, SigningKey.added_at, SigningKey.id)
    if agency is not None:
        query = query.where(SigningKey.agency == agency)
    rows = [
        KeyRow(
            agency=r.agency,
            key_id=r.key_id,
            common_name=r.subject_cn,
            not_before=r.not_before,
            not_after=r.not_after,
            store=r.store,
            status=r.status,
            activated_at=r.activated_at,
            retired_at=r.retired_at,
            revoked_at=r.revoked_at,
            in_table=True,
        )
        for r in db.session.scalars(query)
    ]
    with_rows = {r.agency for r in rows}
    specs = _configured_specs(strict=True)
    for name in _agencies():
        if (agency is not None and name != agency) or name in with_rows or name not in specs:
            continue
        certificate = _configured_certificate(specs[name])
        if certificate is None:
            continue
        not_before, not_after = _validity(certificate)
        rows.append(
            KeyRow(
                agency=name,
                key_id=certificate_key_id(certificate),
                common_name=certificate_common_name(certificate),
                not_before=not_before,
                not_after=not_after,
                store="file" if isinstance(specs[name], FileKeySpec) else "pkcs11",
                status=SigningKeyStatus.CURRENT.value,
                activated_at=None,
                retired_at=None,
                revoked_at=None,
                in_table=False,
            )
        )
    rows.sort(key=lambda r: r.agency)
    return rows


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


def find_key(key_id: str) -> SigningKey:
    """The row whose key id is ``key_id`` or starts with it (at least 8 hex digits)."""
    prefix = key_id.strip().lower()
    if len(prefix) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in prefix):
        raise BadInput(f"key id {key_id!r}: give at least {MIN_PREFIX} hexadecimal digits (see keys list)")
    rows = db.session.scalars(select(SigningKey).where(SigningKey.key_id.startswith(prefix)).limit(2)).all()
    if not rows:
        raise NotFound(f"no signing key {key_id} in the table (see keys list)")
    if len(rows) > 1:
        raise BadInput(f"key id {key_id} is ambiguous: give more digits")
    return rows[0]


def add_key(
    *,
    agency: str,
    cert: Path,
    key: Path | None = None,
    pkcs11: Pkcs11Location | None = None,
    chain: tuple[Path, ...] = (),
    make_current_now: bool = False,
    actor: str = "operator",
) -> SigningKey:
    """Record a new signing key after proving it works: the key signs a probe the certificate
    verifies, the certificate is within its validity and chains to our trust roots."""
    from portal.services import runtime

    if agency not in _agencies():
        raise BadInput(f"unknown agency {agency!r} (known: {', '.join(_agencies())})")
    if (key is None) == (pkcs11 is None):
        raise BadInput("give either --key (a key file) or the PKCS#11 token and key label")
    spec: KeySpec
    try:
        if key is not None:
            spec = FileKeySpec(agency=agency, key=Path(key), cert=Path(cert), chain=tuple(chain))
        else:
            assert pkcs11 is not None
            spec = Pkcs11KeySpec(
                agency=agency,
                module=pkcs11.module,
                token_label=pkcs11.token,
                key_label=pkcs11.key_label,
                key_id=bytes.fromhex(pkcs11.key_id.replace(":", "")) if pkcs11.key_id else None,
                pin_env=pkcs11.pin_env,
                pin_file=pkcs11.pin_file,
                cert=Path(cert),
                chain=tuple(chain),
                setting_names=_ADD_OPTIONS,
            )
        identity = configured_identity_loader({agency: spec})(agency)
        _prove_probe(identity)
    except (SigningError, ValueError) as exc:
        raise BadInput(str(exc)) from None

    certificate = identity.certificate
    not_before, not_after = _validity(certificate)
    now = clock.now()
    if not_after <= now:
        raise BadInput(f"certificate {cert} expired on {not_after:%Y-%m-%d %H:%M} UTC: it cannot sign")
    _check_chain(certificate, spec.chain, runtime.trust_roots(), now)
    if db.session.scalar(select(SigningKey).where(SigningKey.key_id == identity.key_id)) is not None:
        raise BadInput(f"key {identity.key_id[:16]} is already in the table")

    store, reference, settings, chain_paths = _location(spec)
    row = SigningKey(
        agency=agency,
        key_id=identity.key_id,
        certificate_pem=pem.armor("CERTIFICATE", certificate.dump()).decode("ascii"),
        store=store,
        reference=reference,
        settings=settings,
        chain=chain_paths,
        subject_cn=identity.subject,
        not_before=not_before,
        not_after=not_after,
        status=SigningKeyStatus.STANDBY.value,
        added_at=now,
    )
    db.session.add(row)
    db.session.flush()
    record_audit(actor, "signing_key.added", identity.key_id, agency=agency, store=store)
    if make_current_now:
        _switch(row, actor=actor, now=now)
    db.session.commit()
    _invalidate(agency)
    return row


def make_current(key_id: str, *, actor: str = "operator") -> SigningKey:
    """Make a key its agency's current key; the previous current key is retired."""
    row = find_key(key_id)
    _switch(row, actor=actor, now=clock.now())
    db.session.commit()
    _invalidate(row.agency)
    return row


def retire_key(key_id: str, *, actor: str = "operator") -> SigningKey:
    """Normal end of use: the key signs no more; what it signed stays valid."""
    row = _locked(find_key(key_id))
    if row.status == SigningKeyStatus.CURRENT:
        raise BadInput(
            f"key {row.key_id[:16]} is the current key of {row.agency}: make another key current "
            "(keys current KEYID), which retires this one"
        )
    if row.status != SigningKeyStatus.STANDBY:
        raise BadInput(f"key {row.key_id[:16]} is already {row.status}")
    row.status = SigningKeyStatus.RETIRED.value
    row.retired_at = clock.now()
    record_audit(actor, "signing_key.retired", row.key_id, agency=row.agency)
    db.session.commit()
    _invalidate(row.agency)
    return row


def revoke_key(
    key_id: str, *, reason: str, at: datetime | None = None, actor: str = "operator"
) -> SigningKey:
    """A problem (key compromised, certificate wrong): documents signed from ``at`` on are not trusted.

    A current key that is revoked leaves its agency with no key that may sign until another is
    made current: issuance fails with a clear reason rather than sign with a revoked key.
    """
    reason = reason.strip()
    if not reason:
        raise BadInput("give the reason for the revocation (--reason)")
    row = _locked(find_key(key_id))
    if row.status == SigningKeyStatus.REVOKED:
        raise BadInput(f"key {row.key_id[:16]} was already revoked on {row.revoked_at:%Y-%m-%d}")
    now = clock.now()
    when = at or now
    if when.tzinfo is None:
        raise BadInput("the revocation time needs a time zone")
    if when > now:
        raise BadInput("the revocation time cannot be in the future")
    previous = row.status
    row.status = SigningKeyStatus.REVOKED.value
    row.revoked_at = when
    row.revocation_reason = reason
    record_audit(
        actor,
        "signing_key.revoked",
        row.key_id,
        agency=row.agency,
        previous_status=previous,
        revoked_at=when.isoformat(),
        reason=reason,
    )
    db.session.commit()
    _invalidate(row.agency)
    return row


def _locked(row: SigningKey) -> SigningKey:
    db.session.refresh(row, with_for_update=True)
    return row


def _switch(row: SigningKey, *, actor: str, now: datetime) -> None:
    """Make ``row`` current under a lock on its agency's rows (the index is the final guard)."""
    agency_rows = db.session.scalars(
        select(SigningKey)
        .where(SigningKey.agency == row.agency)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    if row.status == SigningKeyStatus.CURRENT:
        raise BadInput(f"key {row.key_id[:16]} is already the current key of {row.agency}")
    if row.status == SigningKeyStatus.REVOKED:
        raise BadInput(f"key {row.key_id[:16]} is revoked: it can never sign again")
    if row.not_after <= now:
        raise BadInput(f"key {row.key_id[:16]}'s certificate expired on {row.not_after:%Y-%m-%d}")
    if row.not_before > now:
        raise BadInput(f"key {row.key_id[:16]}'s certificate is valid only from {row.not_before:%Y-%m-%d}")
    previous = [r for r in agency_rows if r.status == SigningKeyStatus.CURRENT]
    if not previous:
        adopted = _adopt_configured(row.agency, {r.key_id for r in agency_rows}, actor=actor, now=now)
        if adopted is not None:
            previous = [adopted]
    for old in previous:
        if old.status == SigningKeyStatus.CURRENT:
            old.status = SigningKeyStatus.RETIRED.value
            old.retired_at = now
            record_audit(actor, "signing_key.retired", old.key_id, agency=old.agency, replaced_by=row.key_id)
    db.session.flush()  # the old key leaves "current" before the new one enters it
    row.status = SigningKeyStatus.CURRENT.value
    row.activated_at = now
    row.retired_at = None
    db.session.flush()
    record_audit(
        actor,
        "signing_key.made_current",
        row.key_id,
        agency=row.agency,
        previous=[old.key_id for old in previous],
    )


def _adopt_configured(agency: str, known: set[str], *, actor: str, now: datetime) -> SigningKey | None:
    """Record the key configured by environment, as current, so that switching away retires it."""

    spec = _configured_specs(strict=True).get(agency)
    certificate = _configured_certificate(spec) if spec is not None else None
    if spec is None or certificate is None:
        log.warning("agency %s: configured signing key not recorded (certificate not readable)", agency)
        return None
    key_id = certificate_key_id(certificate)
    if key_id in known:
        return None
    not_before, not_after = _validity(certificate)
    store, reference, settings, chain = _location(spec)
    row = SigningKey(
        agency=agency,
        key_id=key_id,
        certificate_pem=pem.armor("CERTIFICATE", certificate.dump()).decode("ascii"),
        store=store,
        reference=reference,
        settings=settings,
        chain=chain,
        subject_cn=certificate_common_name(certificate),
        not_before=not_before,
        not_after=not_after,
        status=SigningKeyStatus.CURRENT.value,
        added_at=now,
        activated_at=None,
    )
    db.session.add(row)
    db.session.flush()
    record_audit(actor, "signing_key.adopted", key_id, agency=agency, store=store)
    return row


def _invalidate(agency: str) -> None:
    """This process picks a switch up at once; others within SIGNING_KEY_REFRESH_SECONDS."""
    from portal.services import runtime

    ring = runtime.key_ring()
    if isinstance(ring, RotatingKeyRing):
        ring.invalidate(agency)


def _prove_probe(identity: SigningIdentity) -> None:
    """Sign a random probe with the key and verify it with the certificate's public key."""
    probe = b"Tra signing key check " + secrets.token_bytes(16)
    mismatch = f"agency {identity.agency}: the key does not belong to certificate {identity.subject!r}"
    try:
        signature = identity.signer.sign_raw(probe, "sha256")
        public_key = serialization.load_der_public_key(identity.certificate.public_key.dump())
    except (ValueError, UnsupportedAlgorithm, SigningError) as exc:
        raise KeyLoadError(f"{mismatch} ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - pyHanko and token errors alike mean "cannot sign"
        raise KeyLoadError(f"{mismatch} (the key could not sign: {exc})") from None
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, probe, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, probe, padding.PKCS1v15(), hashes.SHA256())
        else:
            raise KeyLoadError(f"agency {identity.agency}: unsupported public key type")
    except InvalidSignature:
        raise KeyLoadError(mismatch) from None


def _check_chain(
    certificate: x509.Certificate, chain: tuple[Path, ...], roots: list[x509.Certificate], moment: datetime
) -> None:
    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError

    intermediates = load_trust_roots(list(chain)) if chain else []
    context = ValidationContext(trust_roots=roots, moment=moment, allow_fetching=False)
    validator = CertificateValidator(
        certificate, intermediate_certs=intermediates, validation_context=context
    )
    try:
        asyncio.run(validator.async_validate_path())
    except PathBuildingError:
        raise BadInput(
            f"certificate {certificate_common_name(certificate)!r} does not chain to the trust roots "
            "(PORTAL_TRUST_ROOTS and the development root); give its intermediates with --chain"
        ) from None
    except PathValidationError as exc:
        raise BadInput(f"certificate {certificate_common_name(certificate)!r} is not usable: {exc}") from None


# --- what verification says about the signer ----------------------------------------------------


@dataclass(frozen=True)
class SignerFacts:
    """Which signing certificate signed a document, and what has become of it since."""

    key_id: str
    common_name: str | None
    not_before: datetime | None
    not_after: datetime | None
    state: str
    """``current``, ``standby``, ``retired``, ``revoked`` or ``unknown`` (not recorded)."""
    retired_at: datetime | None = None
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    signed_after_revocation: bool = False
    """The document was signed at or after the key's revocation: it must not be trusted."""

    @property
    def key_id_short(self) -> str:
        return self.key_id[:16]

    @property
    def state_label(self) -> str:
        return {
            "current": _("In use: the agency's current signing certificate"),
            "standby": _("Not in use"),
            "retired": _("Retired"),
            "revoked": _("Revoked"),
        }.get(self.state, _("Not recorded"))

    def as_json(self) -> dict:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "key_id": self.key_id,
            "common_name": self.common_name,
            "not_before": iso(self.not_before),
            "not_after": iso(self.not_after),
            "state": self.state,
            "retired_at": iso(self.retired_at),
            "revoked_at": iso(self.revoked_at),
            "revocation_reason": self.revocation_reason,
            "signed_after_revocation": self.signed_after_revocation,
        }


def signer_facts(agency: str, key_id: str, signed_at: datetime) -> SignerFacts:
    """What the table (or, for an agency without rows, its configured key) says about ``key_id``."""

    row = db.session.scalar(select(SigningKey).where(SigningKey.key_id == key_id))
    if row is not None:
        after = row.revoked_at is not None and signed_at >= row.revoked_at
        return SignerFacts(
            key_id=key_id,
            common_name=row.subject_cn,
            not_before=row.not_before,
            not_after=row.not_after,
            state=row.status,
            retired_at=row.retired_at,
            revoked_at=row.revoked_at,
            revocation_reason=row.revocation_reason,
            signed_after_revocation=row.status == SigningKeyStatus.REVOKED and after,
        )
    has_rows = db.session.scalar(select(SigningKey.id).where(SigningKey.agency == agency).limit(1))
    spec = None if has_rows is not None else _configured_specs(strict=False).get(agency)
    certificate = _configured_certificate(spec) if spec is not None else None
    if certificate is not None and certificate_key_id(certificate) == key_id:
        not_before, not_after = _validity(certificate)
        return SignerFacts(
            key_id=key_id,
            common_name=certificate_common_name(certificate),
            not_before=not_before,
            not_after=not_after,
            state=SigningKeyStatus.CURRENT.value,
        )
    return SignerFacts(key_id=key_id, common_name=None, not_before=None, not_after=None, state="unknown")


def key_agency(key_id: str) -> str | None:
    """The agency whose signing key ``key_id`` is: from the table, else the configured keys."""
    agency = db.session.scalar(select(SigningKey.agency).where(SigningKey.key_id == key_id))
    if agency is not None:
        return agency
    for name, spec in _configured_specs(strict=False).items():
        certificate = _configured_certificate(spec)
        if certificate is not None and certificate_key_id(certificate) == key_id:
            return name
    return None
