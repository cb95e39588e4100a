"""The embedded development OpenID Provider, driven as a relying party would drive it."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import stat
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from authlib.integrations.flask_client import OAuth
from authlib.oidc.discovery import OpenIDProviderMetadata
from flask import Flask, jsonify, request
from jinja2 import ChoiceLoader, DictLoader
from joserfc import jwt
from joserfc.jwk import KeySet

from portal.devidp import EXTENSION_KEY, init_devidp
from portal.devidp.keys import KEY_FILE_NAME
from portal.devidp.people import SAMPLE_PEOPLE, find_person
from tests.loopback import LoopbackServer

REPO = Path(__file__).resolve().parents[2]
CLIENT_ID = "tra-portal-test"
CLIENT_SECRET = "test-client-secret"
BASE_URL = "http://localhost"
REDIRECT_URI = BASE_URL + "/auth/callback"
SCOPE = "openid profile email pid name_en"
DISCOVERY = "/devidp/.well-known/openid-configuration"
STAND_IN_LAYOUT = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{% block title %}{% endblock %}</title></head>
<body><main>{% block content %}{% endblock %}</main></body></html>"""


def make_devidp_app(instance_path: Path, base_url: str = BASE_URL, **config: object) -> Flask:
    from portal.extensions import babel, csrf

    app = Flask(__name__, template_folder=str(REPO / "templates"), instance_path=str(instance_path))
    # The portal's real layout links to the portal's own pages; this tiny app has only /devidp.
    app.jinja_loader = ChoiceLoader([DictLoader({"base.html": STAND_IN_LAYOUT}), app.jinja_loader])
    app.config.update(
        {
            "SECRET_KEY": "test-secret",
            "DEV_IDP_CLIENT_ID": CLIENT_ID,
            "DEV_IDP_CLIENT_SECRET": CLIENT_SECRET,
            "PUBLIC_BASE_URL": base_url + "/",
            "WTF_CSRF_ENABLED": False,
            **config,
        }
    )
    csrf.init_app(app)
    babel.init_app(app)
    init_devidp(app)
    return app


@pytest.fixture
def devidp_app(tmp_path: Path) -> Flask:
    return make_devidp_app(tmp_path)


@pytest.fixture
def devidp_client(devidp_app: Flask):
    return devidp_app.test_client()


# --- helpers -------------------------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_query(challenge: str, **overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "state": secrets.token_urlsafe(12),
        "nonce": secrets.token_urlsafe(12),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


class LoginForm(HTMLParser):
    """Hidden inputs and submit buttons of the login page, as a browser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.hidden: dict[str, str] = {}
        self.buttons: list[tuple[str, str]] = []
        self.tags: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        self.attributes.update(values)
        if tag == "form":
            self.action = values.get("action")
        elif tag == "input" and values.get("type") == "hidden":
            self.hidden[values["name"]] = values.get("value", "")
        elif tag == "button" and values.get("type") == "submit":
            self.buttons.append((values["name"], values["value"]))


def parse_login_page(html: str) -> LoginForm:
    form = LoginForm()
    form.feed(html)
    return form


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def log_in(
    client, sub: str = "dev-somchai", **overrides: str | None
) -> tuple[dict[str, str], dict[str, str], str]:
    """The browser's part: authorization request, login page, choice. Returns (sent, answer, verifier)."""
    verifier, challenge = pkce_pair()
    sent = authorization_query(challenge, **overrides)
    page = client.get("/devidp/authorize?" + urlencode(sent))
    assert page.status_code == 200, page.get_data(as_text=True)
    form = parse_login_page(page.get_data(as_text=True))
    response = client.post(form.action, data={**form.hidden, "sub": sub})
    assert response.status_code == 302
    assert response.location.startswith(REDIRECT_URI + "?")
    return sent, query_of(response.location), verifier


def exchange(client, code: str, verifier: str | None, *, basic: bool = True, secret: str = CLIENT_SECRET):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if verifier is not None:
        data["code_verifier"] = verifier
    headers = {}
    if basic:
        credentials = base64.b64encode(f"{CLIENT_ID}:{secret}".encode()).decode()
        headers["Authorization"] = f"Basic {credentials}"
    else:
        data.update(client_id=CLIENT_ID, client_secret=secret)
    return client.post("/devidp/token", data=data, headers=headers)


