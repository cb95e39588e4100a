"""Issuer settings as data, disabling by configuration, and the registry's contract checks: each
mistake stops create_app with a message naming the issuer and the setting, never a secret."""

from __future__ import annotations

import dataclasses

import pytest

from issuers.dlt import DRIVING_LICENCE, DltIssuer
from portal import create_app
from portal.issuing import (
    MASK,
    DuplicateIssuer,
    InvalidIssuer,
    IssuerRegistry,
    IssuerSettingError,
    Setting,
)


def _app(tmp_path, pki_dir, **overrides):
    return create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}",
            "DEV_PKI_DIR": str(pki_dir),
            **overrides,
        },
    )


def test_settings_come_typed_from_the_variables_and_secrets_are_never_shown(tmp_path, pki_dir, cli_runner):
    app = _app(
        tmp_path,
        pki_dir,
        ISSUER_ENV={"ISSUER_DLT_TOKEN": "tok-3f9a", "ISSUER_DLT_RETRIES": "3", "ISSUER_DLT_TIMEOUT": "2,9"},
        DLT_REGISTRY_URL="http://registry.example/dlt",
    )
    settings = app.extensions["tra.issuers"].get("dlt").settings
    assert settings["retries"] == 3 and settings["timeout"] == (2.0, 9.0) and settings["token"] == "tok-3f9a"
    assert settings["registry_url"] == "http://registry.example/dlt"  # the older name still works
    assert settings["enabled"] is True and settings["signature_level"] == "B-B"
    assert "tok-3f9a" not in repr(settings) and "tok-3f9a" not in str(settings) and MASK in repr(settings)
    with pytest.raises(TypeError):
        settings["retries"] = 4  # read-only

    listing = cli_runner(app, ["portal", "issuers"])
    assert "driving-licence  audience citizen" in listing
    assert f"token = {MASK}  [ISSUER_DLT_TOKEN]" in listing and "tok-3f9a" not in listing
    assert "retries = 3  [ISSUER_DLT_RETRIES]" in listing


@pytest.fixture
def cli_runner():
    def run(app, args):
        result = app.test_cli_runner().invoke(args=args)
        assert result.exit_code == 0, result.output
        return result.output

    return run


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"ISSUER_ENV": {"ISSUER_DLT_RETRIES": "many"}},
            "'dlt', setting 'retries' (from ISSUER_DLT_RETRIES)",
        ),
        ({"ISSUER_ENV": {"ISSUER_DLT_TIMEOUT": "-1"}}, "'dlt', setting 'timeout'"),
        ({"ISSUER_ENV": {"ISSUER_DLT_REGISTRY_URL": "ftp://x"}}, "'dlt', setting 'registry_url'"),
        ({"ISSUER_ENV": {"ISSUER_DLT_CLIENT_CERT": "/nonexistent.pem"}}, "'dlt', setting 'client_cert'"),
        ({"ISSUER_ENV": {"ISSUER_DLT_TIMOUT": "3"}}, "ISSUER_DLT_TIMOUT names no setting"),
        ({"ISSUER_SETTINGS": {"dlt": {"tokn": "x"}}}, "ISSUER_SETTINGS names no setting 'tokn'"),
        ({"ISSUER_SETTINGS": {"dlt": {"signature_level": "B-Z"}}}, "unknown signature level"),
    ],
)
def test_a_bad_setting_stops_the_portal_naming_issuer_and_setting(tmp_path, pki_dir, overrides, message):
    with pytest.raises(IssuerSettingError) as caught:
        _app(tmp_path, pki_dir, **overrides)
    assert message in str(caught.value)


def test_a_bad_secret_is_named_but_never_echoed(tmp_path, pki_dir, monkeypatch):
    specs = (*DltIssuer.settings_schema, Setting("api_key", "int", secret=True))
    monkeypatch.setattr(DltIssuer, "settings_schema", specs)
    with pytest.raises(IssuerSettingError) as caught:
        _app(tmp_path, pki_dir, ISSUER_SETTINGS={"dlt": {"api_key": "sk-live-77aa"}})
    assert "'api_key'" in str(caught.value) and "sk-live-77aa" not in str(caught.value)


def test_a_required_setting_must_be_given(tmp_path, pki_dir, monkeypatch):
    monkeypatch.setattr(DltIssuer, "settings_schema", (Setting("registry_url", "url", required=True),))
    with pytest.raises(IssuerSettingError, match="'registry_url' is required: set ISSUER_DLT_REGISTRY_URL"):
        _app(tmp_path, pki_dir, DLT_REGISTRY_URL=None, SAMPLE_REGISTRIES_MOUNTED=False)


