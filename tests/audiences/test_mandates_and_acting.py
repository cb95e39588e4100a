"""Mandates asked of the real sample registries at login, "acting for", the header and the
catalogue in each acting context."""

from __future__ import annotations

from portal.models import UserSession
from tests.audiences.people import (
    COMPANY_A,
    COMPANY_A_EN,
    COMPANY_A_TH,
    COMPANY_B,
    MALEE,
    SOMCHAI,
    SOMYING,
    YAMADA,
    audit_events,
    log_in,
    login_session,
)


def _act_for(client, target: str, **extra):
    return client.post("/acting-for", data={"acting_for": target, **extra})


def test_a_director_gets_the_company_from_the_dbd_and_the_boi_at_login(app, client, db_session):
    user = log_in(app, client, SOMCHAI)
    row = login_session(db_session, user)
    assert {(m["juristic_id"], m["role"], m["source"]) for m in row.mandates} == {
        (COMPANY_A, "director", "dbd"),
        (COMPANY_A, "authorised_representative", "boi"),
    }
    assert row.mandates_checked_at is not None and row.mandates_unavailable == []
    assert row.acting_for is None  # a citizen starts acting for themself
    assert audit_events(db_session, "mandates.checked", user.id)[0].detail["companies"] == [COMPANY_A]


def test_a_foreign_director_is_asked_by_passport_at_the_dbd_and_the_boi_and_acts_for_the_company(
    app, client, db_session
):
    user = log_in(app, client, YAMADA)
    row = login_session(db_session, user)
    assert user.pid is None and row.audience == "investor"
    assert {(m["juristic_id"], m["role"], m["source"]) for m in row.mandates} == {
        (COMPANY_A, "director", "dbd"),
        (COMPANY_A, "authorised_representative", "boi"),
    }
    assert row.mandates_unavailable == []
    assert row.acting_for == COMPANY_A
    catalogue = client.get("/?lang=en").get_data(as_text=True)
    assert (
        "/documents/dbd/company-affidavit" in catalogue
        and "/documents/boi/promotion-certificate" in catalogue
    )


def test_a_foreign_investor_still_acts_for_the_company_while_the_dbd_is_down(
    app, client, db_session, registries
):
    registries["dbd"].down = True
    user = log_in(app, client, YAMADA)
    row = login_session(db_session, user)
    assert [(m["juristic_id"], m["source"]) for m in row.mandates] == [(COMPANY_A, "boi")]
    assert row.mandates_unavailable == ["dbd"]
    assert row.acting_for == COMPANY_A
    catalogue = client.get("/?lang=en").get_data(as_text=True)
    assert "/documents/boi/promotion-certificate" in catalogue
    assert "/documents/dbd/company-affidavit" not in catalogue


def test_staff_without_a_mandate_get_no_company(app, client, db_session):
    user = log_in(app, client, MALEE)
    assert login_session(db_session, user).mandates == []
    page = client.get("/acting-for?lang=en").get_data(as_text=True)
    assert "you can act only for yourself" in page


def test_switching_to_a_company_shows_it_in_every_header_and_one_click_switches_back(app, client, db_session):
    user = log_in(app, client, SOMCHAI)
    home = client.get("/?lang=en").get_data(as_text=True)
    assert "Mr. Somchai Jaidee" in home and "acting for" not in home
    assert "Change who I act for" in home

    response = _act_for(client, COMPANY_A, next="/my/documents")
    assert response.status_code == 302 and response.headers["Location"] == "/my/documents"
    assert login_session(db_session, user).acting_for == COMPANY_A
    for path in ("/?lang=en", "/my/documents?lang=en", "/me/reads?lang=en", "/verify?lang=en"):
        page = client.get(path).get_data(as_text=True)
        assert f"Mr. Somchai Jaidee — acting for {COMPANY_A_EN}" in page, path
    thai = client.get("/?lang=th").get_data(as_text=True)
    header = thai.split("<main")[0]
    assert "นายสมชาย ใจดี —" in header and COMPANY_A_TH in header  # names in Thai on a Thai page
    events = audit_events(db_session, "acting_for.switch", user.id)
    assert [e.target for e in events] == [COMPANY_A]

    # The header's one button takes them back.
    assert 'name="acting_for" value="myself"' in client.get("/?lang=en").get_data(as_text=True)
    assert _act_for(client, "myself").status_code == 302
    assert login_session(db_session, user).acting_for is None
    assert "acting for" not in client.get("/?lang=en").get_data(as_text=True)