def verify_id_token(client, id_token: str) -> tuple[dict, dict]:
    jwks = KeySet.import_key_set(client.get("/devidp/jwks").get_json())
    token = jwt.decode(id_token, jwks, algorithms=["RS256"])
    return dict(token.header), dict(token.claims)


def at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


# --- discovery and keys --------------------------------------------------------------------


def test_discovery_document_describes_the_provider(devidp_client):
    response = devidp_client.get(DISCOVERY)
    assert response.status_code == 200
    metadata = response.get_json()
    assert metadata["issuer"] == "http://localhost/devidp"
    assert metadata["authorization_endpoint"] == "http://localhost/devidp/authorize"
    assert metadata["token_endpoint"] == "http://localhost/devidp/token"
    assert metadata["userinfo_endpoint"] == "http://localhost/devidp/userinfo"
    assert metadata["jwks_uri"] == "http://localhost/devidp/jwks"
    assert metadata["end_session_endpoint"] == "http://localhost/devidp/logout"
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["subject_types_supported"] == ["public"]
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    assert metadata["scopes_supported"] == ["openid", "profile", "email", "pid", "name_en"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post"]
    assert {"sub", "name", "name_en", "email", "pid"} <= set(metadata["claims_supported"])
    OpenIDProviderMetadata(metadata).validate()


def test_issuer_follows_the_request_host(devidp_client):
    metadata = devidp_client.get(DISCOVERY, base_url="http://127.0.0.1:8765").get_json()
    assert metadata["issuer"] == "http://127.0.0.1:8765/devidp"
    assert metadata["token_endpoint"] == "http://127.0.0.1:8765/devidp/token"


def test_signing_key_is_rsa_2048_private_to_its_file_and_shared(tmp_path):
    first = make_devidp_app(tmp_path).test_client().get("/devidp/jwks").get_json()
    key_file = tmp_path / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    (key,) = first["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
    assert len(base64.urlsafe_b64decode(key["n"] + "==")) == 256
    assert "d" not in key and "p" not in key
    # Another app (another worker, a restart) over the same instance folder signs with the same key.
    second = make_devidp_app(tmp_path).test_client().get("/devidp/jwks").get_json()
    assert second == first


def test_processes_racing_to_make_the_key_agree_on_one(tmp_path):
    from concurrent.futures import ProcessPoolExecutor

    from portal.devidp.keys import load_or_create_signing_key

    path = tmp_path / KEY_FILE_NAME
    with ProcessPoolExecutor(max_workers=4) as pool:
        kids = set(pool.map(_kid_of_key_at, [path] * 4))
    assert kids == {load_or_create_signing_key(path).kid}
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE_NAME]


def _kid_of_key_at(path: Path) -> str:
    from portal.devidp.keys import load_or_create_signing_key

    return load_or_create_signing_key(path).kid


def test_sample_people_have_valid_national_ids():
    assert [p.sub for p in SAMPLE_PEOPLE] == [
        "dev-somchai",
        "dev-somying",
        "dev-arunee",
        "dev-wichai",
        "dev-malee",
        "dev-yamada",
    ]
    for person in SAMPLE_PEOPLE:
        if person.pid is None:  # the foreign investor: a passport instead
            assert person.passport_number and person.nationality == "JPN"
            continue
        digits = [int(d) for d in person.pid]
        total = sum(d * (13 - i) for i, d in enumerate(digits[:12]))
        assert (11 - total % 11) % 10 == digits[12], person.pid


# --- the login page ------------------------------------------------------------------------


def test_login_page_lists_the_sample_people_and_carries_the_request(devidp_client):
    _, challenge = pkce_pair()
    sent = authorization_query(challenge)
    response = devidp_client.get("/devidp/authorize?" + urlencode(sent))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Development identity provider — not a real login" in html
    assert "ผู้ให้บริการยืนยันตัวตนสำหรับการพัฒนา" in html
    for person in SAMPLE_PEOPLE:
        assert person.name in html
        assert person.name_en in html
        assert person.formatted_pid in html
        assert person.note_en in html
    assert "1-1017-00123-45-6" in html

    form = parse_login_page(html)
    assert form.action == "/devidp/authorize"
    assert {name: value for name, value in form.hidden.items() if name != "csrf_token"} == sent
    assert "csrf_token" in form.hidden
    assert ("sub", "dev-wichai") in form.buttons
    assert ("action", "cancel") in form.buttons
    assert {"fieldset", "legend"} <= form.tags
    assert "script" not in form.tags and "style" not in form.tags and "style" not in form.attributes


def test_login_page_notes_follow_the_language(tmp_path):
    app = make_devidp_app(tmp_path, BABEL_DEFAULT_LOCALE="th")
    _, challenge = pkce_pair()
    html = (
        app.test_client()
        .get("/devidp/authorize?" + urlencode(authorization_query(challenge)))
        .get_data(as_text=True)
    )
    assert "มีใบขับขี่รถยนต์และรถจักรยานยนต์" in html


# --- the whole flow ------------------------------------------------------------------------


@pytest.mark.parametrize("person", SAMPLE_PEOPLE, ids=lambda p: p.sub)
def test_code_flow_gives_a_signed_id_token_and_userinfo(devidp_client, person):
    sent, answer, verifier = log_in(devidp_client, person.sub)
    assert answer["state"] == sent["state"]
    assert set(answer) == {"code", "state"}

    response = exchange(devidp_client, answer["code"], verifier)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    token = response.get_json()
    assert token["token_type"] == "Bearer"
    assert token["scope"] == SCOPE
    assert "refresh_token" not in token

    header, claims = verify_id_token(devidp_client, token["id_token"])
    assert header["alg"] == "RS256"
    assert header["kid"] == devidp_client.get("/devidp/jwks").get_json()["keys"][0]["kid"]
    assert claims["iss"] == "http://localhost/devidp"
    assert claims["aud"] == CLIENT_ID
    assert claims["nonce"] == sent["nonce"]
    assert claims["at_hash"] == at_hash(token["access_token"])
    assert claims["iat"] <= claims["auth_time"] + 1 and claims["exp"] > claims["iat"]
    for name in ("sub", "name", "name_en", "email", "pid", "passport_number", "nationality"):
        assert claims.get(name) == getattr(person, name)

    userinfo = devidp_client.get(
        "/devidp/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert userinfo.status_code == 200
    assert userinfo.get_json() == person.claims()


def test_claims_do_not_depend_on_the_scopes_asked_for(devidp_client):
    _, answer, verifier = log_in(devidp_client, "dev-arunee", scope="openid", nonce=None)
    token = exchange(devidp_client, answer["code"], verifier).get_json()
    assert token["scope"] == "openid"
    _, claims = verify_id_token(devidp_client, token["id_token"])
    assert claims["pid"] == "1101400555555" and claims["name_en"] == "Mrs. Arunee Kaewmanee"
    assert "nonce" not in claims


def test_client_secret_post_is_accepted(devidp_client):
    _, answer, verifier = log_in(devidp_client)
    response = exchange(devidp_client, answer["code"], verifier, basic=False)
    assert response.status_code == 200
    assert "id_token" in response.get_json()


# --- what must fail ------------------------------------------------------------------------


def test_a_code_works_once_and_its_reuse_revokes_the_token(devidp_client):
    _, answer, verifier = log_in(devidp_client)
    first = exchange(devidp_client, answer["code"], verifier)
    assert first.status_code == 200
    access_token = first.get_json()["access_token"]

    again = exchange(devidp_client, answer["code"], verifier)
    assert again.status_code == 400
    assert again.get_json()["error"] == "invalid_grant"
    userinfo = devidp_client.get("/devidp/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    assert userinfo.status_code == 401


def test_wrong_or_missing_verifier_is_refused(devidp_client):
    _, answer, _ = log_in(devidp_client)
    wrong_verifier, _ = pkce_pair()
    response = exchange(devidp_client, answer["code"], wrong_verifier)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"

    _, answer, _ = log_in(devidp_client)
    response = exchange(devidp_client, answer["code"], None)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_codes_expire_after_sixty_seconds(devidp_client, monkeypatch):
    import time

    from portal.devidp import store

    _, answer, verifier = log_in(devidp_client)
    real_time = time.time
    monkeypatch.setattr(store.time, "time", lambda: real_time() + 61)
    response = exchange(devidp_client, answer["code"], verifier)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_racing_exchanges_of_one_code_give_one_token(devidp_app):
    _, answer, verifier = log_in(devidp_app.test_client())
    statuses: list[int] = []
    start = threading.Barrier(8)

    def race() -> None:
        client = devidp_app.test_client()
        start.wait()
        statuses.append(exchange(client, answer["code"], verifier).status_code)

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [400] * 7


def test_a_nonce_is_not_accepted_twice(devidp_client):
    sent, answer, verifier = log_in(devidp_client)
    assert exchange(devidp_client, answer["code"], verifier).status_code == 200
    _, challenge = pkce_pair()
    replay = authorization_query(challenge, nonce=sent["nonce"])
    response = devidp_client.get("/devidp/authorize?" + urlencode(replay))
    assert response.status_code == 302
    assert query_of(response.location)["error"] == "invalid_request"


@pytest.mark.parametrize(
    "overrides",
    [
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge_method": None},
        {"code_challenge_method": "plain"},
        {"code_challenge": "too-short"},
    ],
    ids=["no-pkce", "no-method", "plain", "bad-challenge"],
)
def test_pkce_with_s256_is_required(devidp_client, overrides):
    _, challenge = pkce_pair()
    sent = authorization_query(challenge, **overrides)
    response = devidp_client.get("/devidp/authorize?" + urlencode(sent))
    assert response.status_code == 302
    answer = query_of(response.location)
    assert response.location.startswith(REDIRECT_URI + "?")
    assert answer["error"] == "invalid_request"
    assert answer["state"] == sent["state"]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"redirect_uri": "https://attacker.example/auth/callback"}, "invalid_request"),
        ({"redirect_uri": REDIRECT_URI + "/extra"}, "invalid_request"),
        ({"client_id": "someone-else"}, "invalid_client"),
        ({"client_id": None}, "invalid_client"),
    ],
    ids=["foreign-redirect", "longer-redirect", "unknown-client", "no-client"],
)
def test_untrusted_requests_are_answered_here_not_redirected(devidp_client, overrides, error):
    _, challenge = pkce_pair()
    query = urlencode(authorization_query(challenge, **overrides))
    for response in (
        devidp_client.get("/devidp/authorize?" + query),
        devidp_client.post("/devidp/authorize?" + query, data={"sub": "dev-somchai"}),
    ):
        assert response.status_code == 400
        assert "Location" not in response.headers
        assert response.get_json()["error"] == error


