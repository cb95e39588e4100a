"""The key register: listing the signing keys and finding one by its key id.

What: ``keys list`` rows (:class:`KeyRow`) for every key in the ``signing_keys`` table, plus
each agency's configured key while the agency has no rows; :func:`find_key` looks a row up by
its key id or a prefix of it.

Why (docs/keys.md, "Rotation"): the table is not seeded. ``keys list`` shows an agency without
rows with its configured key, marked as not in the table, so that an operator sees which key
signs today before the first rotation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from portal.errors import BadInput, NotFound
from portal.extensions import db
from portal.models import SigningKey, SigningKeyStatus
from portal.signing import FileKeySpec, certificate_key_id
from portal.signing.keys import certificate_common_name

from .configured import agency_ids, configured_certificate, configured_specs, validity_of

__all__ = ["MIN_PREFIX", "KeyRow", "find_key", "list_keys"]

#: Shortest key id prefix an operator may type.
MIN_PREFIX = 8


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
    specs = configured_specs(strict=True)
    for name in agency_ids():
        if (agency is not None and name != agency) or name in with_rows or name not in specs:
            continue
        certificate = configured_certificate(specs[name])
        if certificate is None:
            continue
        not_before, not_after = validity_of(certificate)
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
