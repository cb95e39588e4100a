"""Issuing a document: request → fetch record → build content → render → sign → store → Certificate.

The steps live in smaller modules; this one keeps every name importers and tests use, and the
operator path, which looks its steps up here so that a patch of one of these names reaches it:

- ``issuance_requests``: a person's request, its consent record, "Try again";
- ``issuance_run``: the job for one request, with its retries and failure codes;
- ``issuance_certificate``: fetch → render → sign → store of the certificate itself;
- ``issuance_status``: status moves, failing a request, and the workers' safety net.
"""

from __future__ import annotations

from portal.extensions import db
from portal.models import DocumentRequest
from portal.services.certificate_content import certificate_context, certificate_data, certificate_html
from portal.services.issuance_certificate import StageTimes
from portal.services.issuance_requests import _create_request as _create_request
from portal.services.issuance_requests import find_document_type, request_document, retry_request
from portal.services.issuance_run import IssuanceDeferred, run_issuance
from portal.services.issuance_status import give_up, unfinished_requests

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


def issue_for_subject(*, issuer_id: str, type_id: str, pid: str) -> tuple[DocumentRequest, StageTimes]:
    """Operator issuance (CLI, bulk pushes): the same pipeline without a web session, run now."""
    issuer, doc_type = find_document_type(issuer_id, type_id)
    request = _create_request(user=None, subject_pid=pid, issuer=issuer, doc_type=doc_type, channel="cli")
    times = run_issuance(request.id)
    db.session.refresh(request)
    return request, times
