"""Database tables, one module per domain concept (and ``utcnow``, the time their columns default to)."""

from portal.models._types import utcnow
from portal.models.audit import AccessEvent, AuditEvent, CheckFold
from portal.models.certificate import Certificate, CertificateStatus, DocumentSequence
from portal.models.document_request import DocumentRequest, RequestStatus
from portal.models.signing_key import SigningKey, SigningKeyStatus
from portal.models.user import Identity, User
from portal.models.user_session import UserSession

__all__ = [
    "AccessEvent",
    "AuditEvent",
    "Certificate",
    "CertificateStatus",
    "CheckFold",
    "DocumentRequest",
    "DocumentSequence",
    "Identity",
    "RequestStatus",
    "SigningKey",
    "SigningKeyStatus",
    "User",
    "UserSession",
    "utcnow",
]
