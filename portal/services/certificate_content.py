"""A document's content: the issuer's part plus the facts the portal fixes, as HTML and as the
``data.json`` embedded in the PDF."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app

from portal.issuing import DocumentInfo, DocumentType, Issuer, Record

__all__ = ["certificate_context", "certificate_data", "certificate_html"]


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
    """The template context of a document: the issuer's content plus the ``document`` facts and,
    unless the issuer gives its own, the ``agency`` letterhead from its metadata."""
    context = issuer.build_content(doc_type, record, document)
    context.setdefault("agency", issuer.agency_facts())
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