def test_the_issuer_signature_level_is_signature_level_of_the_agency(tmp_path, pki_dir):
    from portal.signing.services import issuer_signature_level

    app = _app(tmp_path, pki_dir, SIGNATURE_LEVEL_DLT="B-T", TSA_URL="http://tsa.example")
    assert app.extensions["tra.issuers"].get("dlt").settings["signature_level"] == "B-T"
    app = _app(tmp_path, pki_dir, ISSUER_SETTINGS={"dlt": {"signature_level": "b-lt"}}, TSA_URL="http://t")
    assert app.extensions["tra.issuers"].get("dlt").settings["signature_level"] == "B-LT"
    assert issuer_signature_level(app.extensions["tra.issuers"].get("dlt").settings).value == "B-LT"
    with pytest.raises(RuntimeError, match="needs a time-stamping authority"):
        _app(tmp_path, pki_dir, ISSUER_ENV={"ISSUER_DLT_SIGNATURE_LEVEL": "B-T"}, TSA_URL=None)


@pytest.mark.parametrize(
    "overrides",
    [
        {"DISABLED_ISSUERS": ("dlt",)},
        {"ISSUER_ENV": {"ISSUER_DLT_ENABLED": "0"}},
        {"ISSUER_SETTINGS": {"dlt": {"enabled": False}}},
    ],
)
def test_a_disabled_issuer_is_not_built_offered_or_served(tmp_path, pki_dir, overrides):
    app = _app(tmp_path, pki_dir, **overrides)
    registry = app.extensions["tra.issuers"]
    assert registry.get("dlt") is None and "dlt" in registry.disabled
    assert "dlt" not in [issuer.id for issuer in registry]
    client = app.test_client()
    assert "Driving Licence Certificate" not in client.get("/?lang=en").get_data(as_text=True)
    page = client.get("/documents/dlt/driving-licence?lang=en")
    assert page.status_code == 404
    assert "We do not issue a document of this type" in page.get_data(as_text=True)
    listing = app.test_cli_runner().invoke(args=["portal", "issuers"]).output
    assert "dlt  (disabled by configuration)" in listing


def _broken(**changes):
    doc_changes = changes.pop("doc", {})
    consent_changes = changes.pop("consent", {})
    consent = dataclasses.replace(DRIVING_LICENCE.consent, **consent_changes)
    doc_type = dataclasses.replace(DRIVING_LICENCE, consent=consent, **doc_changes)
    attrs = {"document_types": (doc_type,), **changes}
    return type("BrokenIssuer", (DltIssuer,), attrs)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"id": "DLT"}, "id 'DLT' must match"),
        ({"id": "d"}, "id 'd' must match"),
        ({"name_th": ""}, "issuer: name_th is empty"),
        ({"name_th": "Department"}, "name_th has no Thai letters"),
        ({"name_en": " "}, "issuer: name_en is empty"),
        ({"doc": {"title_en": ""}}, "title_en is empty"),
        ({"doc": {"summary_th": ""}}, "summary_th is empty"),
        ({"doc": {"audience": "officer"}}, "audience 'officer' is not one of citizen, business, investor"),
        ({"doc": {"validity_days": 0}}, "validity_days must be more than 0"),
        ({"doc": {"template": "issuers/dlt/missing.html"}}, "template 'issuers/dlt/missing.html' not found"),
        ({"doc": {"template": "driving_licence.html"}}, "must be named issuers/dlt/"),
        ({"consent": {"purpose_en": ""}}, "consent: purpose_en is empty"),
        ({"consent": {"fields_th": ()}}, "fields_th is empty"),
        ({"settings_schema": (Setting("colour", "rgb"),)}, "unknown kind 'rgb'"),
        (
            {"settings_schema": (Setting("pin", "str", "1234", secret=True),)},
            "a secret cannot have a default",
        ),
    ],
)
def test_registry_refuses_incomplete_metadata(changes, problem):
    with pytest.raises(InvalidIssuer) as caught:
        IssuerRegistry([_broken(**changes)])
    assert problem in str(caught.value)


def test_registry_refuses_duplicate_document_types_and_duplicate_issuers():
    twice = type("Twice", (DltIssuer,), {"document_types": (DRIVING_LICENCE, DRIVING_LICENCE)})
    with pytest.raises(InvalidIssuer, match="document type id 'driving-licence' is used more than once"):
        IssuerRegistry([twice])
    with pytest.raises(DuplicateIssuer, match="'dlt'"):
        IssuerRegistry([DltIssuer, _broken()])


def test_a_disabled_issuer_is_not_checked_so_a_broken_one_can_be_switched_off():
    registry = IssuerRegistry([_broken(name_en="")], disabled=["dlt"])
    assert list(registry) == [] and registry.disabled == {"dlt"}
