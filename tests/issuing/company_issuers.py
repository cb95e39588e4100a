"""Helpers for the company issuers' tests (DBD, BOI): a sample registry on loopback, the issuer
built as the registry would build it, and its document rendered to HTML and PDF."""

from __future__ import annotations

import io
import os
from datetime import datetime
from pathlib import Path

from pyhanko.pdf_utils.reader import PdfFileReader

from issuers import sample_people as sample
from portal import clock
from portal.issuing import DocumentInfo, Issuer, Record, Requester, Subject
from portal.issuing.settings import IssuerSettings, merge_specs

#: The shared sample world (issuers/sample_people.py), as people asking for a company's document.
SOMCHAI, ARUNEE, WICHAI = (sample.requester(p) for p in (sample.SOMCHAI, sample.ARUNEE, sample.WICHAI))
MALEE = Requester(pid="3101200987652", name_th="นางสาวมาลี ทองดี", name_en="Ms. Malee Thongdee")
YAMADA, SCHMIDT = sample.YAMADA, sample.SCHMIDT
COMPANY_A, COMPANY_B, COMPANY_C = (
    c.juristic_id for c in (sample.COMPANY_A, sample.COMPANY_B, sample.COMPANY_C)
)
#: A well-formed juristic ID (valid check digit) that no registry knows.
UNKNOWN_COMPANY = "0105599000011"

ISSUED_AT = datetime(2026, 6, 1, 10, 30, tzinfo=clock.BANGKOK)


def build_issuer(cls: type[Issuer], registry_url: str) -> Issuer:
    """The issuer as the portal's registry builds it, reading ``registry_url``, failing fast."""
    settings = IssuerSettings.build(
        cls.id, merge_specs(cls.settings_schema), {"registry_url": registry_url, "retries": 0, "timeout": 5}
    )
    return cls(settings)


def company(juristic_id: str, requester: Requester | None) -> Subject:
    return Subject(juristic_id=juristic_id, requester=requester)


def document_info(issuer: Issuer) -> DocumentInfo:
    return DocumentInfo(
        number=f"{issuer.id.upper()}-2569-000042",
        verification_code="ABCD-EFGH-JKMN-PQRS-TVWX",
        verify_url="http://portal.test/v/ABCDEFGHJKMNPQRSTVWX",
        issued_at=ISSUED_AT,
        expires_at=ISSUED_AT.date(),
        sample=True,
    )


def render_html(app, issuer: Issuer, type_id: str, record: Record) -> str:
    from portal.services.certificate_content import certificate_context

    doc_type = issuer.document_type(type_id)
    context = certificate_context(issuer, doc_type, record, document_info(issuer))
    return app.jinja_env.get_template(doc_type.template).render(**context)


def render_pdf(app, issuer: Issuer, type_id: str, record: Record, *, name: str) -> bytes:
    """The document as PDF; kept in ``$TRA_SHOTS_DIR`` (when set) to be looked at as PNGs."""
    from portal.services import runtime
    from portal.services.certificate_content import certificate_context, certificate_data

    doc_type = issuer.document_type(type_id)
    document = document_info(issuer)
    context = certificate_context(issuer, doc_type, record, document)
    html = app.jinja_env.get_template(doc_type.template).render(**context)
    pdf = runtime.renderer().render(
        html,
        title=f"{doc_type.title_en} {document.number}",
        data=certificate_data(issuer, doc_type, record, context),
        data_created=document.issued_at,
    )
    shots = os.environ.get("TRA_SHOTS_DIR")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        (Path(shots) / f"{name}.pdf").write_bytes(pdf)
    return pdf


def page_count(pdf: bytes) -> int:
    return int(PdfFileReader(io.BytesIO(pdf)).root["/Pages"]["/Count"])
