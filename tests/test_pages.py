"""Pages a person walks through, and their bad inputs (in-process, CSRF off)."""

from __future__ import annotations

import re

import pytest

from portal.models import RequestStatus


def test_start_page_is_thai_first_with_a_language_switch(client):
    page = client.get("/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<html lang="th"' in text
    assert "หนังสือรับรองใบอนุญาตขับรถ" in text
    assert "/lang/en" in text


def test_english_switch_is_remembered(client):
    response = client.get("/lang/en?next=/")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="en"' in page
    assert "Driving Licence Certificate" in page


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_language_switch_is_no_open_redirect(client, target):
    response = client.get(f"/lang/en?next={target}")
    assert response.headers["Location"] == "/"


def test_document_page_names_the_records_read(client):
    page = client.get("/documents/dlt/driving-licence").get_data(as_text=True)
    assert "กรมการขนส่งทางบก" in page and "เลขประจำตัวประชาชน" in page


@pytest.mark.parametrize(
    "path",
    [
        "/documents/dlt/pilot-licence",
        "/documents/xyz/driving-licence",
        "/documents/dlt/pilot-licence/request",
    ],
)
def test_unknown_document_type_is_a_plain_404(client, login, path):
    login()
    response = client.get(path)
    assert response.status_code == 404
    assert "Traceback" not in response.get_data(as_text=True)


def test_requesting_needs_a_login(client):
    response = client.get("/documents/dlt/driving-licence/request")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")


def test_request_without_consent_is_refused_with_an_error_summary(client, login):
    login()
    response = client.post("/documents/dlt/driving-licence/request", data={})
    assert response.status_code == 400
    assert 'role="alert"' in response.get_data(as_text=True)


def test_request_issues_and_lists_the_document(client, login):
    login()
    response = client.post("/documents/dlt/driving-licence/request", data={"consent": "yes"})
    assert response.status_code == 302
    status_url = response.headers["Location"]
    assert client.get(status_url + "/status.json").json["status"] == RequestStatus.READY
    mine = client.get("/my/documents").get_data(as_text=True)
    pdf_url = re.search(r'href="(/my/documents/[0-9a-f]{32}\.pdf)"', mine).group(1)
    pdf = client.get(pdf_url)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_person_without_a_licence_sees_no_record(client, login, create_user):
    login(create_user(pid="5709900124574", name_th="นายวิชัย ศรีสุข", name_en="Mr. Wichai Srisuk"))
    response = client.post(
        "/documents/dlt/driving-licence/request", data={"consent": "yes"}, follow_redirects=True
    )
    assert response.status_code == 200
    assert 'data-failure="no_record"' in response.get_data(as_text=True)


def test_another_persons_request_and_document_are_forbidden(client, login, create_user):
    login()
    response = client.post("/documents/dlt/driving-licence/request", data={"consent": "yes"})
    status_url = response.headers["Location"]
    mine = client.get("/my/documents").get_data(as_text=True)
    pdf_url = re.search(r'href="(/my/documents/[0-9a-f]{32}\.pdf)"', mine).group(1)
    login(create_user(pid="3100500678905", name_th="นางสาวสมหญิง รักไทย", name_en="Ms. Somying Rakthai"))
    assert client.get(status_url).status_code == 403
    assert client.get(pdf_url).status_code == 403


@pytest.mark.parametrize(
    "path", ["/requests/" + "0" * 32, "/requests/" + "x" * 300, "/my/documents/nope.pdf"]
)
def test_missing_request_or_document_is_404(client, login, path):
    login()
    assert client.get(path).status_code == 404


def test_security_headers(client):
    response = client.get("/")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_health(client):
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
