"""Whom a request is about, and whose data its record holds.

The subject is a person (their own document) or a company with the person who asks for it. Every
person whose data the record holds gets an access event, shown in their "Who read my data": the
subject, and each of ``Record.named_people`` (a company's directors, a house's members), by
national ID or, for a person without one, by passport.
"""

from __future__ import annotations

from portal.extensions import db
from portal.issuing import DocumentType, Issuer, Record, Subject, is_passport_identifier
from portal.models import DocumentRequest, User
from portal.services.access_log import OTHER_PERSON, REPRESENTATIVE, SELF, describe_requester
from portal.services.audit import record_access
from portal.services.mandates import requester_of

__all__ = ["note_reads", "subject_of"]


def subject_of(request: DocumentRequest) -> Subject:
    """Whom the issuer reads about: the person, or the company with who asks for it."""
    if not request.for_company:
        return Subject(pid=request.subject_pid)
    user = db.session.get(User, request.user_id) if request.user_id else None
    return Subject(
        juristic_id=request.subject_id,
        name_th=request.acting_for_name_th,
        name_en=request.acting_for_name_en,
        requester=requester_of(user) if user is not None else None,
    )


def note_reads(request: DocumentRequest, issuer: Issuer, doc_type: DocumentType, record: Record) -> None:
    """An access event for every person whose data the record holds: the subject (a person's
    document) and each of ``record.named_people`` (a company's directors, a house's members), so
    that each sees the read in "Who read my data", told who asked only as far as they may be."""
    company = None
    if request.for_company:
        company = f"{request.acting_for_name_th or ''} ({request.acting_for_name_en or ''})".strip()
    requester = db.session.get(User, request.user_id) if request.user_id else None
    requester_identifier = requester.identifier if requester is not None else None
    read = {
        "kind": "record_read",
        "agency": issuer.id,
        "reference": record.reference,
        "purpose": doc_type.consent.purpose_en,
        "request_id": request.id,
    }
    noted: set[str] = set()
    if request.subject_pid:
        requested_by, on_behalf_of = describe_requester(request, organisation_name=company)
        record_access(
            subject_pid=request.subject_pid, requested_by=requested_by, on_behalf_of=on_behalf_of, **read
        )
        noted.add(request.subject_pid)
    for person in record.named_people:
        person_is = _person(person)
        if person_is is None or person in noted:
            continue
        noted.add(person)
        if request.user_id is None:
            requested_by, on_behalf_of = describe_requester(request)
        elif person == requester_identifier:
            requested_by, on_behalf_of = SELF, company
        elif company:
            requested_by, on_behalf_of = REPRESENTATIVE, company[:300]
        else:
            requested_by, on_behalf_of = OTHER_PERSON, None
        record_access(**person_is, requested_by=requested_by, on_behalf_of=on_behalf_of, **read)


def _person(identifier: object) -> dict[str, str] | None:
    """Whom an access event is about, from a ``named_people`` entry; None for anything else."""
    if not isinstance(identifier, str):
        return None
    if len(identifier) == 13 and identifier.isdigit():
        return {"subject_pid": identifier}
    if is_passport_identifier(identifier):
        return {"subject_passport": identifier}
    return None
