"""An issued certificate is PDF/A-3b and carries its facts as data.json, through the whole pipeline.

Uses the shared fixtures (real database built by the migrations, sample registry over HTTP,
development keys): the stored, signed file is read back and its embedded data compared with
the database record.
"""

from __future__ import annotations

import io
import json

from pyhanko.pdf_utils.reader import PdfFileReader

from portal.models import RequestStatus
from portal.rendering.pdf import embedded_data
from portal.services import runtime
from portal.services.codes import group_code


def test_issued_certificate_carries_its_facts(issue, app_ctx) -> None:
    request = issue()
    assert request.status == RequestStatus.READY
    certificate = request.certificate
    pdf = runtime.blob_store().get(certificate.sha256)

    data = embedded_data(pdf)
    assert data is not None
    assert data["format"] == "tra-certificate/1"
    assert data["number"] == certificate.number
    assert data["verification_code"] == group_code(certificate.verification_code)
    assert data["verify_url"].endswith(f"/v/{certificate.verification_code}")
    assert data["issuer"]["id"] == certificate.issuer == "dlt"
    assert data["issuer"]["name_th"] == "กรมการขนส่งทางบก"
    assert data["document_type"]["id"] == certificate.document_type
    assert data["holder"] == {"name_th": certificate.holder_name_th, "name_en": certificate.holder_name_en}
    assert data["expires_at"] == certificate.expires_at.isoformat()
    assert data["issued_at"][:19] == certificate.issued_at.isoformat()[:19]
    # The issuer's content, as printed: the licences listed on the page.
    assert data["content"]["licences"], data["content"]
    assert data["content"]["holder"]["pid"] == certificate.subject_pid
    # Not carried: the agency's internal record reference.
    assert "DLT-P-0001" not in json.dumps(data, ensure_ascii=False)

    root = PdfFileReader(io.BytesIO(pdf), strict=False).root
    assert len(root.raw_get("/AF")) == 1
    assert 'pdfaid:part="3"' in root["/Metadata"].data.decode("utf-8")
