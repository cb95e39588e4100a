"""The BOI issuer (certified statement of an investment promotion certificate) against its sample
registry on loopback.

Who may ask: an authorised representative the BOI lists for that company, a Thai citizen by
national ID or a foreign investor by passport; everyone else is refused with NotAuthorised. The
document is English first, Thai second, and says who asked, for which company, under what
authority, and when the register was checked.
"""

from __future__ import annotations

import json

import pytest

from issuers.boi import PROMOTION_CERTIFICATE, BoiIssuer
from issuers.boi.sample_registry import create_registry_app
from portal.issuing import Mandate, NotAuthorised, RecordNotFound, RegistryRejected, Requester
from tests.issuing.company_issuers import (
    ARUNEE,
    COMPANY_A,
    COMPANY_B,
    COMPANY_C,
    MALEE,
    SCHMIDT,
    SOMCHAI,
    UNKNOWN_COMPANY,
    WICHAI,
    YAMADA,
    build_issuer,
    company,
    page_count,
    render_html,
    render_pdf,
)
from tests.loopback import LoopbackServer

TYPE = PROMOTION_CERTIFICATE


@pytest.fixture(scope="module")
def boi_url():
    server = LoopbackServer(create_registry_app())
    yield server.url
    server.close()


@pytest.fixture
def boi(boi_url) -> BoiIssuer:
    return build_issuer(BoiIssuer, boi_url)


# --- who may ask ----------------------------------------------------------------------------------------


def test_a_foreign_representative_gets_the_record_by_passport(boi) -> None:
    record = boi.fetch_record(TYPE, company(COMPANY_A, YAMADA))
    assert record.reference == "BOI-P-2566-001234"
    assert record.holder_name_en == "Tra Test Company Limited"
    assert record.data["certificate_no"] == "1234(2)/2566"
    assert record.data["requester"]["role"] == "authorised_representative"
    assert record.data["requester"]["name_en"] == "Mr. Taro Yamada"


def test_a_thai_representative_gets_the_record(boi) -> None:
    record = boi.fetch_record(TYPE, company(COMPANY_A, SOMCHAI))
    assert record.data["requester"]["name_th"] == "นายสมชาย ใจดี"


def test_schmidt_represents_company_c(boi) -> None:
    record = boi.fetch_record(TYPE, company(COMPANY_C, SCHMIDT))
    assert record.holder_name_en == "Example Precision (Thailand) Co., Ltd."
    # No Thai name on record: the English one stands in on the Thai side.
    assert record.data["requester"]["name_th"] == "Ms. Anna Schmidt"


def test_named_people_are_the_representatives_by_national_id_or_passport(boi) -> None:
    record = boi.fetch_record(TYPE, company(COMPANY_A, YAMADA))
    assert record.named_people == (SOMCHAI.pid, YAMADA.identifier) == (SOMCHAI.pid, "JPN:TK1234567")
    assert boi.fetch_record(TYPE, company(COMPANY_C, SCHMIDT)).named_people == ("DEU:C01X00T47",)


@pytest.mark.parametrize(
    ("juristic_id", "requester"),
    [
        pytest.param(COMPANY_A, MALEE, id="staff"),
        pytest.param(COMPANY_A, ARUNEE, id="director-but-not-boi-representative"),
        pytest.param(COMPANY_C, SOMCHAI, id="representative-of-another-company"),
        pytest.param(COMPANY_A, SCHMIDT, id="foreign-representative-of-another-company"),
        pytest.param(
            COMPANY_C, Requester(passport_number="C01X00T47", nationality="AUT"), id="other-country"
        ),
        pytest.param(COMPANY_A, None, id="no-requester"),
    ],
)
def test_anyone_else_is_not_authorised(boi, juristic_id, requester) -> None:
    with pytest.raises(NotAuthorised) as refused:
        boi.fetch_record(TYPE, company(juristic_id, requester))
    for personal in ("3101200987652", "1101700123456", "Malee", "Somchai", "C01X00T47", "Schmidt"):
        assert personal not in str(refused.value)


@pytest.mark.parametrize("juristic_id", [UNKNOWN_COMPANY, COMPANY_B, "0105556012342", None])
def test_a_company_without_a_promotion_has_no_record(boi, juristic_id) -> None:
    """Company B is registered with the DBD but not promoted by the BOI."""
    with pytest.raises(RecordNotFound):
        boi.fetch_record(TYPE, company(juristic_id, WICHAI))


