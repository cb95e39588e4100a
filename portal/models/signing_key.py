"""An agency's signing certificates over time (key rotation)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models._types import UTCDateTime, utcnow


class SigningKeyStatus(enum.StrEnum):
    """Where a signing key is in its life. At most one *current* key per agency."""

    CURRENT = "current"
    """New documents of the agency are signed with it."""
    STANDBY = "standby"
    """Added but not (yet) used; ``keys current`` switches to it."""
    RETIRED = "retired"
    """Normal end of use: documents it signed stay valid."""
    REVOKED = "revoked"
    """Compromised or wrongly issued: documents it signed after ``revoked_at`` are not trusted."""


class SigningKey(db.Model):
    """One signing certificate of an agency and where its private key is kept.

    Only the public certificate is stored; the private key stays in its file or token
    (``store`` + ``reference``), and a PKCS#11 PIN is only ever named (``settings``), never stored.
    """

    __tablename__ = "signing_keys"
    __table_args__ = (
        # The one-current-key rule, enforced by the database on PostgreSQL and SQLite alike.
        Index(
            "uq_signing_keys_current",
            "agency",
            unique=True,
            postgresql_where=text("status = 'current'"),
            sqlite_where=text("status = 'current'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency: Mapped[str] = mapped_column(String(32), index=True)
    #: Hex SHA-256 of the certificate's DER (what ``Certificate.signer_key_id`` records).
    key_id: Mapped[str] = mapped_column(String(64), unique=True)
    certificate_pem: Mapped[str] = mapped_column(Text)
    #: "file" or "pkcs11".
    store: Mapped[str] = mapped_column(String(8))
    #: The private key's file path (file) or key label (pkcs11).
    reference: Mapped[str] = mapped_column(String(500))
    #: Where to load from, never a secret: the certificate file ("cert") and, for a token, module,
    #: token, key_id (hex), cert_label and the PIN's source (pin_env: a variable's name, or pin_file).
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    #: Certificate files to embed in signatures after the signer's (intermediates, root).
    chain: Mapped[list] = mapped_column(JSON, default=list)
    subject_cn: Mapped[str] = mapped_column(String(200))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=SigningKeyStatus.STANDBY.value)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revocation_reason: Mapped[str | None] = mapped_column(Text)
