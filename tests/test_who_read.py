"""The "Who read my data" page (/me/reads): a person's own access log, in Thai and English, through real
issuance and verification as well as events written directly; paging, filters, bad input, and
nobody else's reads."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
from sqlalchemy import select

from portal.models import AccessEvent, DocumentRequest
from portal.services import access_log, runtime
from portal.services.catalogue import find_document_type
from portal.services.issuance_requests import create_request
from portal.services.issuance_run import run_issuance

SOMCHAI = "1101700123456"
SOMYING = "3100500678905"


@pytest.fixture
def event(db_session):
    """``event(**overrides)``: an access event about Somchai (default: a DLT record read)."""

    def make(**overrides):
        values = {
            "subject_pid": SOMCHAI,
            "kind": "record_read",
            "agency": "dlt",
            "reference": "DLT-P-0001",
            "purpose": "To issue a driving licence certificate in your name",
            "request_id": None,
            "occurred_at": datetime(2026, 11, 20, 3, 15, tzinfo=UTC),
        }
        values.update(overrides)
        row = AccessEvent(**values)
        db_session.add(row)
        db_session.flush()
        return row

    return make


def english(client):
    assert client.get("/lang/en?next=/").status_code == 302


def page_text(client, url="/me/reads", status=200):
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:800]
    return response.get_data(as_text=True)


def rows(html: str) -> list[str]:
    """The body rows of the log table, as text without tags."""
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    if body is None:
        return []
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)).strip()
        for r in re.findall(r"<tr.*?</tr>", body.group(1), re.S)
    ]


def request_as_logged_in_person(client) -> str:
    """Ask for the DLT driving licence through the pages, as a browser would; the request id."""
    response = client.post("/documents/dlt/driving-licence/request", data={"consent": "yes"})
    assert response.status_code == 302
    request_id = response.headers["Location"].rsplit("/", 1)[1]
    assert client.get(f"/requests/{request_id}/status.json").json["status"] == "ready"
    return request_id


# --- who may see it ---------------------------------------------------------------------------


def test_the_page_needs_a_login(client):
    response = client.get("/me/reads")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")


def test_signed_in_navigation_links_to_the_page(client, login):
    login()
    html = page_text(client, "/my/documents")
    assert 'href="/me/reads"' in html and "ใครอ่านข้อมูลของฉัน" in html
    assert 'href="/me/reads" aria-current="page"' in page_text(client)
    assert 'href="/me/reads"' not in page_text(client.application.test_client(), "/")  # logged out


def test_personal_page_is_not_cached(client, login):
    login()
    assert "no-store" in client.get("/me/reads").headers["Cache-Control"]


# --- the real path ----------------------------------------------------------------------------


def test_own_request_and_checks_of_the_document_appear_in_both_languages(client, login, db_session):
    login()
    request_id = request_as_logged_in_person(client)
    doc = db_session.get(DocumentRequest, request_id)
    certificate = doc.certificate
    # Someone checks the document twice by its code and once by its file (the real endpoints).
    anyone = client.application.test_client()
    assert anyone.get(f"/v/{certificate.verification_code}").status_code == 200
    assert anyone.get(f"/api/v1/verify/{certificate.verification_code}").status_code == 200
    pdf = runtime_pdf(client, certificate.sha256)
    verdict = anyone.post("/api/v1/verify", data={"file": (BytesIO(pdf), "c.pdf")})
    assert verdict.json["verdict"] == "genuine"

    event = db_session.scalar(select(AccessEvent).where(AccessEvent.request_id == request_id))
    assert event.requested_by == "self" and event.on_behalf_of is None

    thai = page_text(client)
    found = rows(thai)
    assert len(found) == 2, found  # one read, one line for the day's three checks
    checks, read = found  # the checks came last, so they are first
    be_year = str(datetime.now(UTC).astimezone(runtime_bangkok()).year + 543)
    assert re.match(rf"\d+ \S+ {be_year} เวลา \d\d:\d\d น\. กรมการขนส่งทางบก", read), read
    assert "อ่านข้อมูลทะเบียนเลขที่ DLT-P-0001 ของท่าน เพื่อออกหนังสือรับรองใบอนุญาตขับรถ" in read
    assert "เพื่อออกหนังสือรับรองใบอนุญาตขับรถในนามของท่าน" in read  # the purpose agreed to
    assert "ท่านเป็นผู้ขอเอกสารนี้" in read and doc.reference in read
    assert f'href="/requests/{request_id}"' in thai
    assert f"{certificate.number} ของท่าน 3 ครั้งในวันนั้น" in checks
    assert "ด้วยรหัสตรวจสอบ 2 ครั้ง · ด้วยไฟล์ 1 ครั้ง" in checks
    assert "ใครอ่านข้อมูลของฉัน" in thai and '<html lang="th"' in thai

    english(client)
    found = rows(page_text(client))
    checks, read = found
    assert "Department of Land Transport" in read
    assert "Read your record DLT-P-0001 to issue the Driving Licence Certificate" in read
    assert "To issue a driving licence certificate in your name" in read
    assert "You requested this document" in read
    today = datetime.now(UTC).astimezone(runtime_bangkok())
    assert read.startswith(f"{today.day} {today:%B} {today.year} at ")
    assert (
        f"Your Driving Licence Certificate No. {certificate.number} was checked 3 times on this day" in checks
    )
    assert "By verification code: 2 · by file: 1" in checks
    assert "Tra does not know who" in checks


def runtime_pdf(client, sha256: str) -> bytes:
    with client.application.app_context():
        return runtime.blob_store().get(sha256)


def runtime_bangkok():
    from portal.clock import BANGKOK

    return BANGKOK


def test_a_request_made_by_someone_else_says_so_without_saying_who(
    app, client, login, create_user, db_session
):
    somchai = create_user()
    other = create_user(pid=SOMYING, name_th="นางสาวสมหญิง รักไทย", name_en="Ms. Somying Rakthai")
    with app.app_context():
        issuer, doc_type = find_document_type("dlt", "driving-licence")
        # Another person's request that names Somchai (the shape a representative's request has).
        request = create_request(
            user=other, subject_pid=SOMCHAI, issuer=issuer, doc_type=doc_type, channel="web"
        )
        run_issuance(request.id)
    event = db_session.scalar(select(AccessEvent).where(AccessEvent.request_id == request.id))
    assert event.subject_pid == SOMCHAI and event.requested_by == "other_person"

    login(somchai)
    english(client)
    html = page_text(client)
    (read,) = rows(html)
    assert "Requested by another person" in read
    for identifying in ("Somying", "สมหญิง", SOMYING, "3-1005", request.reference, request.id):
        assert identifying not in html
    assert "You requested this document" not in html


def test_a_representatives_request_names_only_the_company(client, login, event):
    event(requested_by="representative", on_behalf_of="บริษัท ตัวอย่าง จำกัด")
    login()
    (read,) = rows(page_text(client))
    assert "ขอโดยผู้แทนของ บริษัท ตัวอย่าง จำกัด" in read
    english(client)
    (read,) = rows(page_text(client))
    assert "Requested by a representative of บริษัท ตัวอย่าง จำกัด" in read


def test_requesters_are_described_when_the_read_is_logged(app, create_user, issue, db_session):
    somchai = create_user()
    other = create_user(pid=SOMYING)
    operator_request = issue()  # CLI issuance: no user
    event = db_session.scalar(select(AccessEvent).where(AccessEvent.request_id == operator_request.id))
    assert event.requested_by == "agency"
    with app.app_context():
        own = DocumentRequest(user_id=somchai.id, subject_pid=SOMCHAI)
        theirs = DocumentRequest(user_id=other.id, subject_pid=SOMCHAI)
        assert access_log.describe_requester(own) == ("self", None)
        assert access_log.describe_requester(own, organisation_name="บริษัท ก จำกัด") == ("self", None)
        assert access_log.describe_requester(theirs) == ("other_person", None)
        assert access_log.describe_requester(theirs, organisation_name="บริษัท ก จำกัด") == (
            "representative",
            "บริษัท ก จำกัด",
        )


def test_reads_logged_before_requesters_were_recorded_are_still_explained(
    client, login, issue, event, db_session
):
    user = login()
    request = issue()
    request.user_id = user.id  # as if Somchai had asked on the web
    old = db_session.scalar(select(AccessEvent).where(AccessEvent.request_id == request.id))
    old.requested_by = None
    db_session.flush()
    english(client)
    (read,) = rows(page_text(client))
    assert "You requested this document" in read and request.reference in read


# --- many events ------------------------------------------------------------------------------


def test_checks_are_counted_per_document_per_bangkok_day(client, login, event):
    checked = {"kind": "document_verified", "reference": "ขบ 000001/2569", "request_id": None}
    # 23:30 and 23:50 in Bangkok on 20 November, then 00:30 on the 21st (17:30 UTC on the 20th).
    event(**checked, purpose="verification by code", occurred_at=datetime(2026, 11, 20, 16, 30, tzinfo=UTC))
    event(**checked, purpose="verification by file", occurred_at=datetime(2026, 11, 20, 16, 50, tzinfo=UTC))
    event(**checked, purpose="verification by code", occurred_at=datetime(2026, 11, 20, 17, 30, tzinfo=UTC))
    event(**{**checked, "reference": "ขบ 000002/2569"}, purpose="verification by file")
    event(
        **{**checked, "reference": "ขบ 000003/2569"},
        purpose="verification by file",
        occurred_at=datetime(2026, 11, 19, 1, 0, tzinfo=UTC),
    )
    event(
        **{**checked, "reference": "ขบ 000003/2569"},
        purpose="verification by file",
        occurred_at=datetime(2026, 11, 19, 2, 0, tzinfo=UTC),
    )
    login()
    english(client)
    found = rows(page_text(client))
    assert len(found) == 4, found
    assert found[0].startswith("21 November 2026 at 00:30")
    assert "No. ขบ 000001/2569 was checked by its verification code" in found[0]
    assert found[1].startswith("20 November 2026 last at 23:50")
    assert "No. ขบ 000001/2569 was checked 2 times on this day" in found[1]
    assert "By verification code: 1 · by file: 1" in found[1]
    assert "Your document No. ขบ 000002/2569 was checked by its file" in found[2]
    assert "No. ขบ 000003/2569 was checked 2 times on this day All by file" in found[3]


def test_the_log_is_paged_by_25_newest_first(client, login, event):
    start = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
    for n in range(30):
        event(reference=f"DLT-R-{n:03d}", occurred_at=start + timedelta(days=n))
    login()
    english(client)
    first = page_text(client)
    found = rows(first)
    assert len(found) == 25
    assert "DLT-R-029" in found[0] and "DLT-R-005" in found[-1]
    assert "Showing 1 to 25 of 30" in first and "Page 1 of 2" in first
    assert 'href="/me/reads?page=2"' in first and "Previous page" not in first
    second = page_text(client, "/me/reads?page=2")
    found = rows(second)
    assert [r.split("record ")[1][:9] for r in found] == [f"DLT-R-{n:03d}" for n in range(4, -1, -1)]
    assert 'href="/me/reads?page=1"' in second and "Next page" not in second
    page_text(client, "/me/reads?page=3", status=404)


def test_filters_by_agency_and_kind_and_keep_them_across_pages(client, login, event):
    for n in range(26):
        event(reference=f"DLT-R-{n:03d}", occurred_at=datetime(2026, 2, 1, tzinfo=UTC) + timedelta(hours=n))
    event(agency="dbd", reference="DBD-0105555000011", purpose="To issue a company affidavit")
    event(kind="document_verified", reference="ขบ 000009/2569", purpose="verification by code")
    login()
    english(client)
    everything = page_text(client)
    assert "Showing 1 to 25 of 28" in everything
    # An agency found in the log but not offered (any more) can still be chosen.
    assert '<option value="dbd">Department of Business Development</option>' in everything
    only_dbd = rows(page_text(client, "/me/reads?agency=dbd"))
    assert len(only_dbd) == 1 and "DBD-0105555000011" in only_dbd[0]
    checks = rows(page_text(client, "/me/reads?kind=document_verified"))
    assert len(checks) == 1 and "ขบ 000009/2569" in checks[0]
    reads = page_text(client, "/me/reads?kind=record_read&agency=dlt")
    assert "Showing 1 to 25 of 26" in reads
    assert 'href="/me/reads?page=2&amp;agency=dlt&amp;kind=record_read"' in reads
    assert '<option value="dlt" selected>' in reads and '<option value="record_read" selected>' in reads
    assert len(rows(page_text(client, "/me/reads?page=2&agency=dlt&kind=record_read"))) == 1
    nothing = page_text(client, "/me/reads?agency=dbd&kind=document_verified")
    assert rows(nothing) == [] and "Nothing matches what you chose." in nothing


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("page=abc", 400),
        ("page=-1", 400),
        ("page=0", 400),
        ("page=1.5", 400),
        ("page=%EF%BC%91", 400),  # a full-width digit one
        ("page=" + "9" * 5000, 400),
        ("page=99999", 404),
        ("page=2", 404),
        ("agency=unknown", 400),
        ("agency=%00", 400),
        ("kind=everything", 400),
    ],
)
def test_bad_parameters_get_a_plain_4xx(client, login, event, query, status):
    event()
    login()
    response = client.get(f"/me/reads?{query}")
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert "Traceback" not in html and "DLT-P-0001" not in html


def test_empty_log_explains_what_will_appear(client, login):
    login()
    html = page_text(client)
    assert "ยังไม่มีการอ่านข้อมูลของท่าน" in html and "<table" not in html
    english(client)
    html = page_text(client)
    assert "Nothing has been read yet." in html
    assert "which agency read what, when and why" in html
    assert 'name="agency"' not in html  # no filters over nothing


# --- nobody else's reads ----------------------------------------------------------------------


def test_another_persons_reads_are_never_shown(client, login, create_user, event):
    event(subject_pid=SOMYING, reference="DLT-P-0002")
    event(
        subject_pid=SOMYING,
        kind="document_verified",
        reference="ขบ 000777/2569",
        purpose="verification by code",
    )
    event(reference="DLT-P-0001")
    login()
    for url in (
        "/me/reads",
        f"/me/reads?pid={SOMYING}",
        f"/me/reads?subject_pid={SOMYING}",
        "/me/reads?kind=document_verified",
        "/me/reads?agency=dlt",
        f"/me/reads/{SOMYING}",
    ):
        response = client.get(url)
        html = response.get_data(as_text=True)
        assert "DLT-P-0002" not in html and "000777" not in html, url
    assert len(rows(page_text(client, f"/me/reads?pid={SOMYING}"))) == 1
    assert client.get(f"/me/reads/{SOMYING}").status_code == 404

    login(create_user(pid=SOMYING, name_th="นางสาวสมหญิง รักไทย", name_en="Ms. Somying Rakthai"))
    html = page_text(client)
    assert "DLT-P-0002" in html and "000777" in html and "DLT-P-0001" not in html


def test_a_passport_holder_sees_only_the_reads_kept_under_their_passport(client, login, create_user, event):
    event()  # Somchai's
    event(subject_pid=None, subject_passport="GBR:X1234567", agency="boi", reference="BOI-P-0001")
    event(subject_pid=None, subject_passport="GBR:X7654321", agency="boi", reference="BOI-P-0002")
    event(subject_pid=None, subject_passport="JPN:X1234567", agency="dbd", reference="DBD-R-0003")
    investor = create_user(pid=None, passport_number="X1234567", nationality="GBR", name_en="Ms. Jane Smith")
    login(investor, audience="investor")
    for url in ("/me/reads", "/me/reads?agency=boi&kind=record_read", f"/me/reads?pid={SOMCHAI}"):
        html = page_text(client, url)
        assert "BOI-P-0001" in html
        assert not {"DLT-P-0001", "BOI-P-0002", "DBD-R-0003"} & set(re.findall(r"[A-Z]{3}-[A-Z]-\d{4}", html))
        assert "ท่านเข้าสู่ระบบโดยไม่มีเลขประจำตัวประชาชนไทย" not in html
    assert "BOI-P-0001" not in page_text(client, "/me/reads?agency=dlt")


def test_a_person_with_neither_a_thai_id_nor_a_passport_gets_an_explanation_only(
    client, login, create_user, event
):
    event()
    event(subject_pid=None, subject_passport="GBR:X1234567", agency="boi", reference="BOI-P-0001")
    login(create_user(pid=None, name_en="Ms. Jane Smith"), audience="business")
    for url in ("/me/reads", "/me/reads?agency=dlt&kind=record_read", f"/me/reads?pid={SOMCHAI}"):
        html = page_text(client, url)
        assert "ท่านเข้าสู่ระบบโดยไม่มีเลขประจำตัวประชาชนไทยหรือหนังสือเดินทาง" in html
        assert "<table" not in html and "-P-0001" not in html and 'name="agency"' not in html
    english(client)
    assert "You logged in without a Thai national ID number or a passport" in page_text(client)


def test_an_access_event_is_about_exactly_one_person(app):
    from portal.services.audit import record_access

    read = {"kind": "record_read", "agency": "boi", "reference": "R", "purpose": "P", "request_id": None}
    with app.app_context():
        for whose in ({}, {"subject_pid": SOMCHAI, "subject_passport": "GBR:X1234567"}):
            with pytest.raises(ValueError):
                record_access(**whose, **read)


def test_the_embedded_default_sqlite_groups_by_bangkok_day_too(tmp_path, pki_dir):
    """CI runs the rest on PostgreSQL; SQLite keeps timestamps as text and needs its own SQL."""
    from flask_migrate import upgrade

    from portal import create_app
    from portal.extensions import db
    from portal.models import User

    app = create_app(
        "testing",
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'log.db'}", "DEV_PKI_DIR": str(pki_dir)},
    )
    with app.app_context():
        upgrade()
        user = User(pid=SOMCHAI)
        db.session.add(user)
        for hour, how in ((16, "code"), (17, "file"), (18, "code")):  # 23:00, then 00:00 and 01:00 next day
            db.session.add(
                AccessEvent(
                    subject_pid=SOMCHAI,
                    kind="document_verified",
                    agency="dlt",
                    reference="ขบ 000001/2569",
                    purpose=f"verification by {how}",
                    request_id=None,
                    occurred_at=datetime(2026, 11, 20, hour, tzinfo=UTC),
                )
            )
        db.session.commit()
        log = access_log.reads_for(user)
        assert [(e.day.isoformat(), e.times, e.by_code, e.by_file) for e in log.entries] == [
            ("2026-11-21", 2, 1, 1),
            ("2026-11-20", 1, 1, 0),
        ]
        assert log.entries[0].occurred_at.hour == 1 and log.entries[0].occurred_at.tzinfo is not None
        db.engine.dispose()