def test_acting_for_a_company_without_a_mandate_is_refused_and_logged(app, client, db_session):
    user = log_in(app, client, SOMCHAI)
    response = _act_for(client, COMPANY_B)
    assert response.status_code == 403
    # The page is in Thai (no language chosen): "not listed as someone who may act for this company".
    assert "ท่านไม่ได้รับการระบุว่ามีสิทธิ์ทำการแทนบริษัทนี้" in response.get_data(as_text=True)
    assert login_session(db_session, user).acting_for is None
    refused = audit_events(db_session, "request.refused", user.id)
    assert [(e.detail["reason"], e.target) for e in refused] == [("no_mandate", COMPANY_B)]


def test_a_passport_holder_cannot_act_for_themself(app, client, db_session):
    user = log_in(app, client, YAMADA)
    assert _act_for(client, "myself").status_code == 403
    assert login_session(db_session, user).acting_for == COMPANY_A
    assert audit_events(db_session, "request.refused", user.id)[0].detail["reason"] == "no_national_id"


def _offered(client) -> str:
    return client.get("/?lang=en").get_data(as_text=True)


def test_the_catalogue_follows_the_acting_context(app, client, db_session):
    log_in(app, client, SOMCHAI)
    mine = _offered(client)
    assert "/documents/dlt/driving-licence" in mine and "/documents/dopa/house-registration" in mine
    assert (
        "/documents/dbd/company-affidavit" not in mine and "/documents/boi/promotion-certificate" not in mine
    )

    _act_for(client, COMPANY_A)
    company = _offered(client)
    assert f"Documents you can request for {COMPANY_A_EN}" in company
    assert "/documents/dbd/company-affidavit" in company
    assert "/documents/boi/promotion-certificate" in company  # his mandate from the BOI
    assert "/documents/dlt/driving-licence" not in company
    my_documents = client.get("/my/documents?lang=en").get_data(as_text=True)
    assert "/documents/dbd/company-affidavit" in my_documents
    assert "/documents/dlt/driving-licence" not in my_documents


def test_a_passport_holder_is_offered_what_the_registries_vouch_for_and_nothing_personal(app, client):
    # Schmidt is only a BOI representative of Company C: its BOI documents, nothing of the DBD's.
    schmidt = {
        "sub": "dev-schmidt",
        "passport_number": "C01X00T47",
        "nationality": "DEU",
        "name": "Ms. Anna Schmidt",
        "name_en": "Ms. Anna Schmidt",
    }
    log_in(app, client, schmidt)
    page = _offered(client)
    assert "/documents/boi/promotion-certificate" in page
    assert "/documents/dbd/company-affidavit" not in page
    assert "/documents/dlt/driving-licence" not in page
    # Yamada is also a DBD director of Company A: its business documents as well.
    log_in(app, client, YAMADA)
    page = _offered(client)
    assert "/documents/boi/promotion-certificate" in page and "/documents/dbd/company-affidavit" in page
    assert "/documents/dlt/driving-licence" not in page


def test_a_passport_holder_without_companies_is_told_why_nothing_is_offered(app, client, db_session):
    user = log_in(
        app, client, {**YAMADA, "sub": "dev-nobody", "passport_number": "X1234567", "name_en": "Mr. X"}
    )
    assert login_session(db_session, user).mandates == []
    page = _offered(client)
    assert "documents about a person need a Thai national ID number" in page
    assert "doc-list__item" not in page  # no document is offered


def test_a_registry_down_at_login_still_logs_in_and_says_so(app, client, db_session, registries):
    registries["dbd"].down = True
    user = log_in(app, client, SOMCHAI)
    row: UserSession = login_session(db_session, user)
    assert row.ended_at is None and row.mandates_unavailable == ["dbd"]
    assert [(m["juristic_id"], m["source"]) for m in row.mandates] == [(COMPANY_A, "boi")]
    page = client.get("/?lang=en").get_data(as_text=True)
    assert "We could not check your companies with the Department of Business Development just now" in page
    thai = client.get("/?lang=th").get_data(as_text=True)
    assert "กรมพัฒนาธุรกิจการค้า" in thai and "data-mandates-unavailable" in thai


def test_citizen_without_company_sees_no_acting_switch(app, client):
    log_in(app, client, SOMYING)
    page = client.get("/?lang=en").get_data(as_text=True)
    assert "Change who I act for" not in page and "acting for" not in page


def test_a_document_page_outside_the_context_explains_instead_of_offering_the_button(app, client):
    log_in(app, client, SOMCHAI)
    page = client.get("/documents/dbd/company-affidavit?lang=en").get_data(as_text=True)
    assert "data-not-in-context" in page and "/documents/dbd/company-affidavit/request" not in page
    _act_for(client, COMPANY_A)
    page = client.get("/documents/dbd/company-affidavit?lang=en").get_data(as_text=True)
    assert "data-not-in-context" not in page and "/documents/dbd/company-affidavit/request" in page
