"""A person's own requests and documents."""

from __future__ import annotations

from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import select

from portal.errors import Forbidden, NotFound
from portal.extensions import db
from portal.models import Certificate, DocumentRequest, User
from portal.services import runtime
from portal.storage import BlobNotFound


def my_requests(user: User) -> list[DocumentRequest]:
    """The person's requests, newest first, with their certificates."""
    return list(
        db.session.scalars(
            select(DocumentRequest)
            .where(DocumentRequest.user_id == user.id)
            .order_by(DocumentRequest.created_at.desc())
        )
    )


def get_request(user: User, request_id: str) -> DocumentRequest:
    """One of the person's requests; another person's gives 403, a missing one 404."""
    request = db.session.get(DocumentRequest, request_id) if len(request_id) <= 32 else None
    if request is None:
        raise NotFound(_("There is no such request."))
    if request.user_id != user.id:
        raise Forbidden(_("This request belongs to someone else."))
    return request


def get_certificate_file(user: User, certificate_id: str) -> tuple[Certificate, Path]:
    """Where the signed PDF of one of the person's certificates is stored (streamed, not read)."""
    certificate = db.session.get(Certificate, certificate_id) if len(certificate_id) <= 32 else None
    if certificate is None:
        raise NotFound(_("There is no such document."))
    if certificate.request.user_id != user.id:
        raise Forbidden(_("This document belongs to someone else."))
    try:
        return certificate, runtime.blob_store().path(certificate.sha256)
    except BlobNotFound:
        raise NotFound(_("The file of this document is missing. Please contact us.")) from None