def test_unsupported_response_type_goes_back_to_the_client(devidp_client):
    _, challenge = pkce_pair()
    sent = authorization_query(challenge, response_type="token")
    response = devidp_client.get("/devidp/authorize?" + urlencode(sent))
    assert response.status_code == 302
    assert query_of(response.location)["error"] == "unsupported_response_type"


def test_cancel_returns_access_denied_with_the_state(devidp_client):
    _, challenge = pkce_pair()
    sent = authorization_query(challenge)
    form = parse_login_page(devidp_client.get("/devidp/authorize?" + urlencode(sent)).get_data(as_text=True))
    response = devidp_client.post(form.action, data={**form.hidden, "action": "cancel"})
    assert response.status_code == 302
    assert response.location.startswith(REDIRECT_URI + "?")
    answer = query_of(response.location)
    assert answer["error"] == "access_denied"
    assert answer["state"] == sent["state"]
    assert "code" not in answer


@pytest.mark.parametrize("sub", ["dev-nobody", "", None])
def test_an_unknown_person_gets_a_plain_400(devidp_client, sub):
    _, challenge = pkce_pair()
    data = authorization_query(challenge)
    if sub is not None:
        data["sub"] = sub
    response = devidp_client.post("/devidp/authorize", data=data)
    assert response.status_code == 400
    assert "Unknown sample person" in response.get_data(as_text=True)


