"""Issuing a document: request → fetch record → build content → render → sign → store → Certificate."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError

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
from portal.metrics import observe_issuance_stage
from portal.models import (
    Certificate,
    DocumentRequest,
    DocumentSequence,
    RequestStatus,
    User,
)
from portal.models._types import utcnow
from portal.services import runtime
from portal.services.access_log import describe_requester
from portal.services.audit import record_access, record_audit
from portal.services.codes import group_code, new_verification_code
from portal.signing import SignerCertificateUnusable, SigningServiceUnavailable, Stamp, sign_pdf
from portal.signing.services import agency_signature_level, trust_services

log = logging.getLogger(__name__)

__all__ = [
    "IssuanceDeferred",
    "StageTimes",
    "certificate_context",
    "certificate_data",
    "certificate_html",
    "find_document_type",
    "give_up",
    "issue_for_subject",
    "request_document",
    "retry_request",
    "run_issuance",
    "unfinished_requests",
]

_UNFINISHED = (
    RequestStatus.QUEUED.value,
    RequestStatus.FETCHING.value,
    RequestStatus.WAITING.value,
    RequestStatus.RENDERING.value,
    RequestStatus.SIGNING.value,
)


#: What a transient failure's record says (the errors' own text can hold service URLs).
_TRANSIENT_REASONS = {
    "tsa_unavailable": "the time-stamping service did not answer",
    "revocation_info_unavailable": "the certificate status service (OCSP/CRL) did not answer",
}


class IssuanceDeferred(Exception):
    """A transient failure while retries remain: the request is WAITING and the job must be retried."""


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
    """A person asks for a document about themself; it is issued by a job (inline without Redis).

    With Redis configured but unreachable this raises ``IssuingPaused`` (503) before anything is
    written. Should Redis fail between the check and the enqueue, the saved request stays QUEUED
    and the workers' safety net (``requeue_stalled``) queues it once Redis is back.
    """
    from portal.jobs import enqueue_issuance, ensure_issuing_available

    issuer, doc_type = find_document_type(issuer_id, type_id)
    if not user.pid:
        raise Forbidden(_("Your login did not include a national ID number, which this document needs."))
    if not consent_given:
        raise BadInput(
            _("Please tick the box to agree before we read your record."), title=_("Your agreement is needed")
        )
    ensure_issuing_available()
    request = _create_request(
        user=user, subject_pid=user.pid, issuer=issuer, doc_type=doc_type, channel="web"
    )
    enqueue_issuance(request.id)
    return request


def retry_request(*, user: User, request_id: str) -> DocumentRequest:
    """The person's "Try again" on a failed request: queue the same request again.

    Only the owner may, and only for failures that another try can fix (``can_retry``);
    a request already queued again (double click) is left as it is.
    """
    from portal.jobs import enqueue_issuance, ensure_issuing_available
    from portal.services.documents import get_request

    request = get_request(user, request_id)
    if request.status != RequestStatus.FAILED.value:
        return request
    if not request.can_retry:
        raise BadInput(
            _("Trying again would give the same answer. Please contact the agency named on this page."),
            title=_("This request cannot be tried again"),
        )
    ensure_issuing_available()
    changed = db.session.execute(
        update(DocumentRequest)
        .where(DocumentRequest.id == request.id, DocumentRequest.status == RequestStatus.FAILED.value)
        .values(
            status=RequestStatus.QUEUED.value,
            failure_code=None,
            failure_reason=None,
            attempts=0,
            next_attempt_at=None,
            updated_at=utcnow(),
        )
    ).rowcount
    if changed:
        record_audit(user.id, "retry_request", target=request.id)
    db.session.commit()
    if changed:
        enqueue_issuance(request.id, replace_finished=True)
    db.session.refresh(request)
    return request


def unfinished_requests(*, older_than: timedelta) -> list[tuple[str, int]]:
    """(id, attempts) of requests not ready nor failed and untouched for ``older_than`` (oldest first)."""
    rows = db.session.execute(
        select(DocumentRequest.id, DocumentRequest.attempts)
        .where(
            DocumentRequest.status.in_(_UNFINISHED),
            DocumentRequest.updated_at <= utcnow() - older_than,
        )
        .order_by(DocumentRequest.updated_at)
        .limit(500)
    ).all()
    db.session.commit()
    return [(row.id, row.attempts) for row in rows]


def give_up(request_id: str) -> None:
    """Fail a request that started too often without finishing (the safety net's last word)."""
    log.error("request %s started too many times without finishing; failing it", request_id)
    _fail(request_id, "internal", "gave up after repeated interrupted attempts")


def issue_for_subject(*, issuer_id: str, type_id: str, pid: str) -> tuple[DocumentRequest, StageTimes]:
    """Operator issuance (CLI, bulk pushes): the same pipeline without a web session, run now."""
    issuer, doc_type = find_document_type(issuer_id, type_id)
    request = _create_request(user=None, subject_pid=pid, issuer=issuer, doc_type=doc_type, channel="cli")
    times = run_issuance(request.id)
    db.session.refresh(request)
    return request, times


def _start_attempt(request_id: str, issuer: Issuer) -> DocumentRequest | None:
    """Count the attempt, reserve number and code on first use, move to FETCHING; one short transaction.

    The request row is locked, so two runs at once cannot both reserve a number for it.
    Returns None when the request needs no work (already issued).
    """
    year_be = clock.today_bangkok().year + 543
    for attempt in range(3):
        try:
            request = db.session.execute(
                select(DocumentRequest)
                .where(DocumentRequest.id == request_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalar_one()
            if request.status == RequestStatus.READY.value:
                db.session.commit()
                return None
            request.attempts = (request.attempts or 0) + 1
            request.status = RequestStatus.FETCHING.value
            request.next_attempt_at = None
            if request.document_number:
                db.session.commit()
                return request
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
            db.session.commit()
            return request
        except IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise
    return None


def run_issuance(request_id: str, *, retry_in: float | None = None) -> StageTimes:
    """Issue the certificate for one request. Safe to run twice, even at once: a request yields
    one certificate (unique key on ``certificates.request_id``); the run that loses the race
    rolls back quietly.

    Failures the person can act on (no record, registry down) leave the request FAILED with a
    plain reason; they are not raised. Except: when ``retry_in`` is given (a job with retries
    left), a registry outage leaves the request WAITING, due again in ``retry_in`` seconds, and
    raises ``IssuanceDeferred`` so that the job is retried.
    """
    times = StageTimes()
    request = db.session.get(DocumentRequest, request_id)
    if request is None:
        log.warning("issuance job for unknown request %s", request_id)
        return times
    if request.certificate is not None:
        _mark_ready_if_issued(request_id)
        return times
    try:
        issuer, doc_type = find_document_type(request.issuer, request.document_type)
    except NotFound:
        # The issuer was switched off (or removed) after the request was made: no try can succeed.
        log.warning(
            "request %s: document type %s/%s is not available",
            request_id,
            request.issuer,
            request.document_type,
        )
        _fail(request_id, "not_available", "this document is no longer issued here")
        return times
    try:
        request = _start_attempt(request_id, issuer)
        if request is None:
            return times
        _issue(request, issuer, doc_type, times)
    except (RegistryUnavailable, SigningServiceUnavailable) as exc:
        # The agency's registry, or the time-stamping / revocation service, did not answer.
        db.session.rollback()
        reason = _TRANSIENT_REASONS.get(exc.code, str(exc))
        if retry_in is not None:
            _wait_for_retry(request_id, exc.code, reason, retry_in)
            raise IssuanceDeferred(reason) from exc
        _fail(request_id, exc.code, reason, transient=True)
    except SignerCertificateUnusable as exc:
        # The agency's own signing certificate is revoked, expired or untrusted: operators must act.
        db.session.rollback()
        log.error("request %s: the signing certificate of %s cannot be used: %s", request_id, issuer.id, exc)
        _fail(request_id, "signer_unusable", "the agency's signing certificate cannot be used")
    except IssuingError as exc:
        db.session.rollback()
        _fail(request_id, exc.code, str(exc))
    except IntegrityError:
        db.session.rollback()
        if _mark_ready_if_issued(request_id):
            # Another run of this job issued the certificate first; theirs stands.
            log.info("request %s was issued by a concurrent run", request_id)
        else:
            log.exception("issuance failed for request %s", request_id)
            _fail(request_id, "internal", "internal error")
    except OperationalError:
        # The database went away: nothing to record now; let the job's retries have it.
        db.session.rollback()
        if retry_in is None:
            raise
        log.warning("database unavailable while issuing request %s; will retry", request_id)
        raise
    except Exception:
        db.session.rollback()
        log.exception("issuance failed for request %s", request_id)
        _fail(request_id, "internal", "internal error")
    else:
        for stage in ("fetch", "render", "sign", "store"):
            observe_issuance_stage(stage, getattr(times, stage))
    return times


def _update_unless_ready(request_id: str, **values) -> int:
    """Set ``values`` on the request unless it is READY (a concurrent run may have finished it:
    nothing moves it back); returns how many rows changed (0 or 1). The caller commits."""
    return db.session.execute(
        update(DocumentRequest)
        .where(DocumentRequest.id == request_id, DocumentRequest.status != RequestStatus.READY.value)
        .values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount


def _set_stage(request_id: str, status: RequestStatus) -> None:
    """Move an unfinished request to ``status`` and commit, so that the status page moves."""
    _update_unless_ready(request_id, status=status.value)
    db.session.commit()


def _mark_ready_if_issued(request_id: str) -> bool:
    """If the request has its certificate, make sure its status says READY."""
    issued = db.session.scalar(select(Certificate.id).where(Certificate.request_id == request_id))
    if issued is not None:
        db.session.execute(
            update(DocumentRequest)
            .where(DocumentRequest.id == request_id)
            .values(status=RequestStatus.READY.value, failure_code=None, failure_reason=None)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return issued is not None


def _wait_for_retry(request_id: str, code: str, reason: str, retry_in: float) -> None:
    due: datetime = clock.now() + timedelta(seconds=retry_in)
    _update_unless_ready(
        request_id,
        status=RequestStatus.WAITING.value,
        failure_code=code,
        failure_reason=reason,
        next_attempt_at=due,
    )
    record_audit("system", "issuance_deferred", target=request_id, code=code, retry_in=retry_in)
    db.session.commit()
    log.warning("request %s waits (%s); next try in %ss: %s", request_id, code, retry_in, reason)


def _issue(request: DocumentRequest, issuer: Issuer, doc_type: DocumentType, times: StageTimes) -> None:
    config = current_app.config
    t0 = time.perf_counter()
    record = issuer.fetch_record(doc_type, Subject(pid=request.subject_pid))
    requested_by, on_behalf_of = describe_requester(request)
    record_access(
        subject_pid=request.subject_pid,
        kind="record_read",
        agency=issuer.id,
        reference=record.reference,
        purpose=doc_type.consent.purpose_en,
        request_id=request.id,
        requested_by=requested_by,
        on_behalf_of=on_behalf_of,
    )
    _set_stage(request.id, RequestStatus.RENDERING)
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
    context = certificate_context(issuer, doc_type, record, document)
    html = current_app.jinja_env.get_template(doc_type.template).render(**context)
    pdf = runtime.renderer().render(
        html,
        title=f"{doc_type.title_en} {document.number}",
        data=certificate_data(issuer, doc_type, record, context),
        data_created=issued_at,
    )
    _set_stage(request.id, RequestStatus.SIGNING)
    t2 = time.perf_counter()

    identity = runtime.key_ring().get(issuer.id)
    level = agency_signature_level(config, issuer.id)
    signed = sign_pdf(
        pdf,
        identity,
        reason=f"{doc_type.title_en} {document.number}",
        location="Thailand",
        level=level,
        services=trust_services(config, runtime.trust_roots()) if level.needs_timestamp else None,
        stamp=Stamp(agency_th=issuer.name_th, agency_en=issuer.name_en, signed_at=clock.now()),
    )
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
        signature_level=level.value,
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
    context = certificate_context(issuer, doc_type, record, document)
    return current_app.jinja_env.get_template(doc_type.template).render(**context)


def certificate_data(
    issuer: Issuer, doc_type: DocumentType, record: Record, context: Mapping[str, Any]
) -> dict[str, Any]:
    """The facts embedded in the PDF as ``data.json`` (its PDF/A-3 associated file).

    Software reads these instead of the text layer (Thai text extracts wrongly). Only what the
    page prints goes in, as the template got it: it is the holder's own document, so the
    holder's printed details (names, ID number, the records listed) are no more exposed than
    on paper. Left out: the agency's internal record reference, images (``*_uri``), anything
    from the session. ``context`` is :func:`certificate_context`'s result.
    """
    document = context["document"]
    content = {key: value for key, value in context.items() if key != "document"}
    agency = content.get("agency")
    if isinstance(agency, Mapping):
        content["agency"] = {key: value for key, value in agency.items() if not key.endswith("_uri")}
    return {
        "format": "tra-certificate/1",
        "number": document["number"],
        "verification_code": document["verification_code"],
        "verify_url": document["verify_url"],
        "issuer": {"id": issuer.id, "name_th": issuer.name_th, "name_en": issuer.name_en},
        "document_type": {"id": doc_type.id, "title_th": doc_type.title_th, "title_en": doc_type.title_en},
        "holder": {"name_th": record.holder_name_th, "name_en": record.holder_name_en},
        "issued_at": document["issued_at"],
        "expires_at": document["expires_at"],
        "sample": document["sample"],
        "content": content,
    }


def certificate_context(
    issuer: Issuer, doc_type: DocumentType, record: Record, document: DocumentInfo
) -> dict[str, Any]:
    """The template context of a document: the issuer's content plus the ``document`` facts."""
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
    return context


def _fail(request_id: str, code: str, reason: str, *, transient: bool = False) -> None:
    """Leave the request FAILED with a reason (never one that a concurrent run has made READY)."""
    changed = _update_unless_ready(
        request_id,
        status=RequestStatus.FAILED.value,
        failure_code=code,
        failure_reason=reason,
        next_attempt_at=None,
    )
    if changed:
        record_audit("system", "issuance_failed", target=request_id, code=code, transient=transient)
    db.session.commit()
