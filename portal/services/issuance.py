"""Issuing a document: request → fetch record → build content → render → sign → store → Certificate."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import clock
from portal.errors import BadInput, Forbidden, NotFound
from portal.extensions import db
from portal.issuing import (
    DocumentInfo,
    DocumentType,
    Issuer,
    IssuingError,
    Record,
    RegistryUnavailable,
    Subject,
)
from portal.models import (
    Certificate,
    DocumentRequest,
    DocumentSequence,
    RequestStatus,
    User,
)
from portal.services import runtime
from portal.services.audit import record_access, record_audit
from portal.services.codes import group_code, new_verification_code
from portal.signing import sign_pdf

log = logging.getLogger(__name__)

__all__ = [
    "StageTimes",
    "certificate_html",
    "find_document_type",
    "issue_for_subject",
    "request_document",
    "run_issuance",
]


@dataclass
class StageTimes:
    """Seconds spent per pipeline stage (for logs and bench/issue.py)."""

    fetch: float = 0.0
    render: float = 0.0
    sign: float = 0.0
    store: float = 0.0


def find_document_type(issuer_id: str, type_id: str) -> tuple[Issuer, DocumentType]:
    """The issuer and document type, or a plain 404."""
    found = runtime.issuers().find(issuer_id, type_id)
    if found is None:
        raise NotFound(
            _("We do not issue a document of this type. Check the catalogue for what is available.")
        )
    return found


def _consent_record(issuer: Issuer, doc_type: DocumentType) -> dict:
    c = doc_type.consent
    return {
        "version": c.version,
        "agency": issuer.id,
        "agency_name_th": issuer.name_th,
        "agency_name_en": issuer.name_en,
        "fields_th": list(c.fields_th),
        "fields_en": list(c.fields_en),
        "purpose_th": c.purpose_th,
        "purpose_en": c.purpose_en,
        "agreed_at": clock.now().isoformat(),
    }


def _new_reference() -> str:
    year_be = clock.today_bangkok().year + 543
    return f"TRA-{year_be}-{secrets.token_hex(4).upper()}"


def _create_request(
    *, user: User | None, subject_pid: str, issuer: Issuer, doc_type: DocumentType, channel: str
) -> DocumentRequest:
    request = DocumentRequest(
        reference=_new_reference(),
        user_id=user.id if user else None,
        subject_pid=subject_pid,
        issuer=issuer.id,
        document_type=doc_type.id,
        consent=_consent_record(issuer, doc_type),
        channel=channel,
        status=RequestStatus.QUEUED.value,
    )
    db.session.add(request)
    db.session.flush()
    record_audit(
        user.id if user else "operator",
        "request_document",
        target=request.id,
        issuer=issuer.id,
        document_type=doc_type.id,
        channel=channel,
    )
    db.session.commit()
    return request


def request_document(*, user: User, issuer_id: str, type_id: str, consent_given: bool) -> DocumentRequest:
    """A person asks for a document about themself; it is issued by a job (inline without Redis)."""
    from portal.jobs import enqueue_issuance

    issuer, doc_type = find_document_type(issuer_id, type_id)
    if not user.pid:
        raise Forbidden(_("Your login did not include a national ID number, which this document needs."))
    if not consent_given:
        raise BadInput(
            _("Please tick the box to agree before we read your record."), title=_("Your agreement is needed")
        )
    request = _create_request(
        user=user, subject_pid=user.pid, issuer=issuer, doc_type=doc_type, channel="web"
    )
    enqueue_issuance(request.id)
    return request


def issue_for_subject(*, issuer_id: str, type_id: str, pid: str) -> tuple[DocumentRequest, StageTimes]:
    """Operator issuance (CLI, bulk pushes): the same pipeline without a web session, run now."""
    issuer, doc_type = find_document_type(issuer_id, type_id)
    request = _create_request(user=None, subject_pid=pid, issuer=issuer, doc_type=doc_type, channel="cli")
    times = run_issuance(request.id)
    db.session.refresh(request)
    return request, times


def _reserve_number_and_code(request: DocumentRequest, issuer: Issuer) -> None:
    """Give the request its document number and verification code, in a short transaction."""
    if request.document_number:
        return
    year_be = clock.today_bangkok().year + 543
    for attempt in range(3):
        try:
            seq = db.session.scalar(
                select(DocumentSequence)
                .where(
                    DocumentSequence.issuer == issuer.id,
                    DocumentSequence.document_type == request.document_type,
                    DocumentSequence.year_be == year_be,
                )
                .with_for_update()
            )
            if seq is None:
                seq = DocumentSequence(
                    issuer=issuer.id, document_type=request.document_type, year_be=year_be, last_value=0
                )
                db.session.add(seq)
            seq.last_value += 1
            prefix = getattr(issuer, "number_prefix", issuer.id.upper())
            request.document_number = f"{prefix} {seq.last_value:06d}/{year_be}"
            request.verification_code = new_verification_code()
            request.status = RequestStatus.FETCHING.value
            db.session.commit()
            return
        except IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise


def run_issuance(request_id: str) -> StageTimes:
    """Issue the certificate for one request. Safe to run twice: a request yields one certificate.

    Failures the person can act on (no record, registry down) leave the request FAILED with a
    plain reason; they are not raised.
    """
    times = StageTimes()
    request = db.session.get(DocumentRequest, request_id)
    if request is None:
        log.warning("issuance job for unknown request %s", request_id)
        return times
    if request.certificate is not None:
        return times
    issuer, doc_type = find_document_type(request.issuer, request.document_type)
    try:
        _reserve_number_and_code(request, issuer)
        _issue(request, issuer, doc_type, times)
    except IssuingError as exc:
        db.session.rollback()
        _fail(request_id, exc.code, str(exc), transient=isinstance(exc, RegistryUnavailable))
    except IntegrityError:
        # Another run of this job issued the certificate first; theirs stands.
        db.session.rollback()
        log.info("request %s was issued by a concurrent run", request_id)
    except Exception:
        db.session.rollback()
        log.exception("issuance failed for request %s", request_id)
        _fail(request_id, "internal", "internal error")
    return times


def _issue(request: DocumentRequest, issuer: Issuer, doc_type: DocumentType, times: StageTimes) -> None:
    config = current_app.config
    t0 = time.perf_counter()
    record = issuer.fetch_record(doc_type, Subject(pid=request.subject_pid))
    record_access(
        subject_pid=request.subject_pid,
        kind="record_read",
        agency=issuer.id,
        reference=record.reference,
        purpose=doc_type.consent.purpose_en,
        request_id=request.id,
    )
    t1 = time.perf_counter()

    issued_at = clock.now()
    code = request.verification_code
    document = DocumentInfo(
        number=request.document_number,
        verification_code=group_code(code),
        verify_url=f"{config['PUBLIC_BASE_URL'].rstrip('/')}/v/{code}",
        issued_at=issued_at,
        expires_at=issued_at.astimezone(clock.BANGKOK).date() + timedelta(days=doc_type.validity_days),
        sample=config["SAMPLE_DOCUMENTS"],
    )
    html = certificate_html(issuer, doc_type, record, document)
    pdf = runtime.renderer().render(html, title=f"{doc_type.title_en} {document.number}")
    t2 = time.perf_counter()

    identity = runtime.key_ring().get(issuer.id)
    signed = sign_pdf(pdf, identity, reason=f"{doc_type.title_en} {document.number}", location="Thailand")
    t3 = time.perf_counter()

    sha256 = runtime.blob_store().put(signed)
    certificate = Certificate(
        request_id=request.id,
        number=document.number,
        verification_code=code,
        issuer=issuer.id,
        document_type=doc_type.id,
        subject_pid=request.subject_pid,
        holder_name_th=record.holder_name_th,
        holder_name_en=record.holder_name_en,
        sha256=sha256,
        size_bytes=len(signed),
        signer_key_id=identity.key_id,
        signature_level="B-B",
        issued_at=issued_at,
        expires_at=document.expires_at,
    )
    db.session.add(certificate)
    request.status = RequestStatus.READY.value
    request.failure_code = request.failure_reason = None
    db.session.flush()
    record_audit(
        "system",
        "issue_certificate",
        target=certificate.id,
        request=request.id,
        number=certificate.number,
        sha256=sha256,
    )
    db.session.commit()
    t4 = time.perf_counter()
    times.fetch, times.render, times.sign, times.store = t1 - t0, t2 - t1, t3 - t2, t4 - t3
    log.info(
        "issued %s for request %s (fetch %.1f ms, render %.1f ms, sign %.1f ms, store %.1f ms)",
        certificate.number,
        request.id,
        *(x * 1000 for x in (times.fetch, times.render, times.sign, times.store)),
    )


def certificate_html(issuer: Issuer, doc_type: DocumentType, record: Record, document: DocumentInfo) -> str:
    """The document's HTML: the issuer's content plus the ``document`` facts every template shows.

    Rendered by the app's Jinja environment without context processors: a document carries
    only its content, never the visitor's session.
    """
    context = issuer.build_content(doc_type, record, document)
    context["document"] = {
        "number": document.number,
        "verification_code": document.verification_code,
        "verify_url": document.verify_url,
        "issued_at": document.issued_at,
        "expires_at": document.expires_at,
        "title_th": doc_type.title_th,
        "title_en": doc_type.title_en,
        "sample": document.sample,
    }
    return current_app.jinja_env.get_template(doc_type.template).render(**context)


def _fail(request_id: str, code: str, reason: str, *, transient: bool = False) -> None:
    request = db.session.get(DocumentRequest, request_id)
    request.status = RequestStatus.FAILED.value
    request.failure_code = code
    request.failure_reason = reason
    record_audit("system", "issuance_failed", target=request_id, code=code, transient=transient)
    db.session.commit()
