"""The PORTAL_IDP_CONFIG file: what it accepts, and the plain messages for what it does not."""

from __future__ import annotations

import socket
import tomllib
from pathlib import Path

import pytest

from portal.auth.providers import IdpConfigError, load_idp_config, parse_idp_config
from tests.conftest import bare_app

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "idp.example.toml"
SECRETS = {"THAID_CLIENT_SECRET": "s1", "BIZ_IDP_CLIENT_SECRET": "s2", "INVESTOR_IDP_CLIENT_SECRET": "s3"}


def _one(**changes) -> dict:
    table = {
        "label_th": "ทดสอบ",
        "label_en": "Test",
        "discovery_url": "https://op.example/.well-known/openid-configuration",
        "client_id": "tra",
        "client_secret": "very-secret-value",
        "scopes": ["openid", "pid"],
        "audience": "citizen",
        "claims": {"pid": "pid"},
    }
    for key, value in changes.items():
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    return {"providers": {"gov-id": table}}


def test_the_example_file_loads():
    providers = load_idp_config(EXAMPLE, environ=SECRETS)
    assert list(providers) == ["thaid", "biz", "investor"]
    thaid = providers["thaid"]
    assert thaid.audience == "citizen" and thaid.client_secret == "s1"
    assert thaid.scopes == ("openid", "pid", "name", "name_en", "email")
    assert thaid.claims["name_th"] == "name"
    assert providers["investor"].claims["passport_number"] == "passport_number"
    assert "s1" not in repr(thaid)  # the secret stays out of logs


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"audience": "tourist"}, "identity provider 'gov-id': audience 'tourist' is not one of"),
        ({"discovery_url": None}, "identity provider 'gov-id': missing discovery_url"),
        ({"discovery_url": "ftp://op"}, "discovery_url must be an http(s) URL"),
        ({"client_id": 42}, "identity provider 'gov-id': client_id must be a non-empty string"),
        ({"scopes": "openid pid"}, "identity provider 'gov-id': scopes must be a list"),
        ({"claims": {"pid": "pid", "shoe_size": "shoe"}}, "claims.shoe_size is not a portal field"),
        ({"claims": {"pid": 7}}, "claims.pid must be a claim name"),
        ({"claims": {"email": "email"}}, "audience citizen needs a claim for pid"),
        ({"audience": "investor"}, "audience investor needs a claim for passport_number"),
        ({"client_secret": None}, "missing client_secret or client_secret_env"),
        ({"client_secret_env": "X"}, "client_secret or client_secret_env, not both"),
        ({"colour": "blue"}, "unknown key(s) colour"),
    ],
)
def test_mistakes_are_named_by_provider_and_key(changes, message):
    with pytest.raises(IdpConfigError) as caught:
        parse_idp_config(_one(**changes), environ={})
    assert message in str(caught.value)
    assert "very-secret-value" not in str(caught.value)


def test_a_missing_secret_variable_is_named():
    data = _one(client_secret=None, client_secret_env="GOV_ID_SECRET")
    with pytest.raises(IdpConfigError, match="client_secret_env names GOV_ID_SECRET, which is not set"):
        parse_idp_config(data, environ={})
    assert parse_idp_config(data, environ={"GOV_ID_SECRET": "x"})["gov-id"].client_secret == "x"


def test_openid_is_always_asked_for():
    assert parse_idp_config(_one(scopes=["pid"]), environ={})["gov-id"].scopes == ("openid", "pid")


def test_not_toml_and_no_file_are_plain_errors(tmp_path):
    broken = tmp_path / "idp.toml"
    broken.write_text("[providers.x\n")
    with pytest.raises(IdpConfigError, match="is not valid TOML"):
        load_idp_config(broken)
    with pytest.raises(IdpConfigError, match="does not exist"):
        load_idp_config(tmp_path / "missing.toml")
    with pytest.raises(IdpConfigError, match=r"no \[providers.<name>\] table"):
        parse_idp_config(tomllib.loads("providers = 'x'\n"), environ={})


def test_create_app_stops_on_a_bad_file(tmp_path):
    path = tmp_path / "idp.toml"
    path.write_text('[providers.thaid]\nlabel_th = "x"\n')
    with pytest.raises(IdpConfigError, match="identity provider 'thaid': missing discovery_url"):
        bare_app(tmp_path, IDP_CONFIG=str(path))


def test_production_without_providers_says_so_plainly(tmp_path, monkeypatch):
    for name in ("PORTAL_IDP_CONFIG", "OIDC_DISCOVERY_URL"):
        monkeypatch.delenv(name, raising=False)
    app = bare_app(tmp_path, "production", IDP_CONFIG=None, OIDC_DISCOVERY_URL=None, SIGNATURE_LEVEL="B-B")
    client = app.test_client()
    answer = client.get("/login?lang=en")  # pages follow the chosen language (Thai by default)
    assert answer.status_code == 503
    assert "No identity provider is configured" in answer.get_data(as_text=True)
    thai = client.get("/login?lang=th")
    assert thai.status_code == 503 and "ผู้ให้บริการยืนยันตัวตน" in thai.get_data(as_text=True)


def test_development_without_a_file_has_the_one_dev_provider(client):
    answer = client.get("/login?next=/my/documents")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login/dev")


def test_the_oidc_shorthand_is_one_provider(tmp_path):
    app = bare_app(
        tmp_path,
        OIDC_DISCOVERY_URL="https://op.example/.well-known/openid-configuration",
        OIDC_CLIENT_ID="c",
        OIDC_CLIENT_SECRET="s",
    )
    with app.app_context():
        providers = app.extensions["tra.idp"]
    assert list(providers) == ["oidc"] and providers["oidc"].client_id == "c"


def test_unreachable_discovery_is_a_plain_503(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = tmp_path / "idp.toml"
    path.write_text(
        "[providers.down]\n"
        'label_th = "ปิด"\nlabel_en = "Down"\n'
        f'discovery_url = "http://127.0.0.1:{port}/.well-known/openid-configuration"\n'
        'client_id = "c"\nclient_secret = "s"\naudience = "citizen"\n'
    )
    app = bare_app(tmp_path, IDP_CONFIG=str(path))
    client = app.test_client()
    assert client.get("/login").headers["Location"].endswith("/login/down")
    client.get("/lang/en?next=/")
    answer = client.get("/login/down")
    assert answer.status_code == 503
    assert "cannot be reached right now" in answer.get_data(as_text=True)
