"""The test OpenID Providers themselves (tests/oidc_ops.py + tests/oidc_provider/server.js), driven
with plain ``requests`` as a relying party would: discovery, code + PKCE, ID token and userinfo
claims, cancel, bad input, RP-initiated logout, and the generated portal IdP config."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import tomllib
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.wrappers import Request, Response

from portal.devidp.people import SAMPLE_PEOPLE
from portal.issuing.thai import pid_is_valid
from tests import oidc_ops
from tests.helpers import form_with
from tests.loopback import LoopbackServer
from tests.oidc_ops import (
    CLAIMS,
    PROVIDER_NAMES,
    idp_config_toml,
    login_via_test_op,
    logout_at_test_op,
    start_test_ops,
)

PORTAL = "http://portal.test"
REDIRECT_URI = f"{PORTAL}/auth/callback"


def _discovery(op) -> dict:
    response = requests.get(op.discovery_url, timeout=10)
    assert response.status_code == 200
    return response.json()


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _auth_params(op, *, scope: str, challenge: str | None, state: str, nonce: str, **extra) -> dict:
    params = {
        "response_type": "code",
        "client_id": op.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": state,
        "nonce": nonce,
        **extra,
    }
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return params


def _walk(session: requests.Session, response: requests.Response) -> requests.Response | dict:
    """Follow the OP's redirects; stop at a page (returned) or at the portal's callback (its query)."""
    while response.is_redirect:
        location = urljoin(response.url, response.headers["Location"])
        if location.startswith(REDIRECT_URI):
            return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
        response = session.get(location, allow_redirects=False, timeout=10)
    return response


def _start(session, op, *, scope="openid", challenge="set", state="s", nonce="n", **extra):
    if challenge == "set":
        challenge = _pkce()[1]
    endpoint = _discovery(op)["authorization_endpoint"]
    params = _auth_params(op, scope=scope, challenge=challenge, state=state, nonce=nonce, **extra)
    return _walk(session, session.get(endpoint, params=params, allow_redirects=False, timeout=10))


def _choose(session, page: requests.Response, **data) -> requests.Response | dict:
    form = form_with(page.text, action_contains="/interaction/")
    response = session.post(urljoin(page.url, form["action"]), data=data, allow_redirects=False, timeout=10)
    return _walk(session, response)


def _token(op, code: str, verifier: str, *, method: str = "client_secret_basic") -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    data["code_verifier"] = verifier
    auth = None
    if method == "client_secret_basic":
        auth = (op.client_id, op.client_secret)
    else:
        data |= {"client_id": op.client_id, "client_secret": op.client_secret}
    return requests.post(_discovery(op)["token_endpoint"], data=data, auth=auth, timeout=10)


def _verified_claims(op, id_token: str) -> dict:
    keys = KeySet.import_key_set(requests.get(_discovery(op)["jwks_uri"], timeout=10).json())
    return jwt.decode(id_token, keys, algorithms=["RS256"]).claims


def _login(session, op, account: str, *, scope: str, method="client_secret_basic", nonce=None) -> dict:
    """The whole code + PKCE flow; returns the token response with the ID token's verified claims."""
    verifier, challenge = _pkce()
    state, nonce = secrets.token_urlsafe(8), nonce or secrets.token_urlsafe(8)
    page = _start(session, op, scope=scope, challenge=challenge, state=state, nonce=nonce)
    assert isinstance(page, requests.Response) and page.status_code == 200, page
    callback = _choose(session, page, account=account)
    assert isinstance(callback, dict) and callback["state"] == state, callback
    assert callback["iss"] == op.issuer
    tokens = _token(op, callback["code"], verifier, method=method)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    claims = _verified_claims(op, body["id_token"])
    assert claims["iss"] == op.issuer and claims["aud"] == op.client_id and claims["nonce"] == nonce
    return {**body, "claims": claims}


def _all_scopes(kind: str) -> str:
    return " ".join(["openid", *CLAIMS[kind]])


@pytest.mark.parametrize("kind", ["citizen", "business", "investor"])
def test_discovery_describes_a_code_and_pkce_only_provider_with_one_scope_per_claim(test_ops, kind):
    op = test_ops[kind]
    config = _discovery(op)
    assert op.issuer.startswith("http://127.0.0.1:")
    assert config["issuer"] == op.issuer
    assert set(config["scopes_supported"]) == {"openid", "profile", *CLAIMS[kind]}
    assert set(CLAIMS[kind]) <= set(config["claims_supported"])
    assert config["response_types_supported"] == ["code"]
    assert config["grant_types_supported"] == ["authorization_code"]
    assert config["code_challenge_methods_supported"] == ["S256"]
    methods = {"client_secret_basic", "client_secret_post"}
    assert set(config["token_endpoint_auth_methods_supported"]) == methods
    assert config["end_session_endpoint"] == f"{op.issuer}/session/end"