def test_prompt_none_answers_login_required(devidp_client):
    _, challenge = pkce_pair()
    sent = authorization_query(challenge, prompt="none")
    response = devidp_client.get("/devidp/authorize?" + urlencode(sent))
    assert response.status_code == 302
    assert query_of(response.location)["error"] == "login_required"


def test_token_endpoint_refuses_bad_clients_and_grants(devidp_client):
    _, answer, verifier = log_in(devidp_client)
    response = exchange(devidp_client, answer["code"], verifier, secret="wrong")
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"

    response = devidp_client.post("/devidp/token", data={"grant_type": "password"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "unsupported_grant_type"

    response = devidp_client.post("/devidp/token", data={})
    assert response.status_code == 400

    assert devidp_client.get("/devidp/token").status_code == 405


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic abc", "Bearer"])
def test_userinfo_needs_a_valid_bearer_token(devidp_client, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = devidp_client.get("/devidp/userinfo", headers=headers)
    assert 400 <= response.status_code < 500


# --- logout --------------------------------------------------------------------------------


def _id_token(client) -> str:
    _, answer, verifier = log_in(client)
    return exchange(client, answer["code"], verifier).get_json()["id_token"]


def test_logout_returns_to_a_path_on_the_portal(devidp_client):
    id_token = _id_token(devidp_client)
    query = {"post_logout_redirect_uri": BASE_URL + "/logged-out?x=1", "id_token_hint": id_token}
    response = devidp_client.get("/devidp/logout?" + urlencode(query))
    assert response.status_code == 302
    assert response.location == BASE_URL + "/logged-out?x=1"

    query = {"post_logout_redirect_uri": BASE_URL + "/", "client_id": CLIENT_ID, "state": "s1"}
    response = devidp_client.get("/devidp/logout?" + urlencode(query))
    assert response.status_code == 302
    assert response.location == BASE_URL + "/?state=s1"


@pytest.mark.parametrize(
    "target",
    [
        "https://attacker.example/",
        "http://localhost.attacker.example/",
        "http://localhost@attacker.example/",
        "http://localhost//attacker.example/",
        "http://localhost:8080/",
        "https://localhost/",
        "/relative",
        "javascript:alert(1)",
    ],
)
def test_logout_never_redirects_elsewhere(devidp_client, target):
    response = devidp_client.get(
        "/devidp/logout?" + urlencode({"post_logout_redirect_uri": target, "client_id": CLIENT_ID})
    )
    assert response.status_code == 200
    assert "You are logged out of the development identity provider" in response.get_data(as_text=True)


@pytest.mark.parametrize("hint", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
def test_logout_with_a_bad_id_token_hint_shows_the_plain_page(devidp_client, hint):
    query = {"post_logout_redirect_uri": BASE_URL + "/", "id_token_hint": hint}
    response = devidp_client.get("/devidp/logout?" + urlencode(query))
    assert response.status_code == 200
    assert "Location" not in response.headers


def test_logout_without_anything_shows_the_plain_page(devidp_client):
    response = devidp_client.get("/devidp/logout")
    assert response.status_code == 200
    assert "You are logged out" in response.get_data(as_text=True)


# --- wiring --------------------------------------------------------------------------------


def test_csrf_guards_the_login_form_but_not_the_back_channel(tmp_path):
    app = make_devidp_app(tmp_path, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    verifier, challenge = pkce_pair()
    sent = authorization_query(challenge)
    html = client.get("/devidp/authorize?" + urlencode(sent)).get_data(as_text=True)
    form = parse_login_page(html)

    without_token = {k: v for k, v in form.hidden.items() if k != "csrf_token"}
    assert client.post(form.action, data={**without_token, "sub": "dev-somchai"}).status_code == 400

    response = client.post(form.action, data={**form.hidden, "sub": "dev-somchai"})
    assert response.status_code == 302
    token = exchange(client, query_of(response.location)["code"], verifier)
    assert token.status_code == 200
    access = token.get_json()["access_token"]
    userinfo = client.post("/devidp/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert userinfo.status_code == 200


def test_apps_in_one_process_keep_separate_state(tmp_path):
    first = make_devidp_app(tmp_path / "a").test_client()
    second = make_devidp_app(tmp_path / "b").test_client()
    _, answer, verifier = log_in(first)
    assert exchange(second, answer["code"], verifier).get_json()["error"] == "invalid_grant"
    assert exchange(first, answer["code"], verifier).status_code == 200
    assert first.get("/devidp/jwks").get_json() != second.get("/devidp/jwks").get_json()


def test_state_lives_in_app_extensions(devidp_app):
    idp = devidp_app.extensions[EXTENSION_KEY]
    assert idp.client.redirect_uri == REDIRECT_URI
    assert idp.client.client_id == CLIENT_ID
    assert devidp_app.blueprints["devidp"].access == "public"


# --- over real HTTP, with Authlib's own Flask client as the relying party ------------------


@pytest.fixture
def devidp_live_portal(tmp_path: Path) -> Iterator[str]:
    """The provider plus a minimal relying party in one app, served on a real loopback port."""
    server = LoopbackServer()  # bound now: the provider must know its URL before it exists
    base_url = server.url
    app = make_devidp_app(tmp_path, base_url)

    oauth = OAuth(app)
    oauth.register(
        "devidp",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        server_metadata_url=base_url + DISCOVERY,
        client_kwargs={"scope": SCOPE, "code_challenge_method": "S256"},
    )

    @app.get("/login")
    def login():
        return oauth.devidp.authorize_redirect(base_url + "/auth/callback")

    @app.get("/auth/callback")
    def callback():
        if "error" in request.args:
            return jsonify(error=request.args["error"]), 400
        token = oauth.devidp.authorize_access_token()
        return jsonify(
            id_token_claims=dict(token["userinfo"]), userinfo=dict(oauth.devidp.userinfo(token=token))
        )

    with server.start(app):
        yield base_url


def test_authlib_relying_party_logs_in_over_http(devidp_live_portal):
    base_url = devidp_live_portal
    browser = requests.Session()
    page = browser.get(base_url + "/login", timeout=10)
    assert page.status_code == 200
    assert urlsplit(page.url).path == "/devidp/authorize"
    form = parse_login_page(page.text)
    assert form.hidden["code_challenge_method"] == "S256" and form.hidden["nonce"]

    answer = browser.post(base_url + form.action, data={**form.hidden, "sub": "dev-somying"}, timeout=10)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    person = find_person("dev-somying")
    for name in ("sub", "name", "name_en", "email", "pid"):
        assert result["id_token_claims"][name] == getattr(person, name)
    assert result["id_token_claims"]["iss"] == base_url + "/devidp"
    assert result["userinfo"] == person.claims()


def test_authlib_relying_party_sees_a_cancel(devidp_live_portal):
    base_url = devidp_live_portal
    browser = requests.Session()
    form = parse_login_page(browser.get(base_url + "/login", timeout=10).text)
    answer = browser.post(base_url + form.action, data={**form.hidden, "action": "cancel"}, timeout=10)
    assert answer.status_code == 400
    assert answer.json() == {"error": "access_denied"}


def test_key_file_is_json_jwk(tmp_path):
    make_devidp_app(tmp_path).test_client().get("/devidp/jwks")
    stored = json.loads((tmp_path / KEY_FILE_NAME).read_text())
    assert stored["kty"] == "RSA" and "d" in stored


# --- inside the real portal ----------------------------------------------------------------


@pytest.fixture
def devidp_portal(tmp_path: Path) -> Flask:
    """The whole portal from ``create_app`` (which mounts the provider), on a host that is not loopback."""
    from portal import create_app

    app = create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'tra.db'}",
            "BLOB_DIR": str(tmp_path / "blobs"),
            "DEV_PKI_DIR": str(tmp_path / "dev-pki"),
            "PUBLIC_BASE_URL": "http://portal.test",
            "SAMPLE_REGISTRIES_MOUNTED": False,
        },
    )
    app.instance_path = str(tmp_path)  # the signing key is made here, not in the repository's instance/
    return app


def test_the_portal_mounts_the_provider_with_its_layout_and_csrf(devidp_portal):
    client = devidp_portal.test_client()
    base = "http://portal.test"
    metadata = client.get(DISCOVERY, base_url=base).get_json()
    assert metadata["issuer"] == base + "/devidp"

    verifier, challenge = pkce_pair()
    sent = authorization_query(
        challenge,
        client_id=devidp_portal.config["DEV_IDP_CLIENT_ID"],
        redirect_uri=base + "/auth/callback",
    )
    page = client.get("/devidp/authorize?" + urlencode(sent), base_url=base)
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "มีใบขับขี่รถยนต์และรถจักรยานยนต์" in html  # Thai by default
    form = parse_login_page(html)
    assert form.hidden["csrf_token"]

    response = client.post(form.action, data={**form.hidden, "sub": "dev-wichai"}, base_url=base)
    assert response.status_code == 302, response.get_data(as_text=True)
    answer = query_of(response.location)
    assert response.location.startswith(base + "/auth/callback?")

    credentials = base64.b64encode(
        f"{devidp_portal.config['DEV_IDP_CLIENT_ID']}:{devidp_portal.config['DEV_IDP_CLIENT_SECRET']}".encode()
    ).decode()
    token = client.post(
        "/devidp/token",
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": base + "/auth/callback",
            "code_verifier": verifier,
        },
        headers={"Authorization": f"Basic {credentials}"},
        base_url=base,
    )
    assert token.status_code == 200, token.get_data(as_text=True)
    _, claims = verify_id_token(client, token.get_json()["id_token"])
    assert claims["pid"] == "5709900124574"
