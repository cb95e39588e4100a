"""Logging in through three real OpenID Providers (npm oidc-provider) with code + PKCE, over HTTP."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
import requests
from sqlalchemy import select

from portal import create_app
from portal.extensions import db
from portal.models import Identity, User, UserSession
from tests.helpers import form_with
from tests.oidc_ops import PROVIDER_NAMES, login_via_test_op, logout_at_test_op


def _stored(live, provider: str, subject: str) -> tuple[User, Identity, list[UserSession]]:
    with live.app.app_context():
        identity = db.session.scalar(
            select(Identity).where(Identity.provider == provider, Identity.subject == subject)
        )
        assert identity is not None, f"no identity stored for {provider}:{subject}"
        user = identity.user
        sessions = list(
            db.session.scalars(
                select(UserSession).where(UserSession.user_id == user.id, UserSession.provider == provider)
            )
        )
        db.session.expunge_all()
        return user, identity, sessions


def _session_id(browser: requests.Session, live) -> str:
    serializer = live.app.session_interface.get_signing_serializer(live.app)
    return serializer.loads(browser.cookies.get("tra_session"))["_user_id"]


def test_choice_page_offers_each_provider_under_its_audience(idp_live_server):
    page = requests.get(f"{idp_live_server.url}/lang/en?next=/login", timeout=10)
    assert page.status_code == 200
    html = page.text
    for heading in ("Thai citizens", "Business representatives", "Foreign investors"):
        assert heading in html
    for name in PROVIDER_NAMES.values():
        assert f'href="/login/{name}"' in html
    # Grouped: the citizen provider comes under its heading, before the business heading.
    assert (
        html.index("Thai citizens") < html.index("/login/thaid-test") < html.index("Business representatives")
    )
    assert "Log in with ThaID (test)" in html


def test_citizen_logs_in_with_pkce_and_the_portal_stores_the_mapped_claims(idp_live_server, test_ops):
    browser = requests.Session()
    start = browser.get(f"{idp_live_server.url}/login/thaid-test", allow_redirects=False, timeout=10)
    query = parse_qs(urlparse(start.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    assert set(query["scope"][0].split()) >= {"openid", "pid", "name", "name_en", "email"}

    landing = login_via_test_op(browser, idp_live_server.url, "thaid-test", "somying")
    assert landing.url == f"{idp_live_server.url}/my/documents"
    assert "ThaID" in landing.text  # "Logged in with …" in the header

    claims = test_ops["citizen"].accounts["somying"]
    user, identity, sessions = _stored(idp_live_server, "thaid-test", "somying")
    assert (user.pid, user.name_th, user.name_en, user.email) == (
        claims["pid"],
        claims["name"],
        claims["name_en"],
        claims["email"],
    )
    assert user.passport_number is None
    assert identity.audience == "citizen" and identity.attributes == {}
    active = [s for s in sessions if s.id == _session_id(browser, idp_live_server)]
    assert len(active) == 1 and active[0].ended_at is None and active[0].id_token
    assert active[0].audience == "citizen"


def test_business_representative_is_linked_by_pid_and_keeps_juristic_attributes(idp_live_server, test_ops):
    citizen, business = requests.Session(), requests.Session()
    login_via_test_op(citizen, idp_live_server.url, "thaid-test", "somchai")
    landing = login_via_test_op(business, idp_live_server.url, "business-test", "director")
    assert landing.status_code == 200

    claims = test_ops["business"].accounts["director"]
    user, identity, _ = _stored(idp_live_server, "business-test", "director")
    citizen_user, _, _ = _stored(idp_live_server, "thaid-test", "somchai")
    assert user.id == citizen_user.id  # same national ID, two providers: one person
    assert identity.audience == "business"
    assert identity.attributes == {
        "juristic_id": claims["juristic_id"],
        "juristic_name": claims["juristic_name"],
        "role": "director",
    }


def test_investor_logs_in_with_a_passport_and_no_national_id(idp_live_server, test_ops):
    browser = requests.Session()
    login_via_test_op(browser, idp_live_server.url, "investor-test", "yamada")
    claims = test_ops["investor"].accounts["yamada"]
    user, identity, sessions = _stored(idp_live_server, "investor-test", "yamada")
    assert user.pid is None
    assert (user.passport_number, user.nationality, user.name_en) == ("TK1234567", "JPN", claims["name"])
    assert identity.audience == "investor"
    assert identity.attributes == {"passport_number": "TK1234567", "nationality": "JPN"}
    assert sessions and all(s.audience == "investor" for s in sessions)


def test_cancel_at_the_op_is_a_plain_400(idp_live_server):
    browser = requests.Session()
    page = browser.get(f"{idp_live_server.url}/login/investor-test", timeout=10)
    form = form_with(page.text, action_contains="/interaction/")
    answer = browser.post(page.url, data={**form["fields"], "cancel": "1"}, timeout=10)
    assert answer.status_code == 400
    assert "/auth/callback" in answer.url and "error=access_denied" in answer.url
    assert "Traceback" not in answer.text


def test_an_answer_with_someone_elses_state_is_refused(idp_live_server):
    victim, attacker = requests.Session(), requests.Session()
    page = victim.get(f"{idp_live_server.url}/login/thaid-test", timeout=10)
    form = form_with(page.text, action_contains="/interaction/")
    # Stop at the OP's redirect back to the portal (the code and state of the victim's login).
    location = page.url
    response = victim.post(location, data={**form["fields"], "account": "wichai"}, allow_redirects=False)
    while not response.headers["Location"].startswith(idp_live_server.url):
        response = victim.get(response.headers["Location"], allow_redirects=False, timeout=10)
    callback = response.headers["Location"]
    assert "/auth/callback?" in callback
    attacker.get(f"{idp_live_server.url}/login/thaid-test", timeout=10)  # a login of its own
    assert attacker.get(callback, timeout=10).status_code == 400


def test_an_answer_naming_another_issuer_is_refused(idp_live_server, test_ops):
    browser = requests.Session()
    page = browser.get(f"{idp_live_server.url}/login/thaid-test", timeout=10)
    form = form_with(page.text, action_contains="/interaction/")
    response = browser.post(page.url, data={**form["fields"], "account": "wichai"}, allow_redirects=False)
    while not response.headers["Location"].startswith(idp_live_server.url):
        response = browser.get(response.headers["Location"], allow_redirects=False, timeout=10)
    callback = response.headers["Location"]
    parsed = parse_qs(urlparse(callback).query)
    mixed_up = (
        f"{idp_live_server.url}/auth/callback?code={parsed['code'][0]}&state={parsed['state'][0]}"
        f"&iss={test_ops['business'].issuer}"
    )
    answer = browser.get(mixed_up, timeout=10)
    assert answer.status_code == 400
    # Not logged in: sent to choose a provider again.
    assert (
        browser.get(f"{idp_live_server.url}/my/documents", timeout=10).url == f"{idp_live_server.url}/login"
    )


def test_logout_ends_the_server_side_session_and_the_op_session(idp_live_server, test_ops):
    browser = requests.Session()
    page = login_via_test_op(browser, idp_live_server.url, "thaid-test", "arunee")
    stolen = browser.cookies.get("tra_session")
    session_id = _session_id(browser, idp_live_server)
    form = form_with(page.text, action_contains="/logout")
    at_op = browser.post(f"{idp_live_server.url}/logout", data=form["fields"], timeout=10)
    assert at_op.url.startswith(test_ops["citizen"].issuer + "/session/end"), at_op.url
    first_hop = at_op.history[0]
    query = parse_qs(urlparse(first_hop.headers["Location"]).query)
    assert query["post_logout_redirect_uri"] == [f"{idp_live_server.url}/"]
    assert query["id_token_hint"]
    back = logout_at_test_op(browser, at_op)
    assert back.status_code == 200 and back.url == f"{idp_live_server.url}/"

    with idp_live_server.app.app_context():
        assert db.session.get(UserSession, session_id).ended_at is not None
    # The cookie copied before logout no longer reaches a logged-in page.
    replay = requests.Session()
    replay.cookies.set("tra_session", stolen, domain="127.0.0.1")
    answer = replay.get(f"{idp_live_server.url}/my/documents", allow_redirects=False, timeout=10)
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    # And the OP's own session is gone: logging in again shows its sign-in page.
    again = browser.get(f"{idp_live_server.url}/login/thaid-test", timeout=10)
    assert "/interaction/" in again.url


@pytest.mark.parametrize("name", ["nope", "thaid-test-x"])
def test_unknown_provider_is_a_404(idp_live_server, name):
    assert requests.get(f"{idp_live_server.url}/login/{name}", timeout=10).status_code == 404


def test_claims_missing_from_the_id_token_are_asked_of_userinfo(tmp_path, test_ops, monkeypatch):
    """The portal in-process (http://portal.test, a redirect URI the test OPs accept) maps a claim the
    ID token lacks: it calls the OP's real userinfo endpoint with the access token, then logs in."""
    from authlib.integrations.flask_client import FlaskOAuth2App

    op = test_ops["citizen"]
    path = tmp_path / "idp.toml"
    path.write_text(
        "[providers.thaid-test]\n"
        'label_th = "ทดสอบ"\nlabel_en = "Test"\n'
        f'discovery_url = "{op.discovery_url}"\nclient_id = "{op.client_id}"\n'
        f'client_secret = "{op.client_secret}"\n'
        'scopes = ["openid", "pid", "name"]\naudience = "citizen"\n'
        "[providers.thaid-test.claims]\n"
        'pid = "pid"\nname_th = "name"\nemail = "email_not_released"\n'
    )
    calls = []
    original = FlaskOAuth2App.userinfo

    def spy(self, **kwargs):  # counts the calls; the real endpoint answers
        answer = original(self, **kwargs)
        calls.append(dict(answer))
        return answer

    monkeypatch.setattr(FlaskOAuth2App, "userinfo", spy)
    from tests.conftest import _create_database, _migrate, _overrides

    database_url, drop = _create_database(tmp_path, "userinfo")
    settings = _overrides(tmp_path, database_url, "http://127.0.0.1:9", tmp_path, "http://portal.test")
    portal = create_app("testing", {**settings, "IDP_CONFIG": str(path), "WTF_CSRF_ENABLED": False})
    _migrate(portal)
    try:
        _log_in_in_process(portal, "wichai")
    finally:
        with portal.app_context():
            db.engine.dispose()
        drop()
    assert len(calls) == 1 and calls[0]["sub"] == "wichai" and calls[0]["pid"] == "5709900124574"


def _log_in_in_process(portal, account: str) -> None:
    client, browser = portal.test_client(), requests.Session()
    to_op = client.get("/login/thaid-test").headers["Location"]
    page = browser.get(to_op, timeout=10)
    form = form_with(page.text, action_contains="/interaction/")
    response = browser.post(page.url, data={**form["fields"], "account": account}, allow_redirects=False)
    while not response.headers["Location"].startswith("http://portal.test"):
        response = browser.get(response.headers["Location"], allow_redirects=False, timeout=10)
    callback = response.headers["Location"].removeprefix("http://portal.test")
    landing = client.get(callback)
    assert landing.status_code == 302 and landing.headers["Location"].endswith("/my/documents")
