"""Requesting a company's document through the real pipeline (inline, no Redis): the mandate is
asked again at request time, refusals are 403 pages and audit events, an unreachable registry is
a 503 with nothing written, and the directors named in the record see the read."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.models import Certificate, DocumentRequest
from portal.rendering.pdf import embedded_data
from portal.services import runtime
from tests.audiences.people import (
    ARUNEE,
    COMPANY_A,
    COMPANY_A_EN,
    COMPANY_A_TH,
    MALEE,
    SOMCHAI,
    SOMYING,
    YAMADA,
    audit_events,
    log_in,
)

AFFIDAVIT = "/documents/dbd/company-affidavit/request"
PROMOTION = "/documents/boi/promotion-certificate/request"


def _request(client, path: str):
    return client.post(path, data={"consent": "yes"})


def _count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(DocumentRequest))


def _issued(app, db_session, response) -> DocumentRequest:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    request_id = response.headers["Location"].rsplit("/", 1)[1]
    doc_request = db_session.get(DocumentRequest, request_id)
    db_session.refresh(doc_request)
    assert doc_request.status == "ready", (doc_request.failure_code, doc_request.failure_reason)
    return doc_request


def _pdf_data(app, certificate: Certificate) -> dict:
    with app.app_context():
        return embedded_data(runtime.blob_store().get(certificate.sha256))


def test_a_director_acting_for_the_company_gets_its_affidavit(app, client, db_session):
    user = log_in(app, client, SOMCHAI)
    client.post("/acting-for", data={"acting_for": COMPANY_A})
    consent = client.get("/documents/dbd/company-affidavit/request?lang=en").get_data(as_text=True)
    assert COMPANY_A_EN in consent and COMPANY_A in consent and "Director (DBD)" in consent

    doc_request = _issued(app, db_session, _request(client, AFFIDAVIT))
    assert (doc_request.subject_kind, doc_request.subject_id, doc_request.subject_pid) == (
        "company",
        COMPANY_A,
        None,
    )
    assert (doc_request.acting_for_name_th, doc_request.acting_for_name_en) == (COMPANY_A_TH, COMPANY_A_EN)
    assert doc_request.user_id == user.id
    assert {k: doc_request.mandate[k] for k in ("juristic_id", "role", "source")} == {
        "juristic_id": COMPANY_A,
        "role": "director",
        "source": "dbd",
    }
    assert doc_request.mandate["checked_at"]
    consent_record = doc_request.consent
    assert consent_record["agency"] == "dbd" and consent_record["subject_kind"] == "company"
    assert (
        consent_record["juristic_id"] == COMPANY_A
        and consent_record["version"]
        and consent_record["agreed_at"]
    )
    assert consent_record["fields_en"] and consent_record["purpose_en"] and consent_record["language"] == "th"

    certificate = doc_request.certificate
    assert certificate.holder_kind == "company" and certificate.subject_pid is None
    assert (certificate.holder_name_th, certificate.holder_name_en) == (COMPANY_A_TH, COMPANY_A_EN)
    content = _pdf_data(app, certificate)["content"]
    assert (
        content["requester"]["name_en"] == "Mr. Somchai Jaidee" and content["requester"]["role"] == "director"
    )

    # The public page shows a company's name in full (a person's would be masked).
    verify = client.get(f"/v/{certificate.verification_code}?lang=en").get_data(as_text=True)
    assert COMPANY_A_EN in verify
    assert "shortened to protect their privacy" not in verify  # nothing was shortened
    # And the person finds it in My documents, marked with the company.
    mine = client.get("/my/documents?lang=en").get_data(as_text=True)
    assert f"For {COMPANY_A_EN}" in mine and doc_request.reference in mine


def test_an_investor_gets_the_boi_certificate_of_their_company(app, client, db_session):
    log_in(app, client, YAMADA)  # acts for Company A from login: no national ID
    doc_request = _issued(app, db_session, _request(client, PROMOTION))
    assert (
        doc_request.mandate["source"] == "boi" and doc_request.mandate["role"] == "authorised_representative"
    )
    content = _pdf_data(app, doc_request.certificate)["content"]
    assert content["requester"]["name_en"] == "Mr. Taro Yamada"

    # The read is kept under his passport: he sees it as his own request...
    mine = client.get("/me/reads?lang=en").get_data(as_text=True)
    assert "Office of the Board of Investment" in mine and "You requested this document" in mine
    assert doc_request.reference in mine
    # ...and Somchai, the company's other BOI representative, as a representative's.
    log_in(app, client, SOMCHAI)
    theirs = client.get("/me/reads?lang=en").get_data(as_text=True)
    assert "Office of the Board of Investment" in theirs
    assert f"Requested by a representative of {COMPANY_A_TH} ({COMPANY_A_EN})" in theirs
    assert "Yamada" not in theirs.split("<main")[1]


def test_staff_without_a_mandate_get_a_403_page_and_the_attempt_is_logged(app, client, db_session):
    user = log_in(app, client, MALEE)
    before = _count(db_session)
    for response in (client.get(AFFIDAVIT + "?lang=en"), _request(client, AFFIDAVIT + "?lang=en")):
        assert response.status_code == 403
        text = response.get_data(as_text=True)
        assert "You cannot request this document" in text and "director or authorised representative" in text
        assert "3101200987652" not in text
    assert _count(db_session) == before
    refused = audit_events(db_session, "request.refused", user.id)
    assert len(refused) == 2
    assert refused[0].detail == {
        "reason": "outside_acting_context",
        "issuer": "dbd",
        "document_type": "company-affidavit",
        "acting_for": "myself",
    }


def test_a_citizen_document_is_refused_while_acting_for_a_company(app, client, db_session):
    user = log_in(app, client, SOMCHAI)
    client.post("/acting-for", data={"acting_for": COMPANY_A})
    response = client.get("/documents/dlt/driving-licence/request?lang=en")
    assert response.status_code == 403
    assert "Switch to acting for yourself" in response.get_data(as_text=True)
    assert audit_events(db_session, "request.refused", user.id)[0].detail["acting_for"] == COMPANY_A


def test_a_company_the_session_holds_no_mandate_for_cannot_be_requested_for(app, client, db_session):
    """Somchai for Company B: even a session row tampered to act for B gives no B documents."""
    user = log_in(app, client, SOMCHAI)
    user.login_session.acting_for = "0105560098760"
    db_session.commit()
    response = _request(client, AFFIDAVIT)
    assert response.status_code == 403
    assert not db_session.scalars(
        select(DocumentRequest).where(DocumentRequest.subject_id == "0105560098760")
    ).first()
    assert audit_events(db_session, "request.refused", user.id)


def test_a_mandate_withdrawn_since_login_is_refused_at_request_time(app, client, db_session, registries):
    user = log_in(app, client, SOMCHAI)
    client.post("/acting-for", data={"acting_for": COMPANY_A})
    registries["dbd"].answers[f"/people/{SOMCHAI['pid']}/mandates"] = {"mandates": []}
    before = _count(db_session)
    response = _request(client, AFFIDAVIT + "?lang=en")
    assert response.status_code == 403
    assert "no longer lists you" in response.get_data(as_text=True)
    assert _count(db_session) == before
    refused = audit_events(db_session, "request.refused", user.id)
    assert [e.detail["reason"] for e in refused] == ["mandate_withdrawn"]
    assert refused[0].detail["juristic_id"] == COMPANY_A
    # The session forgets the DBD's mandate: the affidavit is no longer offered. He still acts for
    # the company through its BOI mandate, so the BOI certificate still is.
    assert [m["source"] for m in user.login_session.mandates] == ["boi"]
    home = client.get("/?lang=en").get_data(as_text=True)
    assert "/documents/dbd/company-affidavit" not in home and "/documents/boi/promotion-certificate" in home


def test_a_registry_down_at_request_time_gives_a_503_and_writes_nothing(app, client, db_session, registries):
    user = log_in(app, client, SOMCHAI)
    client.post("/acting-for", data={"acting_for": COMPANY_A})
    registries["dbd"].down = True
    before_requests = _count(db_session)
    before_audit = len(audit_events(db_session, "request_document")) + len(
        audit_events(db_session, "request.refused")
    )
    response = _request(client, AFFIDAVIT + "?lang=en")
    assert response.status_code == 503
    text = response.get_data(as_text=True)
    assert "We cannot check your authority right now" in text and "nothing was requested" in text
    assert _count(db_session) == before_requests
    after_audit = len(audit_events(db_session, "request_document")) + len(
        audit_events(db_session, "request.refused")
    )
    assert after_audit == before_audit
    assert user.login_session.acting_for == COMPANY_A


def test_the_registry_refusing_at_issue_time_fails_the_request_without_try_again(
    app, client, db_session, registries
):
    """The mandate registry still says yes, but the company record no longer lists him."""
    from issuers.dbd.sample_registry import create_registry_app

    record = create_registry_app().test_client().get(f"/companies/{COMPANY_A}").get_json()
    record["directors"] = [d for d in record["directors"] if d.get("pid") != SOMCHAI["pid"]]
    registries["dbd"].answers[f"/companies/{COMPANY_A}"] = record
    log_in(app, client, SOMCHAI)
    client.post("/acting-for", data={"acting_for": COMPANY_A})
    response = _request(client, AFFIDAVIT)
    request_id = response.headers["Location"].rsplit("/", 1)[1]
    doc_request = db_session.get(DocumentRequest, request_id)
    db_session.refresh(doc_request)
    assert (doc_request.status, doc_request.failure_code) == ("failed", "not_authorised")
    assert not doc_request.can_retry
    page = client.get(f"/requests/{request_id}?lang=en").get_data(as_text=True)
    assert "does not list you as someone who may request this document" in page
    assert "Try again" not in page


@pytest.fixture
def affidavit_by_somchai(app, client, db_session) -> DocumentRequest:
    log_in(app, client, SOMCHAI)
    client.post("/acting-for", data={"acting_for": COMPANY_A})
    doc_request = _issued(app, db_session, _request(client, AFFIDAVIT))
    with client.session_transaction() as session:
        session.clear()
    return doc_request


def test_another_persons_request_or_document_by_url_is_403_and_logged(
    app, client, db_session, affidavit_by_somchai
):
    other = log_in(app, client, ARUNEE)  # a director of the same company, but not the requester
    certificate = affidavit_by_somchai.certificate
    for path in (
        f"/requests/{affidavit_by_somchai.id}",
        f"/requests/{affidavit_by_somchai.id}/status.json",
        f"/my/documents/{certificate.id}.pdf",
    ):
        response = client.get(path + "?lang=en")
        assert response.status_code == 403, path
        assert "belongs to someone else" in response.get_data(as_text=True)
    refused = audit_events(db_session, "access.refused", other.id)
    assert sorted((e.detail["kind"], e.target) for e in refused) == sorted(
        [
            ("request", affidavit_by_somchai.id),
            ("request", affidavit_by_somchai.id),
            ("certificate", certificate.id),
        ]
    )


def test_directors_named_in_the_record_see_the_read_in_who_read_my_data(
    app, client, db_session, affidavit_by_somchai
):
    log_in(app, client, ARUNEE)
    page = client.get("/me/reads?lang=en").get_data(as_text=True)
    assert "Department of Business Development" in page
    assert f"Requested by a representative of {COMPANY_A_TH} ({COMPANY_A_EN})" in page
    assert "Somchai" not in page.split("<main")[1]  # who asked is not said

    # The requester sees his own read as his own request.
    log_in(app, client, SOMCHAI)
    mine = client.get("/me/reads?lang=en").get_data(as_text=True)
    assert "Department of Business Development" in mine

    # A director without a Thai ID sees it too, kept under his passport.
    log_in(app, client, YAMADA)
    page = client.get("/me/reads?lang=en").get_data(as_text=True)
    assert "Department of Business Development" in page
    assert f"Requested by a representative of {COMPANY_A_TH} ({COMPANY_A_EN})" in page

    # Someone not named in the record sees nothing of it.
    log_in(app, client, SOMYING)
    assert "Department of Business Development" not in client.get("/me/reads?lang=en").get_data(as_text=True)