def test_the_three_providers_are_separate_issuers(test_ops):
    assert set(test_ops) == {"citizen", "business", "investor"}
    assert len({op.issuer for op in test_ops.values()}) == 3


@pytest.mark.parametrize(
    ("kind", "account"),
    [("citizen", a) for a in ("somchai", "somying", "arunee", "wichai")]
    + [("business", "director"), ("business", "staff"), ("investor", "yamada"), ("investor", "schmidt")],
)
def test_code_and_pkce_login_gives_the_accounts_claims_in_the_id_token_and_userinfo(test_ops, kind, account):
    op = test_ops[kind]
    result = _login(requests.Session(), op, account, scope=_all_scopes(kind))
    expected = op.accounts[account]
    assert {claim: result["claims"].get(claim) for claim in CLAIMS[kind]} == expected
    assert result["claims"]["sub"] == account
    assert "refresh_token" not in result
    userinfo = requests.get(
        _discovery(op)["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {result['access_token']}"},
        timeout=10,
    )
    assert userinfo.status_code == 200
    assert userinfo.json() == {"sub": account, **expected}


def test_only_the_requested_scopes_claims_are_released(test_ops):
    op = test_ops["citizen"]
    claims = _login(requests.Session(), op, "somying", scope="openid pid")["claims"]
    assert claims["pid"] == "3100500678905"
    assert "name" not in claims and "email" not in claims


def test_scopes_of_other_kinds_are_ignored_not_errors(test_ops):
    op = test_ops["citizen"]
    scope = "openid pid juristic_id passport_number"
    claims = _login(requests.Session(), op, "somchai", scope=scope)["claims"]
    assert claims["pid"] == "1101700123456"
    assert "juristic_id" not in claims and "passport_number" not in claims


def test_client_secret_post_works_too_and_a_wrong_secret_does_not(test_ops):
    op = test_ops["investor"]
    claims = _login(requests.Session(), op, "yamada", scope="openid nationality", method="client_secret_post")
    assert claims["claims"]["nationality"] == "JPN"

    session = requests.Session()
    verifier, challenge = _pkce()
    callback = _choose(session, _start(session, op, challenge=challenge), account="yamada")
    wrong_secret = (op.client_id, "not-the-secret")
    data = {"grant_type": "authorization_code", "code": callback["code"], "redirect_uri": REDIRECT_URI}
    data["code_verifier"] = verifier
    wrong = requests.post(_discovery(op)["token_endpoint"], data=data, auth=wrong_secret, timeout=10)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


def test_pkce_is_required(test_ops):
    result = _start(requests.Session(), test_ops["citizen"], challenge=None)
    assert isinstance(result, dict), result
    assert result["error"] == "invalid_request" and "PKCE" in result["error_description"]


def test_a_wrong_code_verifier_gets_no_tokens(test_ops):
    op = test_ops["business"]
    session = requests.Session()
    callback = _choose(session, _start(session, op), account="staff")
    response = _token(op, callback["code"], _pkce()[0])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_sign_in_page_offers_every_account_and_cancel(test_ops):
    op = test_ops["citizen"]
    page = _start(requests.Session(), op)
    assert page.headers["Content-Type"].startswith("text/html")
    assert "<h1>ThaID-like test provider</h1>" in page.text
    form = form_with(page.text, action_contains="/interaction/")
    assert set(form["buttons"]) == {("account", account) for account in op.accounts} | {("cancel", "1")}
    assert "นายสมชาย ใจดี</button>" in page.text
    assert "<script" not in page.text and "http" not in page.text.split("<body>")[1]  # no external assets


def test_cancel_ends_the_interaction_with_access_denied(test_ops):
    session = requests.Session()
    callback = _choose(session, _start(session, test_ops["business"], state="xyz"), cancel="1")
    assert callback["error"] == "access_denied" and callback["state"] == "xyz"


def test_an_unknown_account_gets_a_400_page(test_ops):
    session = requests.Session()
    response = _choose(session, _start(session, test_ops["investor"]), account="nobody")
    assert response.status_code == 400
    assert "unknown account" in response.text


def test_an_unregistered_redirect_uri_gets_a_400_page_not_a_redirect(test_ops):
    op = test_ops["citizen"]
    params = _auth_params(op, scope="openid", challenge=_pkce()[1], state="s", nonce="n")
    params["redirect_uri"] = "http://evil.test/cb"
    response = requests.get(_discovery(op)["authorization_endpoint"], params=params, allow_redirects=False)
    assert response.status_code == 400 and "redirect_uri" in response.text


