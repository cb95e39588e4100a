"""Verification by code and by file: every bad input gets a plain answer, never a 500."""

from __future__ import annotations

import io

import pytest

from portal.models import CertificateStatus


def upload(client, data: bytes, url: str = "/api/v1/verify", name: str = "document.pdf"):
    return client.post(url, data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


class TestByCode:
    def test_valid_code_shows_facts_and_masks_the_holder(self, client, issued_pdf):
        certificate, _ = issued_pdf
        page = client.get(f"/v/{certificate.verification_code}")
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert certificate.sha256 in text
        assert "สมชาย ใจ." in text
        assert "ใจดี" not in text and "1101700123456" not in text

    def test_code_is_accepted_grouped_and_in_lower_case(self, client, issued_pdf):
        certificate, _ = issued_pdf
        grouped = "-".join(certificate.verification_code[i : i + 4] for i in range(0, 20, 4)).lower()
        response = client.get(f"/api/v1/verify/{grouped}")
        assert response.status_code == 200
        assert response.json["code"] == certificate.verification_code

    def test_json_has_the_contract_fields(self, client, issued_pdf):
        certificate, _ = issued_pdf
        body = client.get(f"/api/v1/verify/{certificate.verification_code}").json
        for field in (
            "code",
            "status",
            "document_type",
            "issuer",
            "issued_at",
            "expires_at",
            "sha256",
            "holder",
        ):
            assert field in body
        assert body["status"] == "valid"
        assert body["holder"] == {"th": "นายสมชาย ใจ.", "en": "Mr. Somchai J."}

    @pytest.mark.parametrize("code", ["ABCDEFGHJKMNPQRSTVWX", "0" * 20])
    def test_unknown_code_is_a_plain_404(self, client, code):
        page = client.get(f"/v/{code}")
        assert page.status_code == 404
        assert "Traceback" not in page.get_data(as_text=True)
        api = client.get(f"/api/v1/verify/{code}")
        assert api.status_code == 404
        assert api.content_type == "application/problem+json"
        assert api.json["status"] == 404 and api.json["title"]

    @pytest.mark.parametrize(
        "code", ["short", "x" * 200, "UUUUUUUUUUUUUUUUUUUU", "<script>", "%00", "ก" * 20]
    )
    def test_malformed_code_is_a_plain_404(self, client, code):
        page = client.get(f"/v/{code}")
        assert page.status_code == 404
        assert "<script>" not in page.get_data(as_text=True)
        assert client.get(f"/api/v1/verify/{code}").status_code == 404

    def test_code_form_redirects_to_the_code_page(self, client, issued_pdf):
        certificate, _ = issued_pdf
        response = client.get(f"/v?code= {certificate.verification_code.lower()} ")
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"/v/{certificate.verification_code}")

    def test_revoked_and_expired_records_say_so(self, client, issued_pdf, db_session, monkeypatch):
        certificate, _ = issued_pdf
        certificate.status = CertificateStatus.REVOKED.value
        db_session.flush()
        assert client.get(f"/api/v1/verify/{certificate.verification_code}").json["status"] == "revoked"
        certificate.status = CertificateStatus.VALID.value
        db_session.flush()
        from datetime import timedelta

        from portal import clock

        later = clock.now() + timedelta(days=400)
        monkeypatch.setattr(clock, "now", lambda: later)
        assert client.get(f"/api/v1/verify/{certificate.verification_code}").json["status"] == "expired"

    def test_verifying_leaves_a_trail_for_the_holder(self, client, issued_pdf, db_session):
        from sqlalchemy import select

        from portal.models import AccessEvent

        certificate, _ = issued_pdf
        client.get(f"/v/{certificate.verification_code}")
        kinds = db_session.scalars(
            select(AccessEvent.kind).where(AccessEvent.subject_pid == certificate.subject_pid)
        ).all()
        assert "record_read" in kinds and "document_verified" in kinds


