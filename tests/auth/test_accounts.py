"""Claims become stored data; server-side sessions end at logout and after their timeouts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import clock
from portal.auth.providers import DEFAULT_CLAIMS, Provider
from portal.models import Identity, User, UserSession
from portal.services import accounts
from portal.services.accounts import ClaimsError

SOMCHAI = "1101700123456"


def _provider(name="gov", audience="citizen", **claims) -> Provider:
    return Provider(
        name=name,
        label_th="ทดสอบ",
        label_en="Test",
        discovery_url="https://op.example/.well-known/openid-configuration",
        client_id="c",
        client_secret="s",
        scopes=("openid",),
        audience=audience,
        claims=claims or dict(DEFAULT_CLAIMS),
    )


INVESTOR = _provider(
    "inv", "investor", passport_number="passport", nationality="country", name_en="name", email="email"
)


def _count(db_session, model) -> int:
    return db_session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "a", "pid": "1101700123457"},  # wrong check digit
        {"sub": "a", "pid": "110170012345"},  # 12 digits
        {"sub": "a", "pid": 1101700123456},  # not a string
        {"sub": "a", "name": "x"},  # a citizen provider that sends no pid
        {"pid": SOMCHAI},  # no subject
    ],
)
def test_bad_citizen_claims_store_nothing(app_ctx, db_session, claims):
    before = (_count(db_session, User), _count(db_session, Identity), _count(db_session, UserSession))
    with pytest.raises(ClaimsError):
        accounts.log_in(provider=_provider(), claims=claims, id_token=None)
    assert (_count(db_session, User), _count(db_session, Identity), _count(db_session, UserSession)) == before


@pytest.mark.parametrize(
    ("passport", "country"), [("AB12", "JPN"), ("AB-123456", "JPN"), ("A" * 21, "JPN"), ("TK1234567", "JP")]
)
def test_bad_passport_claims_are_refused(app_ctx, passport, country):
    with pytest.raises(ClaimsError):
        accounts.log_in(
            provider=INVESTOR, claims={"sub": "i", "passport": passport, "country": country}, id_token=None
        )


def test_investor_passport_is_normalised_and_links_across_providers(app_ctx):
    first = accounts.log_in(
        provider=INVESTOR, claims={"sub": "i1", "passport": "tk1234567", "country": "jpn"}, id_token=None
    )
    other = _provider("inv2", "investor", passport_number="passport", nationality="country")
    second = accounts.log_in(
        provider=other, claims={"sub": "zz", "passport": "TK1234567", "country": "JPN"}, id_token=None
    )
    assert first.id == second.id
    assert (first.passport_number, first.nationality, first.pid) == ("TK1234567", "JPN", None)


def test_same_pid_links_but_same_email_never_does(app_ctx, db_session):
    one = accounts.log_in(
        provider=_provider("a"), claims={"sub": "1", "pid": SOMCHAI, "email": "x@example.test"}, id_token=None
    )
    two = accounts.log_in(provider=_provider("b"), claims={"sub": "2", "pid": SOMCHAI}, id_token=None)
    three = accounts.log_in(
        provider=_provider("c"),
        claims={"sub": "3", "pid": "3100500678905", "email": "x@example.test"},
        id_token=None,
    )
    assert one.id == two.id != three.id


def test_mapping_decides_what_is_stored(app_ctx):
    business = _provider("biz", "business", pid="citizen_id", juristic_id="jid", role="position")
    user = accounts.log_in(
        provider=business,
        claims={
            "sub": "d",
            "citizen_id": SOMCHAI,
            "jid": "0105556012341",
            "position": "director",
            "email": "not-mapped@example.test",
            "juristic_name": "not mapped either",
        },
        id_token="header.payload.signature",
    )
    identity = user.identities[0]
    assert user.pid == SOMCHAI and user.email is None
    assert identity.audience == "business"
    assert identity.attributes == {"juristic_id": "0105556012341", "role": "director"}
    assert user.login_session.id_token == "header.payload.signature"
    assert accounts.missing_claims(business, {"citizen_id": SOMCHAI}) == ["jid", "position"]


def test_a_bad_juristic_id_is_refused(app_ctx):
    business = _provider("biz", "business", pid="pid", juristic_id="jid")
    with pytest.raises(ClaimsError):
        accounts.log_in(
            provider=business, claims={"sub": "d", "pid": SOMCHAI, "jid": "0105556012342"}, id_token=None
        )


def test_sessions_end_after_idle_and_absolute_timeouts(app, app_ctx, create_user, monkeypatch):
    start = clock.now()
    now = [start]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    user = create_user()
    session_id = accounts.start_session(user, provider="dev", audience="citizen").id
    idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])

    # Active use keeps it alive past the idle limit...
    for _ in range(4):
        now[0] += idle - timedelta(minutes=1)
        assert accounts.resume_session(session_id) is not None
    # ...but a pause longer than the idle limit ends it.
    now[0] += idle + timedelta(seconds=1)
    assert accounts.resume_session(session_id) is None

    second = accounts.start_session(user, provider="dev", audience="citizen").id
    absolute = timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"])
    end = now[0] + absolute
    while now[0] + idle / 2 < end:
        now[0] += idle / 2
        assert accounts.resume_session(second) is not None
    now[0] = end
    assert accounts.resume_session(second) is None


def test_logout_ends_the_session_row_and_a_replayed_cookie_is_refused(app, client, login, db_session):
    user = login()
    client.get("/lang/en?next=/")
    page = client.get("/my/documents")
    assert page.status_code == 200
    assert "Logged in with" in page.get_data(as_text=True)
    with client.session_transaction() as session:
        copied = dict(session)
    client.post("/logout")
    row = db_session.scalar(select(UserSession).where(UserSession.user_id == user.id))
    assert row.ended_at is not None
    with client.session_transaction() as session:
        session.update(copied)  # the old cookie, replayed
    answer = client.get("/my/documents")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_a_made_up_session_id_is_not_a_login(client):
    with client.session_transaction() as session:
        session["_user_id"] = "not-a-session"
    assert client.get("/my/documents").status_code == 302
