"""The relying party's bad inputs, and the rule that every route declares who may use it."""

from __future__ import annotations

import requests

from portal.auth.access import LOGIN, PUBLIC
from tests.helpers import form_with, login_via_dev_idp


def test_cancelled_login_is_a_plain_400(client):
    response = client.get("/auth/callback?error=access_denied&state=whatever")
    assert response.status_code == 400
    assert "Traceback" not in response.get_data(as_text=True)


def test_other_idp_error_is_a_plain_400(client):
    response = client.get("/auth/callback?error=server_error&error_description=%3Cscript%3E")
    assert response.status_code == 400
    assert "<script>" not in response.get_data(as_text=True)


def test_forged_state_is_refused(client):
    response = client.get("/auth/callback?code=abc&state=forged-state")
    assert response.status_code == 400


def test_callback_without_code_is_refused(client):
    assert client.get("/auth/callback").status_code == 400


def test_every_route_declares_who_may_use_it(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        blueprint = app.blueprints[rule.endpoint.split(".")[0]]
        assert getattr(blueprint, "access", None) in (PUBLIC, LOGIN), rule.rule


def test_login_pages_require_login(app):
    assert app.blueprints["requests"].access == LOGIN


def test_cancel_at_the_idp_comes_back_as_a_plain_answer(live_server):
    browser = requests.Session()
    page = browser.get(f"{live_server.url}/login", timeout=10)
    form = form_with(page.text, action_contains="/devidp/authorize")
    answer = browser.post(
        f"{live_server.url}/devidp/authorize", data={**form["fields"], "action": "cancel"}, timeout=10
    )
    assert answer.status_code == 400
    assert "/auth/callback" in answer.url and "error=access_denied" in answer.url


def test_login_replayed_with_someone_elses_state_is_refused(live_server):
    victim, attacker = requests.Session(), requests.Session()
    page = victim.get(f"{live_server.url}/login", timeout=10)
    form = form_with(page.text, action_contains="/devidp/authorize")
    redirect = victim.post(
        f"{live_server.url}/devidp/authorize",
        data={**form["fields"], "sub": "dev-somying"},
        allow_redirects=False,
        timeout=10,
    )
    callback = redirect.headers["Location"]
    # The attacker's browser never started this login: its session holds no such state.
    assert attacker.get(callback, timeout=10).status_code == 400


def test_logins_are_fresh_sessions(live_server):
    browser = requests.Session()
    browser.get(f"{live_server.url}/", timeout=10)
    before = browser.cookies.get("tra_session")
    login_via_dev_idp(browser, live_server.url, "dev-arunee")
    assert browser.cookies.get("tra_session") != before