def test_an_expired_or_foreign_interaction_url_gets_a_400_page(test_ops):
    op = test_ops["citizen"]
    page = _start(requests.Session(), op)
    response = requests.get(page.url, timeout=10)  # no interaction cookie: another browser
    assert response.status_code == 400


class _FakePortal:
    """A minimal relying party at http://portal.test (reached through a requests adapter): enough
    for ``login_via_test_op`` and the logout redirect, using the same plain-requests client code."""

    def __init__(self, ops) -> None:
        self.ops = {PROVIDER_NAMES[kind]: op for kind, op in ops.items()}
        self.pending: dict[str, tuple] = {}
        self.logins: list[dict] = []
        self.server = LoopbackServer(self.wsgi)

    def wsgi(self, environ, start_response):
        request = Request(environ)
        path = request.path
        if path.startswith("/login/") and path.removeprefix("/login/") in self.ops:
            op = self.ops[path.removeprefix("/login/")]
            verifier, challenge = _pkce()
            state = secrets.token_urlsafe(8)
            self.pending[state] = (op, verifier)
            params = _auth_params(op, scope=_all_scopes(op.kind), challenge=challenge, state=state, nonce="n")
            location = f"{_discovery(op)['authorization_endpoint']}?{urlencode(params)}"
            response = Response(status=302, headers={"Location": location})
        elif path == "/auth/callback" and request.args.get("state") in self.pending:
            op, verifier = self.pending.pop(request.args["state"])
            tokens = _token(op, request.args["code"], verifier).json()
            self.logins.append(_verified_claims(op, tokens["id_token"]) | {"id_token": tokens["id_token"]})
            response = Response(status=303, headers={"Location": "/account"})
        elif path in ("/", "/account"):
            response = Response(f"portal page {path}")
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)

    def session(self) -> requests.Session:
        session = requests.Session()
        session.mount(PORTAL, _Forward(PORTAL, self.server.url))
        return session


class _Forward(requests.adapters.HTTPAdapter):
    """Sends requests for ``source`` to ``target`` while every URL the caller sees stays ``source``."""

    def __init__(self, source: str, target: str) -> None:
        super().__init__()
        self.source, self.target = source, target

    def send(self, request, **kwargs):
        original = request.url
        request.url = self.target + original[len(self.source) :]
        response = super().send(request, **kwargs)
        request.url = response.url = original
        return response


@pytest.fixture
def fake_portal(test_ops):
    portal = _FakePortal(test_ops)
    yield portal
    portal.server.close()


@pytest.mark.parametrize(
    ("kind", "account"), [("citizen", "arunee"), ("business", "director"), ("investor", "schmidt")]
)
def test_login_via_test_op_drives_a_relying_party_through_each_provider(fake_portal, test_ops, kind, account):
    session = fake_portal.session()
    response = login_via_test_op(session, PORTAL, PROVIDER_NAMES[kind], account)
    assert response.status_code == 200 and response.url == f"{PORTAL}/account"
    assert fake_portal.logins[-1]["iss"] == test_ops[kind].issuer
    assert fake_portal.logins[-1]["sub"] == account
    assert fake_portal.logins[-1]["email"] == test_ops[kind].accounts[account]["email"]


def test_login_via_test_op_refuses_an_account_the_provider_does_not_offer(fake_portal):
    with pytest.raises(AssertionError, match="yamada is not offered"):
        login_via_test_op(fake_portal.session(), PORTAL, "thaid-test", "yamada")


def test_single_sign_on_until_rp_initiated_logout_ends_the_op_session(fake_portal, test_ops):
    op = test_ops["citizen"]
    session = fake_portal.session()
    login_via_test_op(session, PORTAL, "thaid-test", "wichai")
    id_token = fake_portal.logins[-1]["id_token"]

    again = _start(session, op)  # the OP remembers the person: straight back to the portal
    assert isinstance(again, dict) and "code" in again

    end = session.get(
        _discovery(op)["end_session_endpoint"],
        params={"id_token_hint": id_token, "post_logout_redirect_uri": f"{PORTAL}/", "state": "bye"},
        timeout=10,
    )
    assert end.status_code == 200 and "<form" in end.text  # one small form, auto-submitted in browsers
    done = logout_at_test_op(session, end)
    assert done.status_code == 200 and done.url == f"{PORTAL}/?state=bye"

    after = _start(session, op)  # signed out at the OP: the sign-in page again
    assert isinstance(after, requests.Response) and "/interaction/" in after.url


