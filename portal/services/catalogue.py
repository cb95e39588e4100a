"""What the portal offers: issuers and their document types, as the pages show them.

A logged-in person sees what they may request in their current acting context: acting for
themself, the citizen documents; acting for a company, that company's business documents, and
its investor (BOI) documents when an investor registry vouched for the mandate.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from portal.errors import Forbidden, NotFound
from portal.i18n import current_language
from portal.issuing import DocumentType, Issuer
from portal.models import User
from portal.services import mandates, runtime

__all__ = ["CatalogueEntry", "entries", "entries_for", "entry", "entry_for", "find_document_type"]


@dataclass(frozen=True)
class CatalogueEntry:
    issuer: Issuer
    document_type: DocumentType


def entries(audience: str | None = None) -> list[CatalogueEntry]:
    """Every document type offered (optionally only those for one audience)."""
    return [
        CatalogueEntry(issuer, doc_type)
        for issuer in runtime.issuers()
        for doc_type in issuer.document_types
        if audience is None or doc_type.audience == audience
    ]


def entries_for(context: mandates.ActingContext) -> list[CatalogueEntry]:
    """The document types open in ``context`` (none for a passport holder acting for nobody)."""
    return [e for e in entries() if e.document_type.audience in context.audiences]


def find_document_type(issuer_id: str, type_id: str) -> tuple[Issuer, DocumentType]:
    """The issuer and document type, or a plain 404."""
    found = runtime.issuers().find(issuer_id, type_id)
    if found is None:
        raise NotFound(
            _("We do not issue a document of this type. Check the catalogue for what is available.")
        )
    return found


def entry(issuer_id: str, type_id: str) -> CatalogueEntry:
    """The document type as the catalogue shows it, or a plain 404."""
    issuer, doc_type = find_document_type(issuer_id, type_id)
    return CatalogueEntry(issuer, doc_type)


def entry_for(user: User, issuer_id: str, type_id: str) -> tuple[CatalogueEntry, mandates.ActingContext]:
    """The document type, if ``user`` may request it in their current acting context.

    One outside the context (a company's document while acting for oneself, a citizen's while
    acting for a company, anything a mandate does not open) gives a 403 page and is logged.
    """
    found = entry(issuer_id, type_id)
    context = mandates.acting_context(user)
    audience = found.document_type.audience
    if audience not in context.audiences:
        mandates.refuse(
            user,
            "outside_acting_context",
            issuer=issuer_id,
            document_type=type_id,
            acting_for=context.company.juristic_id if context.company else mandates.MYSELF,
        )
        if audience == "citizen":
            message = (
                _("This document is about a person. Switch to acting for yourself to request it.")
                if context.may_act_for_self
                else _("This document is for people with a Thai national ID number, about themselves.")
            )
        elif context.company is not None:
            message = _(
                "Your authority for %(company)s does not cover this document.",
                company=context.company.name(current_language()),
            )
        else:
            message = _(
                "This is a company's document. Only a person the agency lists as a director or "
                "authorised representative of the company may request it, while acting for that company."
            )
        raise Forbidden(message, title=_("You cannot request this document"))
    return found, context
