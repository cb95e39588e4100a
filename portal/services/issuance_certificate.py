"""Making one certificate for a request: fetch the record → render the PDF → sign it → store it.

Called by ``issuance_run.run_issuance``, which owns the attempt, the retries and the failure codes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app

from portal import clock
from portal.extensions import db
from portal.issuing import DocumentInfo, DocumentType, Issuer
from portal.models import Certificate, DocumentRequest, RequestStatus
from portal.services import runtime
from portal.services.audit import record_audit
from portal.services.certificate_content import certificate_context, certificate_data
from portal.services.codes import group_code
from portal.services.issuance_status import set_stage
from portal.services.keys import key_ring
from portal.services.subjects import note_reads, subject_of
from portal.signing import Stamp, sign_pdf
from portal.signing.services import issuer_signature_level, trust_services

# The logger keeps the name it had before the split, so log filters and captures see the same name.
log = logging.getLogger("portal.services.issuance")

__all__ = [
    "StageTimes",
    "issue_certificate",
]


@dataclass
class StageTimes:
    """Seconds spent per pipeline stage (for logs and bench/issue.py)."""

    fetch: float = 0.0
    render: float = 0.0
    sign: float = 0.0
    store: float = 0.0


def issue_certificate(
    request: DocumentRequest, issuer: Issuer, doc_type: DocumentType, times: StageTimes
) -> None:
    """Fetch, render, sign and store the certificate of a request whose attempt has started;
    the caller turns failures into statuses. Adds the seconds per stage to ``times``."""
    config = current_app.config
    t0 = time.perf_counter()
    record = issuer.fetch_record(doc_type, subject_of(request))
    note_reads(request, issuer, doc_type, record)
    set_stage(request.id, RequestStatus.RENDERING)
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
    set_stage(request.id, RequestStatus.SIGNING)
    t2 = time.perf_counter()

    identity = key_ring().get(issuer.id)
    level = issuer_signature_level(issuer.settings)
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
