"""What the portal offers: issuers and their document types, as the pages show them."""

from __future__ import annotations

from dataclasses import dataclass

from portal.issuing import DocumentType, Issuer
from portal.services import runtime


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


def entry(issuer_id: str, type_id: str) -> CatalogueEntry:
    from portal.services.issuance import find_document_type

    issuer, doc_type = find_document_type(issuer_id, type_id)
    return CatalogueEntry(issuer, doc_type)
