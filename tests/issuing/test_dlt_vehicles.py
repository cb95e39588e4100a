"""The DLT vehicle registration certificates (a person's, a company's) against the sample registry,
served on loopback over HTTP: the vehicles listed, the VIN masked to its last five characters
everywhere the document goes, and the requester printed "acting for" the company."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from issuers.dlt import DltIssuer
from issuers.dlt.sample_registry import create_registry_app
from issuers.dlt.vehicles import COMPANY_VEHICLE_REGISTRATION, VEHICLE_REGISTRATION, mask_vin
from portal import clock
from portal.issuing import DocumentInfo, RecordNotFound, RegistryRejected, Requester, Subject
from portal.issuing.settings import IssuerSettings, merge_specs

SOMCHAI = Subject(pid="1101700123456")
SOMYING = Subject(pid="3100500678905")
COMPANY_A = Subject(
    juristic_id="0105556012341",
    requester=Requester(pid="1101700123456", name_th="นายสมชาย ใจดี", name_en="Mr. Somchai Jaidee"),
)


def _dlt(url: str) -> DltIssuer:
    return DltIssuer(IssuerSettings.build("dlt", merge_specs(()), {"registry_url": url, "retries": 0}))


@pytest.fixture
def dlt(serve) -> DltIssuer:
    return _dlt(serve(create_registry_app()))


def _render(app, issuer, doc_type, record) -> tuple[str, str]:
    """(HTML, embedded data.json text) of the certificate, as the portal builds them."""
    from portal.services.certificate_content import certificate_context, certificate_data

    issued_at = datetime(2026, 6, 1, 10, 30, tzinfo=clock.BANGKOK)
    document = DocumentInfo(
        number="ขบ 000001/2569",
        verification_code="ABCD-EFGH-JKMN-PQRS-TVWX",
        verify_url="http://portal.test/v/ABCDEFGHJKMNPQRSTVWX",
        issued_at=issued_at,
        expires_at=issued_at.date(),
        sample=True,
    )
    context = certificate_context(issuer, doc_type, record, document)
    html = app.jinja_env.get_template(doc_type.template).render(**context)
    data = json.dumps(certificate_data(issuer, doc_type, record, context), default=str, ensure_ascii=False)
    return html, data


def test_two_document_types_one_per_audience_share_one_template() -> None:
    assert VEHICLE_REGISTRATION.audience == "citizen"
    assert COMPANY_VEHICLE_REGISTRATION.audience == "business"
    assert VEHICLE_REGISTRATION.template == COMPANY_VEHICLE_REGISTRATION.template
    assert {t.id for t in DltIssuer.document_types} >= {
        "vehicle-registration",
        "company-vehicle-registration",
    }


def test_a_persons_vehicles_with_the_vin_masked(app, app_ctx, dlt) -> None:
    record = dlt.fetch_record(VEHICLE_REGISTRATION, SOMCHAI)
    assert record.holder_name_en == "Mr. Somchai Jaidee" and record.named_people == ()
    assert [v["plate"] for v in record.data["vehicles"]] == ["7กร 4521", "1กค 5421"]
    html, data = _render(app, dlt, VEHICLE_REGISTRATION, record)

    assert "1-1017-00123-45-6" in html and "จำนวน 2 คัน" in html
    assert "TOYOTA COROLLA ALTIS" in html and "HONDA WAVE110I" in html and "รย.12" in html
    assert "xxxxxxxxxxxx23456" in html and "xxxxxxxxxxxx08731" in html
    for text in (html, data):
        assert "MR0BA3FE0K0123456" not in text and "MR0BA3FE0K" not in text
        assert "MLHJC7510M5208731" not in text
    # The motorcycle's tax ran out on 19 May 2026, before the day of issue.
    assert "(ค้างชำระ)" in html and "(overdue)" in html
    assert "ผู้ยื่นคำขอ" not in html  # a person's own certificate names no requester


def test_a_financed_car_shows_the_legal_owner(app, app_ctx, dlt) -> None:
    html, _ = _render(app, dlt, VEHICLE_REGISTRATION, dlt.fetch_record(VEHICLE_REGISTRATION, SOMYING))
    assert "บริษัท ตัวอย่างลีสซิ่ง จำกัด" in html and "Tuayang Leasing Co., Ltd." in html
    assert "xxxxxxxxxxxx41298" in html and "MRHGN6830NP041298" not in html


def test_a_companys_vehicles_name_the_requester_acting_for_it(app, app_ctx, dlt) -> None:
    record = dlt.fetch_record(COMPANY_VEHICLE_REGISTRATION, COMPANY_A)
    assert record.holder_name_en == "Tra Test Company Limited"
    assert len(record.data["vehicles"]) == 2
    html, data = _render(app, dlt, COMPANY_VEHICLE_REGISTRATION, record)
    assert "0105556012341" in html and "บริษัท ตราทดสอบ จำกัด" in html
    assert "Requested by <strong>Mr. Somchai Jaidee</strong>" in html
    assert "acting for\n  Tra Test Company Limited" in html or "acting for Tra Test Company Limited" in html
    assert "กระทำการแทนบริษัท ตราทดสอบ จำกัด" in html
    assert "TOYOTA HILUX REVO" in html and "TOYOTA CAMRY" in html
    assert "MR0KB8CD1L0987654" not in data and "xxxxxxxxxxxx87654" in html


def test_a_foreign_requester_is_printed_by_passport(app, app_ctx, dlt) -> None:
    subject = Subject(
        juristic_id="0105556012341",
        requester=Requester(passport_number="TK1234567", nationality="JPN", name_en="Mr. Taro Yamada"),
    )
    html, _ = _render(
        app, dlt, COMPANY_VEHICLE_REGISTRATION, dlt.fetch_record(COMPANY_VEHICLE_REGISTRATION, subject)
    )
    assert "Mr. Taro Yamada" in html and "passport TK1234567 (JPN)" in html


def test_the_dlt_does_not_check_mandates(dlt) -> None:
    """Wichai directs Company B, not A; the DLT cannot know that: the portal checks with the DBD."""
    wichai_for_a = Subject(juristic_id="0105556012341", requester=Requester(pid="5709900124574"))
    assert dlt.fetch_record(COMPANY_VEHICLE_REGISTRATION, wichai_for_a).holder_name_th == "บริษัท ตราทดสอบ จำกัด"


def test_an_owner_without_vehicles_is_not_found(dlt) -> None:
    with pytest.raises(RecordNotFound):
        dlt.fetch_record(VEHICLE_REGISTRATION, Subject(pid="1101400555555"))  # Arunee: licences only
    with pytest.raises(RecordNotFound):
        dlt.fetch_record(
            COMPANY_VEHICLE_REGISTRATION,
            Subject(juristic_id="0105561234560", requester=Requester(pid="1101700123456")),
        )


def test_a_company_record_asked_as_a_person_is_refused(serve) -> None:
    """The registry answering with a company where a person was asked about (same id) is refused."""
    body = json.dumps(
        {
            "record_id": "X",
            "owner": {"id": "1101700123456", "kind": "company", "name_th": "ก", "name_en": "A"},
            "vehicles": [],
        }
    ).encode()

    def registry(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    with pytest.raises(RegistryRejected):
        _dlt(serve(registry)).fetch_record(VEHICLE_REGISTRATION, SOMCHAI)


def test_the_licence_still_works_beside_the_vehicles(dlt) -> None:
    from issuers.dlt import DRIVING_LICENCE

    assert dlt.fetch_record(DRIVING_LICENCE, SOMCHAI).data["licences"]


def test_mask_vin_keeps_the_last_five() -> None:
    assert mask_vin("MR0BA3FE0K0123456") == "xxxxxxxxxxxx23456"
