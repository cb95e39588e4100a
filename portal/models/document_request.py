"""A person's request for a document: what, for whom, with what consent, and how far it got."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models._types import UTCDateTime, new_id, utcnow


class RequestStatus(enum.StrEnum):
    """Where a request is in the issuing pipeline."""

    QUEUED = "queued"
    FETCHING = "fetching"  # reading the agency's record
    WAITING = "waiting"  # the agency's registry was unreachable; a retry is scheduled (next_attempt_at)
    RENDERING = "rendering"
    SIGNING = "signing"
    READY = "ready"
    FAILED = "failed"  # see failure_code / failure_reason

    @property
    def finished(self) -> bool:
        return self in (RequestStatus.READY, RequestStatus.FAILED)


#: Failure codes after which the person may try the same request again.
#: The signing services (time-stamping authority, OCSP/CRL) did not answer: transient, like the registry.
SIGNING_SERVICE_FAILURES = frozenset(
    {"signing_service_unavailable", "tsa_unavailable", "revocation_info_unavailable"}
)
RETRYABLE_FAILURES = frozenset({"registry_unavailable", "internal"}) | SIGNING_SERVICE_FAILURES


class DocumentRequest(db.Model):
    """One request; yields at most one certificate (enforced by a unique key on the certificate)."""

    __tablename__ = "document_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    #: Reference number shown to the person ("TRA-2569-…").
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    #: Who asked; empty for operator issuance from the CLI.
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: ``person`` (a document about the requester) or ``company`` (a juristic person's document).
    subject_kind: Mapped[str] = mapped_column(String(16), default="person", server_default="person")
    #: The subject's 13-digit ID: national ID of a person, juristic ID of a company.
    subject_id: Mapped[str] = mapped_column(String(13), index=True)
    #: National ID of the person the document is about (None for a company's document).
    subject_pid: Mapped[str | None] = mapped_column(String(13), index=True)
    #: For a company's document: the company's names when asked, and the mandate the request
    #: rests on ({juristic_id, role, source, checked_at}), as the registry said at request time.
    acting_for_name_th: Mapped[str | None] = mapped_column(String(300))
    acting_for_name_en: Mapped[str | None] = mapped_column(String(300))
    mandate: Mapped[dict | None] = mapped_column(JSON)
    issuer: Mapped[str] = mapped_column(String(32))
    document_type: Mapped[str] = mapped_column(String(64))
    #: What the person agreed to: agency, fields, purpose, text version, time.
    consent: Mapped[dict] = mapped_column(JSON)
    #: How it was asked for: "web" or "cli".
    channel: Mapped[str] = mapped_column(String(16), default="web")
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.QUEUED.value, index=True)
    #: How many times the pipeline has started for this request (caps the safety net's re-queueing).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: While WAITING: when the next try is due (shown to the person).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Machine-readable failure ("no_record", "registry_unavailable", "internal").
    #: Number and verification code reserved before rendering, so that a retried job
    #: prints the same ones (the certificate copies them when it is issued).
    document_number: Mapped[str | None] = mapped_column(String(64), unique=True)
    verification_code: Mapped[str | None] = mapped_column(String(32), unique=True)
    failure_code: Mapped[str | None] = mapped_column(String(32))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    certificate = relationship("Certificate", back_populates="request", uselist=False)

    @property
    def for_company(self) -> bool:
        return self.subject_kind == "company"

    def acting_for_name(self, locale: str) -> str | None:
        """The company's name in ``locale`` for a company's document, else None."""
        if locale == "th":
            return self.acting_for_name_th or self.acting_for_name_en
        return self.acting_for_name_en or self.acting_for_name_th

    @property
    def status_enum(self) -> RequestStatus:
        return RequestStatus(self.status)

    @property
    def waits_for_signing_service(self) -> bool:
        """The last try failed at the signing step (time-stamping or certificate status service)."""
        return self.failure_code in SIGNING_SERVICE_FAILURES

    @property
    def can_retry(self) -> bool:
        """Failed for a reason another try may fix (agency unreachable, our own fault): the
        person gets "Try again". Not for "no record": that answer would not change."""
        return self.status == RequestStatus.FAILED.value and self.failure_code in RETRYABLE_FAILURES