def test_another_companys_record_is_refused_before_the_requester_is_checked(boi_url) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{boi_url}/promotions/{COMPANY_C}") as answer:  # noqa: S310 - loopback
        body = json.load(answer)
    server = LoopbackServer(_fixed_json(body))
    try:
        with pytest.raises(RegistryRejected):
            build_issuer(BoiIssuer, server.url).fetch_record(TYPE, company(COMPANY_A, YAMADA))
    finally:
        server.close()


def _fixed_json(body):
    def app(environ, start_response):
        payload = json.dumps(body).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [payload]

    return app


# --- mandates -------------------------------------------------------------------------------------------


def _mandate(juristic_id: str, name_th: str, name_en: str) -> Mandate:
    return Mandate(juristic_id, name_th, name_en, "authorised_representative", "boi")


COMPANY_A_MANDATE = _mandate(COMPANY_A, "บริษัท ตราทดสอบ จำกัด", "Tra Test Company Limited")
COMPANY_C_MANDATE = _mandate(
    COMPANY_C, "บริษัท เอ็กแซมเปิล พรีซิชั่น (ประเทศไทย) จำกัด", "Example Precision (Thailand) Co., Ltd."
)


def test_boi_vouches_for_investor_mandates() -> None:
    assert BoiIssuer.provides_mandates == ("investor",)


@pytest.mark.parametrize(
    ("requester", "expected"),
    [
        pytest.param(YAMADA, (COMPANY_A_MANDATE,), id="yamada"),
        pytest.param(SCHMIDT, (COMPANY_C_MANDATE,), id="schmidt"),
        pytest.param(SOMCHAI, (COMPANY_A_MANDATE,), id="somchai"),
        pytest.param(MALEE, (), id="malee-none"),
        pytest.param(WICHAI, (), id="wichai-not-promoted"),
    ],
)
def test_mandates_for(boi, requester, expected) -> None:
    assert boi.mandates_for(requester) == expected


@pytest.mark.parametrize(
    "body",
    [{}, {"companies": {}}, {"companies": [{"juristic_id": COMPANY_A, "role": "authorised_representative"}]}],
)
def test_unusable_mandate_answers_are_refused(body) -> None:
    server = LoopbackServer(_fixed_json(body))
    try:
        with pytest.raises(RegistryRejected):
            build_issuer(BoiIssuer, server.url).mandates_for(YAMADA)
    finally:
        server.close()


# --- the document ---------------------------------------------------------------------------------------


def test_the_statement_is_english_first_and_states_the_authority(app, app_ctx, boi, frozen_now) -> None:
    record = boi.fetch_record(TYPE, company(COMPANY_A, YAMADA))
    html = render_html(app, boi, TYPE.id, record)
    heading = html[html.index('<h1 class="title">') :]
    assert heading.index(TYPE.title_en) < heading.index(TYPE.title_th)
    opening = html[html.index('class="opening"') :]
    assert opening.index("The Office of the Board of Investment certifies") < opening.index("ขอรับรองว่า")
    authority = html[html.index('class="authority"') :]
    assert "Mr. Taro Yamada" in authority and "นายทาโร่ ยามาดะ" in authority
    assert "Authorised representative" in authority and "ผู้รับมอบอำนาจ" in authority
    assert "Tra Test Company Limited" in authority and COMPANY_A in authority
    assert "Checked against the BOI registry on" in authority
    assert "1 June 2026 at 10:30 (Bangkok time)" in authority
    assert "1 มิถุนายน 2569 เวลา 10:30 น." in authority
    assert "1234(2)/2566" in html and "5.5.2" in html and "A2" in html
    for identifier in (YAMADA.passport_number, SOMCHAI.pid):
        assert identifier not in html


@pytest.mark.parametrize(
    ("juristic_id", "requester", "name"),
    [(COMPANY_A, YAMADA, "boi-company-a"), (COMPANY_C, SCHMIDT, "boi-company-c")],
)
def test_the_statement_fits_its_pages(app, app_ctx, boi, frozen_now, juristic_id, requester, name) -> None:
    record = boi.fetch_record(TYPE, company(juristic_id, requester))
    # Company A's long list of incentives pushes the signature block, kept together with the
    # visible signature's reserved area, onto a third page.
    assert page_count(render_pdf(app, boi, TYPE.id, record, name=name)) <= 3