class TestByFile:
    def test_genuine_file(self, client, issued_pdf):
        certificate, pdf = issued_pdf
        body = upload(client, pdf).json
        assert body["verdict"] == "genuine"
        assert body["status"] == "valid"
        assert body["document"]["code"] == certificate.verification_code
        assert body["signature"]["indication"] == "TOTAL-PASSED"
        assert "Department of Land Transport" in body["signature"]["signer"]
        assert body["signature"]["coverage"] == "entire_file"

    def test_genuine_file_of_a_revoked_document(self, client, issued_pdf, db_session):
        certificate, pdf = issued_pdf
        certificate.status = CertificateStatus.REVOKED.value
        db_session.flush()
        body = upload(client, pdf).json
        assert body["verdict"] == "genuine" and body["status"] == "revoked"

    def test_one_byte_changed_inside_is_altered(self, client, issued_pdf):
        _, pdf = issued_pdf
        changed = bytearray(pdf)
        changed[len(pdf) // 3] ^= 0x20
        assert upload(client, bytes(changed)).json["verdict"] == "altered"

    def test_bytes_appended_after_the_signature_is_altered(self, client, issued_pdf):
        _, pdf = issued_pdf
        body = upload(client, pdf + b"\n% appended\n").json
        assert body["verdict"] == "altered"
        assert body["status"] is None

    def test_signed_by_a_key_outside_our_roots(self, client, tmp_path):
        from weasyprint import HTML

        from portal.signing import ensure_dev_pki, load_file_identity, sign_pdf

        # Same names as ours, other keys: a look-alike that must not pass.
        foreign = ensure_dev_pki(tmp_path / "foreign", {"dlt": "Department of Land Transport"})
        key_path, cert_path = foreign.agency_paths["dlt"]
        identity = load_file_identity("dlt", key_path, cert_path, [foreign.root_cert_path])
        pdf = sign_pdf(HTML(string="<p>หนังสือรับรอง</p>").write_pdf(), identity)
        body = upload(client, pdf).json
        assert body["verdict"] == "untrusted_signature"
        assert body["document"] is None

    def test_signed_with_our_key_but_never_issued_is_unknown(self, app, client):
        from weasyprint import HTML

        from portal.services import keys
        from portal.signing import sign_pdf

        with app.app_context():
            identity = keys.key_ring().get("dlt")
        pdf = sign_pdf(HTML(string="<p>ไม่เคยออกโดยระบบ never issued</p>").write_pdf(), identity)
        body = upload(client, pdf).json
        assert body["verdict"] == "unknown_document"
        assert body["document"] is None and body["signature"]["indication"] == "TOTAL-PASSED"

    def test_not_signed(self, client):
        from weasyprint import HTML

        pdf = HTML(string="<p>ไม่ได้ลงนาม unsigned</p>").write_pdf()
        assert upload(client, pdf).json["verdict"] == "not_signed"

    @pytest.mark.parametrize(
        "data", [b"hello, this is text", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, b"%PDF-1.7\n"]
    )
    def test_not_a_pdf(self, client, data):
        response = upload(client, data)
        assert response.status_code == 200
        assert response.json["verdict"] == "not_a_pdf"

    def test_truncated_pdf(self, client, issued_pdf):
        _, pdf = issued_pdf
        verdict = upload(client, pdf[: len(pdf) // 2]).json["verdict"]
        assert verdict in ("not_a_pdf", "altered")

    def test_empty_file_is_a_400(self, client):
        response = upload(client, b"")
        assert response.status_code == 400
        assert response.json["title"] == "The file is empty"
        page = upload(client, b"", url="/v")
        assert page.status_code == 400

    def test_missing_file_is_a_400(self, client):
        assert client.post("/api/v1/verify", data={}).status_code == 400
        assert client.post("/v", data={}).status_code == 400

    def test_oversized_upload_is_a_413(self, client):
        big = b"%PDF-1.7\n" + b"0" * (10 * 1024 * 1024 + 10)
        response = upload(client, big)
        assert response.status_code == 413
        assert response.json["status"] == 413
        page = upload(client, big, url="/v")
        assert page.status_code == 413
        assert "10 MB" in page.get_data(as_text=True)

    def test_page_shows_the_verdict(self, client, issued_pdf):
        _, pdf = issued_pdf
        page = upload(client, pdf, url="/v")
        assert page.status_code == 200
        assert 'data-verdict="genuine"' in page.get_data(as_text=True)


def test_api_problems_follow_accept_language(client):
    english = client.get("/api/v1/verify/" + "0" * 20)
    assert english.json["title"] == "No document with this code"
    thai = client.get("/api/v1/verify/" + "0" * 20, headers={"Accept-Language": "th"})
    assert thai.json["title"] != english.json["title"]
