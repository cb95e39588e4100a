"""The DOPA house-registration extract against its sample registry, served on loopback over HTTP.

What matters beyond the contract suite: the other residents' national IDs and birth dates never
reach the document (HTML or embedded data), while the requester's own entry is printed in full;
the other residents are named in ``Record.named_people`` (their "Who read my data"); and a house
that does not list the person asking is refused.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from issuers.dopa import HOUSE_REGISTRATION, DopaIssuer, mask_pid
from issuers.dopa.sample_registry import RECORDS_FILE, create_registry_app
from portal import clock
from portal.issuing import DocumentInfo, RecordNotFound, RegistryRejected, Subject
from portal.issuing.settings import IssuerSettings, merge_specs

SOMCHAI, SOMYING, ARUNEE = "1101700123456", "3100500678905", "1101400555555"


@pytest.fixture
def dopa(serve) -> DopaIssuer:
    settings = IssuerSettings.build(
        "dopa",
        merge_specs(DopaIssuer.settings_schema),
        {"registry_url": serve(create_registry_app()), "retries": 0},
    )
    return DopaIssuer(settings)


def _document() -> DocumentInfo:
    issued_at = datetime(2026, 6, 1, 10, 30, tzinfo=clock.BANGKOK)
    return DocumentInfo(
        number="มท 000001/2569",
        verification_code="ABCD-EFGH-JKMN-PQRS-TVWX",
        verify_url="http://portal.test/v/ABCDEFGHJKMNPQRSTVWX",
        issued_at=issued_at,
        expires_at=issued_at.date(),
        sample=True,
    )


def _render(app, issuer, record) -> tuple[str, str]:
    """(HTML, embedded data.json text) of the extract, as the portal builds them."""
    from portal.services.certificate_content import certificate_context, certificate_data

    context = certificate_context(issuer, HOUSE_REGISTRATION, record, _document())
    html = app.jinja_env.get_template(HOUSE_REGISTRATION.template).render(**context)
    data = json.dumps(
        certificate_data(issuer, HOUSE_REGISTRATION, record, context), default=str, ensure_ascii=False
    )
    return html, data


def test_the_requester_sees_their_own_row_in_full_and_others_masked(app, app_ctx, dopa) -> None:
    record = dopa.fetch_record(HOUSE_REGISTRATION, Subject(pid=SOMCHAI))
    assert (record.holder_name_th, record.holder_name_en) == ("นายสมชาย ใจดี", "Mr. Somchai Jaidee")
    html, data = _render(app, dopa, record)

    assert "1-1017-00123-45-6" in html  # the requester's own ID, in full
    assert "14 มีนาคม 2528" in html and "(อายุ 41 ปี)" in html  # own birth date and age on 1 June 2026
    assert "1030-012345-6" in html and "บ้านเดี่ยว" in html and "Detached house" in html

    # Somying: named, with a masked ID and her year of birth only, in the page and in data.json.
    assert "นางสาวสมหญิง รักไทย" in html and "Ms. Somying Rakthai" in html
    assert "3-xxxx-xxxxx-xx-5" in html
    assert "พ.ศ. 2539" in html
    for text in (html, data):
        assert SOMYING not in text
        assert "3-1005-00678-90-5" not in text
        assert "1996-11-02" not in text and "2 พฤศจิกายน 2539" not in text and "2 November 1996" not in text


def test_the_other_residents_are_named_people(dopa) -> None:
    assert dopa.fetch_record(HOUSE_REGISTRATION, Subject(pid=SOMCHAI)).named_people == (SOMYING,)
    assert dopa.fetch_record(HOUSE_REGISTRATION, Subject(pid=SOMYING)).named_people == (SOMCHAI,)
    assert dopa.fetch_record(HOUSE_REGISTRATION, Subject(pid=ARUNEE)).named_people == ()


def test_a_member_sees_the_head_of_household_masked(app, app_ctx, dopa) -> None:
    html, data = _render(app, dopa, dopa.fetch_record(HOUSE_REGISTRATION, Subject(pid=SOMYING)))
    assert "3-1005-00678-90-5" in html and "ผู้อาศัย" in html
    assert "1-xxxx-xxxxx-xx-6" in html and "เจ้าบ้าน" in html
    for text in (html, data):
        assert SOMCHAI not in text and "1-1017-00123-45-6" not in text and "14 มีนาคม 2528" not in text


def test_someone_living_alone_gets_no_privacy_note(app, app_ctx, dopa) -> None:
    html, _ = _render(app, dopa, dopa.fetch_record(HOUSE_REGISTRATION, Subject(pid=ARUNEE)))
    assert "1-1014-00555-55-5" in html and "Townhouse" in html
    assert "xxxx" not in html and "partly masked" not in html


def test_a_person_in_no_house_is_not_found(dopa) -> None:
    with pytest.raises(RecordNotFound):
        dopa.fetch_record(HOUSE_REGISTRATION, Subject(pid="1234567890121"))


def test_a_house_that_does_not_list_the_subject_is_refused(serve) -> None:
    arunee_house = next(
        house
        for house in json.loads(RECORDS_FILE.read_text(encoding="utf-8"))["houses"]
        if any(m["pid"] == ARUNEE for m in house["members"])
    )
    body = json.dumps(arunee_house).encode()

    def registry(environ, start_response):  # answers Arunee's house whoever is asked about
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    settings = IssuerSettings.build("dopa", merge_specs(()), {"registry_url": serve(registry), "retries": 0})
    with pytest.raises(RegistryRejected, match="not registered"):
        DopaIssuer(settings).fetch_record(HOUSE_REGISTRATION, Subject(pid=SOMCHAI))


def test_a_resident_with_a_malformed_id_is_refused(serve) -> None:
    house = json.loads(RECORDS_FILE.read_text(encoding="utf-8"))["houses"][0]
    house["members"][1]["pid"] = "31005006789"  # 11 digits: cannot be masked or recorded
    body = json.dumps(house).encode()

    def registry(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    settings = IssuerSettings.build("dopa", merge_specs(()), {"registry_url": serve(registry), "retries": 0})
    with pytest.raises(RegistryRejected):
        DopaIssuer(settings).fetch_record(HOUSE_REGISTRATION, Subject(pid=SOMCHAI))


def test_mask_pid_keeps_the_first_and_last_digit() -> None:
    assert mask_pid(SOMCHAI) == "1-xxxx-xxxxx-xx-6"
    assert mask_pid(SOMYING) == "3-xxxx-xxxxx-xx-5"
