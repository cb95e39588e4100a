"""Issued documents and their running numbers."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models._types import UTCDateTime, new_id, utcnow


class CertificateStatus(enum.StrEnum):
    """Our record of a document; *expired* is derived from ``expires_at``, never stored."""

    VALID = "valid"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"


class Certificate(db.Model):
    """A signed document as issued: the file lives in the blob store under ``sha256``."""

    __tablename__ = "certificates"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    #: One request, one certificate: a retried job cannot issue twice.
    request_id: Mapped[str] = mapped_column(ForeignKey("document_requests.id"), unique=True)
    #: Running document number printed on the paper ("ขบ 2569/00000012").
    number: Mapped[str] = mapped_column(String(64), unique=True)
    #: Random code (100 bits) printed with the QR code; not derived from anything.
    verification_code: Mapped[str] = mapped_column(String(32), unique=True)
    issuer: Mapped[str] = mapped_column(String(32))
    document_type: Mapped[str] = mapped_column(String(64))
    #: National ID of the person the document is about (None for a company's document).
    subject_pid: Mapped[str | None] = mapped_column(String(13), index=True)
    #: ``person`` or ``company``: a person's name is shown masked to the public, a company's in full.
    holder_kind: Mapped[str] = mapped_column(String(16), default="person", server_default="person")
    #: Holder's names as printed; a person's are only ever shown masked to the public.
    holder_name_th: Mapped[str] = mapped_column(String(200))
    holder_name_en: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    #: SHA-256 of the signing certificate (which key signed this document).
    signer_key_id: Mapped[str] = mapped_column(String(64))
    signature_level: Mapped[str] = mapped_column(String(8), default="B-B")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=CertificateStatus.VALID.value)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    successor_id: Mapped[str | None] = mapped_column(ForeignKey("certificates.id"))

    request = relationship("DocumentRequest", back_populates="certificate")


class DocumentSequence(db.Model):
    """Last running number used per issuer, document type and Buddhist-era year."""

    __tablename__ = "document_sequences"
    __table_args__ = (
        UniqueConstraint("issuer", "document_type", "year_be", name="uq_document_sequences_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(32))
    document_type: Mapped[str] = mapped_column(String(64))
    year_be: Mapped[int] = mapped_column(Integer)
    last_value: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
