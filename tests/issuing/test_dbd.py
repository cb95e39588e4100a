"""The DBD issuer (company registration affidavit) against its sample registry on loopback.

Who may ask: a person the DBD record lists as director or authorised representative of that
company, a Thai citizen by national ID or a foreigner by passport; everyone else is refused with
NotAuthorised, a plain message naming nobody. The document says who asked, for which company,
under what authority, and when the register was checked.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from issuers.dbd import COMPANY_AFFIDAVIT, DbdIssuer
from issuers.dbd.sample_registry import RECORDS_FILE, create_registry_app
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

TYPE = COMPANY_AFFIDAVIT


@pytest.fixture(scope="module")
def dbd_url():
    server = LoopbackServer(create_registry_app())
    yield server.url
    server.close()


@pytest.fixture
def dbd(dbd_url) -> DbdIssuer:
    return build_issuer(DbdIssuer, dbd_url)


# --- who may ask ----------------------------------------------------------------------------------------


def test_a_director_gets_the_companys_record(dbd) -> None:
    record = dbd.fetch_record(TYPE, company(COMPANY_A, SOMCHAI))
    assert record.reference == "DBD-C-0105556012341"
    assert (record.holder_name_th, record.holder_name_en) == (
        "บริษัท ตราทดสอบ จำกัด",
        "Tra Test Company Limited",
    )
    assert record.data["juristic_id"] == COMPANY_A
    assert record.data["registered_capital_baht"] == 5_000_000
    assert record.data["requester"]["role"] == "director"
    assert record.data["requester"]["name_en"] == "Mr. Somchai Jaidee"
    assert [d["name_en"] for d in record.data["directors"]] == [
        "Mr. Somchai Jaidee",
        "Mrs. Arunee Kaewmanee",
        "Mr. Taro Yamada",
    ]


def test_named_people_are_the_directors_by_national_id_or_passport(dbd) -> None:
    record = dbd.fetch_record(TYPE, company(COMPANY_A, ARUNEE))
    assert record.named_people == (SOMCHAI.pid, ARUNEE.pid, "JPN:TK1234567")
    assert dbd.fetch_record(TYPE, company(COMPANY_B, WICHAI)).named_people == (WICHAI.pid,)
    other = dbd.fetch_record(TYPE, company(COMPANY_C, Requester(pid="3101500445561")))
    assert other.named_people == ("3101500445561", "1103700233440")


def test_a_director_who_may_not_sign_alone_may_still_ask(dbd) -> None:
    assert dbd.fetch_record(TYPE, company(COMPANY_A, ARUNEE)).data["requester"]["role"] == "director"


def test_a_foreign_director_asks_by_passport(dbd) -> None:
    record = dbd.fetch_record(TYPE, company(COMPANY_A, YAMADA))
    assert record.data["requester"] == {
        "name_th": "นายทาโร่ ยามาดะ",
        "name_en": "Mr. Taro Yamada",
        "role": "director",
        "role_th": "กรรมการ",
        "role_en": "Director",
    }
    lower_case = Requester(passport_number="tk1234567", nationality="jpn")
    assert dbd.fetch_record(TYPE, company(COMPANY_A, lower_case)).data["requester"]["role"] == "director"


@pytest.mark.parametrize(
    ("juristic_id", "requester"),
    [
        pytest.param(COMPANY_A, MALEE, id="staff-not-director"),
        pytest.param(COMPANY_B, SOMCHAI, id="director-of-another-company"),
        pytest.param(COMPANY_C, SCHMIDT, id="boi-representative-only"),
        pytest.param(
            COMPANY_A,
            Requester(passport_number="TK1234567", nationality="CHN"),
            id="same-passport-other-country",
        ),
        pytest.param(COMPANY_A, Requester(name_en="Nobody"), id="no-identifier"),
        pytest.param(COMPANY_A, None, id="no-requester"),
    ],
)
def test_anyone_else_is_not_authorised(dbd, juristic_id, requester) -> None:
    with pytest.raises(NotAuthorised) as refused:
        dbd.fetch_record(TYPE, company(juristic_id, requester))
    message = str(refused.value)
    assert "director or authorised representative" in message
    for personal in ("1101700123456", "3101200987652", "Malee", "Somchai", "TK1234567", "Schmidt"):
        assert personal not in message  # the refusal is logged: it names nobody


def test_an_unknown_company_has_no_record(dbd) -> None:
    with pytest.raises(RecordNotFound):
        dbd.fetch_record(TYPE, company(UNKNOWN_COMPANY, SOMCHAI))


@pytest.mark.parametrize("juristic_id", ["0105556012342", "12345", "", None])
def test_a_malformed_juristic_id_has_no_record(dbd, juristic_id) -> None:
    with pytest.raises(RecordNotFound):
        dbd.fetch_record(TYPE, company(juristic_id, SOMCHAI))


def test_another_companys_record_is_refused_before_the_requester_is_checked(dbd_url) -> None:
    """The registry answering B's record when asked for A: the registry's fault (RegistryRejected),
    not a reason to tell Somchai he may not ask."""
    server = LoopbackServer(_fixed_json(_sample_answer(dbd_url, f"/companies/{COMPANY_B}")))
    try:
        with pytest.raises(RegistryRejected):
            build_issuer(DbdIssuer, server.url).fetch_record(TYPE, company(COMPANY_A, SOMCHAI))
    finally:
        server.close()


def _sample_answer(dbd_url: str, path: str):
    with urllib.request.urlopen(dbd_url + path) as answer:  # noqa: S310 - loopback
        return json.load(answer)


def _fixed_json(body):
    def app(environ, start_response):
        payload = json.dumps(body).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [payload]

    return app


def test_an_authorised_representative_listed_by_the_dbd_may_ask(tmp_path) -> None:
    records = json.loads(RECORDS_FILE.read_text(encoding="utf-8"))
    records[COMPANY_A]["authorised_representatives"] = [
        {"pid": MALEE.pid, "name_th": MALEE.name_th, "name_en": MALEE.name_en}
    ]
    path = tmp_path / "records.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    server = LoopbackServer(create_registry_app(records_file=path))
    try:
        issuer = build_issuer(DbdIssuer, server.url)
        record = issuer.fetch_record(TYPE, company(COMPANY_A, MALEE))
        assert record.data["requester"]["role"] == "authorised_representative"
        assert record.data["requester"]["role_en"] == "Authorised representative"
        assert MALEE.pid in record.named_people
        assert issuer.mandates_for(MALEE) == (
            Mandate(
                COMPANY_A,
                "บริษัท ตราทดสอบ จำกัด",
                "Tra Test Company Limited",
                "authorised_representative",
                "dbd",
            ),
        )
    finally:
        server.close()


# --- mandates -------------------------------------------------------------------------------------------


def _mandate(juristic_id: str, name_th: str, name_en: str) -> Mandate:
    return Mandate(juristic_id, name_th, name_en, "director", "dbd")


COMPANY_A_MANDATE = _mandate(COMPANY_A, "บริษัท ตราทดสอบ จำกัด", "Tra Test Company Limited")


def test_dbd_vouches_for_business_mandates() -> None:
    assert DbdIssuer.provides_mandates == ("business",)


@pytest.mark.parametrize(
    ("requester", "expected"),
    [
        pytest.param(SOMCHAI, (COMPANY_A_MANDATE,), id="somchai"),
        pytest.param(ARUNEE, (COMPANY_A_MANDATE,), id="arunee"),
        pytest.param(YAMADA, (COMPANY_A_MANDATE,), id="yamada-by-passport"),
        pytest.param(
            WICHAI, (_mandate(COMPANY_B, "บริษัท สยามตัวอย่าง จำกัด", "Siam Sample Company Limited"),), id="wichai"
        ),
        pytest.param(MALEE, (), id="malee-none"),
        pytest.param(SCHMIDT, (), id="schmidt-none-at-dbd"),
        pytest.param(Requester(name_en="No identifier"), (), id="no-identifier"),
    ],
)
def test_mandates_for(dbd, requester, expected) -> None:
    assert dbd.mandates_for(requester) == expected


@pytest.mark.parametrize(
    "body",
    [
        {},
        [],
        {"mandates": None},
        {"mandates": [{"juristic_id": "0105556012342", "name_th": "x", "name_en": "x", "role": "director"}]},
        {"mandates": [{"juristic_id": COMPANY_A, "name_th": "x", "name_en": "x", "role": "owner"}]},
        {"mandates": [{"juristic_id": COMPANY_A, "name_th": "", "name_en": "x", "role": "director"}]},
        {"mandates": [{"juristic_id": COMPANY_A, "name_th": "x", "name_en": "x", "role": ["director"]}]},
        {"mandates": ["0105556012341"]},
    ],
)
def test_unusable_mandate_answers_are_refused(body) -> None:
    server = LoopbackServer(_fixed_json(body))
    try:
        with pytest.raises(RegistryRejected):
            build_issuer(DbdIssuer, server.url).mandates_for(SOMCHAI)
    finally:
        server.close()


# --- the document ---------------------------------------------------------------------------------------


def test_the_affidavit_states_who_asked_for_which_company_under_what_authority(
    app, app_ctx, dbd, frozen_now
) -> None:
    record = dbd.fetch_record(TYPE, company(COMPANY_A, SOMCHAI))
    html = render_html(app, dbd, TYPE.id, record)
    authority = html[html.index('class="authority"') :]
    assert "นายสมชาย ใจดี" in authority and "Mr. Somchai Jaidee" in authority
    assert "บริษัท ตราทดสอบ จำกัด" in authority and COMPANY_A in authority
    assert "กรรมการ" in authority and "Director" in authority
    assert "1 มิถุนายน 2569 เวลา 10:30 น." in authority
    assert "Checked against the DBD registry on" in authority
    assert "1 June 2026 at 10:30 (Bangkok time)" in authority
    # The particulars: capital in figures and words, directors by name only, objectives counted.
    assert "5,000,000" in html and "ห้าล้านบาทถ้วน" in html and "five million baht" in html
    assert "กรรมการของบริษัทมี 3 คน" in html and "นายทาโร่ ยามาดะ" in html
    assert "บริษัทมีวัตถุประสงค์ 5 ข้อ" in html
    assert "กรรมการสองคนลงลายมือชื่อร่วมกันและประทับตราสำคัญของบริษัท" in html
    for pid in (SOMCHAI.pid, ARUNEE.pid, "1-1017-00123-45-6", YAMADA.passport_number):
        assert pid not in html  # no ID numbers of people are printed


def test_the_affidavit_names_a_foreign_requester(app, app_ctx, dbd, frozen_now) -> None:
    html = render_html(app, dbd, TYPE.id, dbd.fetch_record(TYPE, company(COMPANY_A, YAMADA)))
    authority = html[html.index('class="authority"') :]
    assert "นายทาโร่ ยามาดะ" in authority and "Mr. Taro Yamada" in authority


@pytest.mark.parametrize(
    ("juristic_id", "requester", "name"),
    [(COMPANY_A, SOMCHAI, "dbd-company-a"), (COMPANY_C, Requester(pid="3101500445561"), "dbd-company-c")],
)
def test_the_affidavit_fits_two_pages(app, app_ctx, dbd, frozen_now, juristic_id, requester, name) -> None:
    """Bilingual particulars, the objectives and the authority block take two A4 pages (a real
    affidavit has its objectives in a certified attachment too); nothing runs further."""
    record = dbd.fetch_record(TYPE, company(juristic_id, requester))
    assert page_count(render_pdf(app, dbd, TYPE.id, record, name=name)) == 2
