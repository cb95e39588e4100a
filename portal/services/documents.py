"""A person's own requests and documents.

Ownership: a request, and the document it yields, belong to the person who asked, also when
they asked for a company. Other representatives of the same company do not see it here: they
may request the company's document themselves, and a director who is named in it sees the read
in "Who read my data". Someone else's request or document by URL gives 403, logged.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import select

from portal.errors import Forbidden, NotFound
from portal.extensions import db
from portal.models import Certificate, DocumentRequest, User
from portal.services import runtime
from portal.services.audit import record_audit
from portal.storage import BlobNotFound

log = logging.getLogger(__name__)


def my_requests(user: User) -> list[DocumentRequest]:
    """The person's requests (their own and those they made for companies), newest first."""
    return list(
        db.session.scalars(
            select(DocumentRequest)
            .where(DocumentRequest.user_id == user.id)
            .order_by(DocumentRequest.created_at.desc())
        )
    )


def _refuse(user: User, kind: str, target: str) -> None:
    log.warning("user %s tried to open another person's %s %s", user.id, kind, target)
    record_audit(user.id, "access.refused", target=target, kind=kind, reason="not_owner")
    db.session.commit()


def get_request(user: User, request_id: str) -> DocumentRequest:
    """One of the person's requests; another person's gives 403 (logged), a missing one 404."""
    request = db.session.get(DocumentRequest, request_id) if len(request_id) <= 32 else None
    if request is None:
        raise NotFound(_("There is no such request."))
    if request.user_id != user.id:
        _refuse(user, "request", request.id)
        raise Forbidden(_("This request belongs to someone else."))
    return request


def get_certificate_file(user: User, certificate_id: str) -> tuple[Certificate, Path]:
    """Where the signed PDF of one of the person's certificates is stored (streamed, not read)."""
    certificate = db.session.get(Certificate, certificate_id) if len(certificate_id) <= 32 else None
    if certificate is None:
        raise NotFound(_("There is no such document."))
    if certificate.request.user_id != user.id:
        _refuse(user, "certificate", certificate.id)
        raise Forbidden(_("This document belongs to someone else."))
    try:
        return certificate, runtime.blob_store().path(certificate.sha256)
    except BlobNotFound:
        raise NotFound(_("The file of this document is missing. Please contact us.")) from None