def test_logout_at_test_op_leaves_other_pages_alone(fake_portal):
    session = fake_portal.session()
    page = session.get(f"{PORTAL}/", timeout=10)
    assert logout_at_test_op(session, page) is page


def test_idp_config_toml_describes_each_running_provider(test_ops):
    config = tomllib.loads(idp_config_toml(test_ops))
    providers = config["providers"]
    assert set(providers) == {"thaid-test", "business-test", "investor-test"}
    for kind, op in test_ops.items():
        entry = providers[PROVIDER_NAMES[kind]]
        discovery = _discovery(op)
        assert entry["discovery_url"] == op.discovery_url
        assert (entry["client_id"], entry["client_secret"], entry["audience"]) == (
            op.client_id,
            op.client_secret,
            kind,
        )
        assert entry["label_th"] and entry["label_en"]
        assert "openid" in entry["scopes"] and set(entry["scopes"]) <= set(discovery["scopes_supported"])
        assert set(entry["claims"].values()) <= set(discovery["claims_supported"])
    assert providers["thaid-test"]["scopes"] == ["openid", "pid", "name", "name_en", "email"]
    assert providers["thaid-test"]["claims"]["pid"] == "pid"
    assert providers["business-test"]["claims"]["juristic_id"] == "juristic_id"
    assert providers["business-test"]["claims"]["role"] == "role"
    assert providers["investor-test"]["claims"] == {
        "passport_number": "passport_number",
        "nationality": "nationality",
        "name_en": "name",
        "email": "email",
    }


def test_the_portal_accepts_the_generated_idp_config(test_ops, tmp_path):
    from portal.auth.providers import load_idp_config

    path = tmp_path / "idps.toml"
    path.write_text(idp_config_toml(test_ops), encoding="utf-8")
    providers = load_idp_config(path, environ={})
    assert {name: p.audience for name, p in providers.items()} == {
        "thaid-test": "citizen",
        "business-test": "business",
        "investor-test": "investor",
    }
    assert providers["business-test"].client_secret == test_ops["business"].client_secret


def test_accounts_are_the_sample_people_and_carry_valid_ids(test_ops):
    citizens = test_ops["citizen"].accounts
    assert {a["pid"] for a in citizens.values()} == {p.pid for p in SAMPLE_PEOPLE if p.pid}
    assert citizens["somchai"]["given_name"] == "สมชาย" and citizens["somchai"]["family_name"] == "ใจดี"
    assert citizens["somying"]["given_name"] == "สมหญิง"  # นางสาว, not นาง + "สาวสมหญิง"
    for account in [*citizens.values(), *test_ops["business"].accounts.values()]:
        assert pid_is_valid(account["pid"]), account
    business = test_ops["business"].accounts
    assert {a["role"] for a in business.values()} == {"director", "staff"}
    assert all(pid_is_valid(a["juristic_id"]) for a in business.values())
    for account in test_ops["investor"].accounts.values():
        assert "pid" not in account and len(account["nationality"]) == 3 and account["passport_number"]


def test_start_fails_clearly_when_npm_dependencies_are_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(oidc_ops, "OP_DIR", tmp_path)
    with pytest.raises(RuntimeError, match="make test"):
        start_test_ops(tmp_path, redirect_uris=[REDIRECT_URI], post_logout_redirect_uris=[])


def test_start_fails_with_the_providers_stderr_when_it_cannot_start(tmp_path, monkeypatch):
    broken = tmp_path / "broken.js"
    broken.write_text("console.error('cannot load the provider: boom'); process.exit(3);\n")
    monkeypatch.setattr(oidc_ops, "SERVER_JS", broken)
    with pytest.raises(RuntimeError, match=r"(?s)exited with status 3.*boom"):
        start_test_ops(tmp_path, redirect_uris=[REDIRECT_URI], post_logout_redirect_uris=[])


def test_providers_stop_when_stopped_or_when_their_parent_goes(tmp_path):
    ops, processes = start_test_ops(tmp_path, redirect_uris=[REDIRECT_URI], post_logout_redirect_uris=[])
    try:
        assert json.loads(requests.get(ops["investor"].discovery_url, timeout=10).text)["issuer"]
        lifeline = processes[0].process
        lifeline.stdin.close()  # what the OS does when the test run is killed
        lifeline.wait(timeout=10)
        with pytest.raises(requests.ConnectionError):
            requests.get(ops[processes[0].kind].discovery_url, timeout=5)
    finally:
        for process in processes:
            process.stop()
    assert all(process.process.poll() is not None for process in processes)
    time.sleep(0.1)
    with pytest.raises(requests.ConnectionError):
        requests.get(ops["investor"].discovery_url, timeout=5)
