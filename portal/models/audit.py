"""Trails: who read whose record (shown to the person), and who did what (append-only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models._types import UTCDateTime, utcnow


class AccessEvent(db.Model):
    """A read of a person's data: an agency record fetched, or their document verified."""

    __tablename__ = "access_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Whose data it is: their national ID or, for a person without one,
    #: ``subject_passport`` (``<nationality>:<passport number>``, as ``Requester.identifier``).
    subject_pid: Mapped[str | None] = mapped_column(String(13), index=True)
    subject_passport: Mapped[str | None] = mapped_column(String(24), index=True)
    #: "record_read" or "document_verified".
    kind: Mapped[str] = mapped_column(String(32))
    agency: Mapped[str] = mapped_column(String(32))
    #: Which record or document (agency record reference, certificate id).
    reference: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str | None] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(200))
    #: For a record read: who asked for the document, as the person may be told, never naming
    #: another person ("self", "representative", "other_person", "agency"; see
    #: portal/services/access_log.py). Empty for verifications and for reads logged before 0005.
    requested_by: Mapped[str | None] = mapped_column(String(16))
    #: With "representative": the juristic person the requester acted for, by its registered name
    #: (as the document shows it).
    on_behalf_of: Mapped[str | None] = mapped_column(String(300))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: How many reads the row stands for: 1, or for checks counted in Redis and folded into the
    #: log (portal/services/check_counts.py), that day's checks of the document by one means,
    #: with ``occurred_at`` the last of them.
    times: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class CheckFold(db.Model):
    """One batch of check counts moved from Redis into ``access_events``, written in the same
    transaction as its rows: a batch found again after a crash is never added twice."""

    __tablename__ = "check_folds"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    folded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEvent(db.Model):
    """Something a person or the system did. Rows are only ever added."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: User id, "operator" (CLI) or "system".
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
