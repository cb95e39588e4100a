"""The issuing pipeline through the service layer, against the sample registry over HTTP."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.errors import NotFound
from portal.models import AccessEvent, AuditEvent, Certificate, RequestStatus
from portal.services import keys, runtime
from portal.services.issuance_requests import issue_for_subject
from portal.services.issuance_run import run_issuance


def test_issues_a_signed_certificate(issue, app_ctx):
    request = issue()
    assert request.status == RequestStatus.READY
    certificate = request.certificate
    assert certificate.number.startswith("ขบ ") and certificate.number.endswith("/2569")
    assert len(certificate.verification_code) == 20
    assert certificate.holder_name_en == "Mr. Somchai Jaidee"
    assert (certificate.expires_at - certificate.issued_at.date()).days in (89, 90, 91)
    pdf = runtime.blob_store().get(certificate.sha256)
    assert pdf.startswith(b"%PDF") and len(pdf) == certificate.size_bytes
    assert certificate.signer_key_id == keys.key_ring().get("dlt").key_id


def test_numbers_run_and_codes_are_unrelated(issue):
    first, second = issue().certificate, issue().certificate
    assert int(second.number.split()[1].split("/")[0]) == int(first.number.split()[1].split("/")[0]) + 1
    assert first.verification_code != second.verification_code
    assert first.number not in second.verification_code


def test_reading_the_record_is_logged_for_the_person(issue, db_session):
    request = issue()
    event = db_session.scalar(select(AccessEvent).where(AccessEvent.request_id == request.id))
    assert event.kind == "record_read" and event.agency == "dlt" and event.reference == "DLT-P-0001"
    assert event.subject_pid == "1101700123456"


def test_person_without_a_licence_gets_no_record(issue, db_session):
    request = issue(pid="5709900124574")
    assert request.status == RequestStatus.FAILED
    assert request.failure_code == "no_record"
    assert request.certificate is None


def test_registry_down_fails_plainly(app_ctx, issue, monkeypatch):
    dlt = runtime.issuers().get("dlt")
    # Nothing listens there. Settings are read-only: the issuer gets a changed copy.
    monkeypatch.setattr(dlt, "settings", dlt.settings.replace(registry_url="http://127.0.0.1:9"))
    request = issue()
    assert request.status == RequestStatus.FAILED
    assert request.failure_code == "registry_unavailable"


def test_running_the_job_twice_issues_once(issue, db_session, app_ctx):
    request = issue()
    run_issuance(request.id)
    count = db_session.scalar(
        select(func.count()).select_from(Certificate).where(Certificate.request_id == request.id)
    )
    assert count == 1


def test_unknown_document_type_is_not_found(app_ctx):
    with pytest.raises(NotFound):
        issue_for_subject(issuer_id="dlt", type_id="pilot-licence", pid="1101700123456")
    with pytest.raises(NotFound):
        issue_for_subject(issuer_id="nope", type_id="driving-licence", pid="1101700123456")


def test_issuing_is_audited(issue, db_session):
    request = issue()
    actions = db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.target.in_([request.id, request.certificate.id]))
    ).all()
    assert "request_document" in actions and "issue_certificate" in actions


def test_qr_on_an_issued_certificate_leads_to_its_verification_page(issue, app_ctx, tmp_path):
    import subprocess

    from flask import current_app

    certificate = issue().certificate
    pdf_path = tmp_path / "certificate.pdf"
    pdf_path.write_bytes(runtime.blob_store().get(certificate.sha256))
    subprocess.run(
        ["pdftoppm", "-png", "-r", "150", "-singlefile", str(pdf_path), str(tmp_path / "page")], check=True
    )
    decoded = subprocess.run(
        ["zbarimg", "-q", "--raw", str(tmp_path / "page.png")], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert decoded == f"{current_app.config['PUBLIC_BASE_URL']}/v/{certificate.verification_code}"
