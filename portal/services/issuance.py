"""Issuing a document: request → fetch record → build content → render → sign → store → Certificate."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, has_request_context
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
    NotAuthorised,
    RegistryUnavailable,
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
from portal.services import mandates as mandate_rules
from portal.services import runtime
from portal.services.audit import record_audit
from portal.services.certificate_content import certificate_context, certificate_data, certificate_html
from portal.services.codes import group_code, new_verification_code
from portal.services.subjects import note_reads, subject_of
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


def _consent_record(issuer: Issuer, doc_type: DocumentType, *, company: mandate_rules.Company | None) -> dict:
    """What the person agreed to, as they were shown it: the agency, the fields read, the purpose,
    the version of the text, for whom, when and in which language."""
    from portal.i18n import current_language

    c = doc_type.consent
    return {
        "version": c.version,
        "subject_kind": "company" if company else "person",
        "juristic_id": company.juristic_id if company else None,
        # The language of the page it was agreed on (none for operator issuance).
        "language": current_language() if has_request_context() else None,
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
    *,
    user: User | None,
    subject_pid: str | None,
    issuer: Issuer,
    doc_type: DocumentType,
    channel: str,
    company: mandate_rules.Company | None = None,
    mandate: dict | None = None,
) -> DocumentRequest:
    request = DocumentRequest(
        reference=_new_reference(),
        user_id=user.id if user else None,
        subject_kind="company" if company else "person",
        subject_id=company.juristic_id if company else subject_pid,
        subject_pid=None if company else subject_pid,
        acting_for_name_th=company.name_th if company else None,
        acting_for_name_en=company.name_en if company else None,
        mandate=mandate,
        issuer=issuer.id,
        document_type=doc_type.id,
        consent=_consent_record(issuer, doc_type, company=company),
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
        subject_kind=request.subject_kind,
        juristic_id=company.juristic_id if company else None,
    )
    db.session.commit()
    return request


def request_document(*, user: User, issuer_id: str, type_id: str, consent_given: bool) -> DocumentRequest:
    """A person asks for a document about themself, or for the company they act for; it is issued
    by a job (inline without Redis).

    The document type must be open in the person's acting context (else 403, logged). For a
    company's document the registries are asked again now whether the person may act for it: no
    longer listed gives 403 (logged), a registry that cannot be asked 503 with nothing written.
    With Redis configured but unreachable this raises ``IssuingPaused`` (503) before anything is
    written. Should Redis fail between the check and the enqueue, the saved request stays QUEUED
    and the workers' safety net (``requeue_stalled``) queues it once Redis is back.
    """
    from portal.jobs import enqueue_issuance, ensure_issuing_available
    from portal.services.catalogue import entry_for

    found, context = entry_for(user, issuer_id, type_id)
    issuer, doc_type = found.issuer, found.document_type
    company = context.company if doc_type.audience != "citizen" else None
    if company is None and not user.pid:
        raise Forbidden(_("Your login did not include a national ID number, which this document needs."))
    if not consent_given:
        raise BadInput(
            _("Please tick the box to agree before we read your record."), title=_("Your agreement is needed")
        )
    mandate = None
    if company is not None:
        confirmed = mandate_rules.confirm_mandate(
            user, juristic_id=company.juristic_id, audience=doc_type.audience
        )
        mandate = {
            "juristic_id": confirmed.juristic_id,
            "role": confirmed.role,
            "source": confirmed.source,
            "checked_at": clock.now().isoformat(),
        }
    ensure_issuing_available()
    request = _create_request(
        user=user,
        subject_pid=user.pid,
        issuer=issuer,
        doc_type=doc_type,
        channel="web",
        company=company,
        mandate=mandate,
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


def _number_prefix(issuer: Issuer, type_id: str) -> str:
    """The prefix of a document number: numbers run per document type, so two types of one issuer
    need different prefixes (``number_prefixes`` per type, else ``number_prefix`` for the first
    type and ``<prefix>-<n>`` for the n-th), or their first documents would share a number."""
    per_type = getattr(issuer, "number_prefixes", None) or {}
    if type_id in per_type:
        return per_type[type_id]
    prefix = getattr(issuer, "number_prefix", issuer.id.upper())
    type_ids = [t.id for t in issuer.document_types]
    index = type_ids.index(type_id) if type_id in type_ids else 0
    return prefix if index == 0 else f"{prefix}-{index + 1}"


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
            prefix = _number_prefix(issuer, request.document_type)
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
        if isinstance(exc, NotAuthorised):
            # The registry does not list the requester for this company (any more): final, logged.
            log.warning("request %s refused by the %s registry: not authorised", request_id, issuer.id)
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
    record = issuer.fetch_record(doc_type, subject_of(request))
    note_reads(request, issuer, doc_type, record)
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
        holder_kind=request.subject_kind,
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
