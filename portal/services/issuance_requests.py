"""Asking for a document: the request with the consent record it carries, "Try again", and the
operator's issuance for a subject.

The job that issues a request lives in ``issuance_run`` (queued by ``issuance_jobs``); the
certificate itself is made in ``issuance_certificate``.
"""

from __future__ import annotations

import secrets

from flask import has_request_context
from flask_babel import gettext as _
from sqlalchemy import update

from portal import clock
from portal.errors import BadInput, Forbidden
from portal.extensions import db
from portal.issuing import DocumentType, Issuer
from portal.issuing.thai import BE_OFFSET
from portal.models import DocumentRequest, RequestStatus, User, utcnow
from portal.services import mandates as mandate_rules
from portal.services.audit import record_audit
from portal.services.catalogue import entry_for, find_document_type
from portal.services.documents import get_request
from portal.services.issuance_certificate import StageTimes
from portal.services.issuance_jobs import enqueue_issuance, ensure_issuing_available
from portal.services.issuance_run import run_issuance

__all__ = [
    "create_request",
    "issue_for_subject",
    "request_document",
    "retry_request",
]


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
    year_be = clock.today_bangkok().year + BE_OFFSET
    return f"TRA-{year_be}-{secrets.token_hex(4).upper()}"


def create_request(
    *,
    user: User | None,
    subject_pid: str | None,
    issuer: Issuer,
    doc_type: DocumentType,
    channel: str,
    company: mandate_rules.Company | None = None,
    mandate: dict | None = None,
) -> DocumentRequest:
    """Save a request (QUEUED) with its consent record and audit event, and commit; nothing is queued."""
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
    request = create_request(
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


def issue_for_subject(*, issuer_id: str, type_id: str, pid: str) -> tuple[DocumentRequest, StageTimes]:
    """Operator issuance (CLI, bulk pushes): the same pipeline without a web session, run now."""
    issuer, doc_type = find_document_type(issuer_id, type_id)
    request = create_request(user=None, subject_pid=pid, issuer=issuer, doc_type=doc_type, channel="cli")
    times = run_issuance(request.id)
    db.session.refresh(request)
    return request, times
