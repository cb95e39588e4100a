"""One real login per audience through the test OpenID Providers (npm oidc-provider, code + PKCE),
with the portal in-process at http://portal.test and the sample registries on loopback: the
mandates come from the DBD and BOI registries over HTTP at the callback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import select

from portal.extensions import db
from portal.models import Identity, UserSession
from tests.audiences.conftest import registry_overrides
from tests.audiences.people import COMPANY_A, COMPANY_A_EN
from tests.conftest import migrated_portal
from tests.helpers import form_with
from tests.oidc_ops import PROVIDER_NAMES, idp_config_toml


@pytest.fixture(scope="module")
def portal_with_ops(tmp_path_factory, test_ops, registries, registry_url, pki_dir) -> Iterator:
    tmp = tmp_path_factory.mktemp("audiences-ops")
    config = tmp / "idp.toml"
    config.write_text(idp_config_toml(test_ops), encoding="utf-8")
    overrides = {**registry_overrides(registries), "IDP_CONFIG": str(config), "WTF_CSRF_ENABLED": False}
    with migrated_portal(tmp, "audops", registry_url, pki_dir, **overrides) as portal:
        yield portal


def _log_in(portal, kind: str, account: str):
    """The whole code flow: the portal's redirect, the OP's sign-in page, the callback."""
    client, browser = portal.test_client(), requests.Session()
    to_op = client.get(f"/login/{PROVIDER_NAMES[kind]}").headers["Location"]
    page = browser.get(to_op, timeout=10)
    form = form_with(page.text, action_contains="/interaction/")
    response = browser.post(page.url, data={**form["fields"], "account": account}, allow_redirects=False)
    while not response.headers["Location"].startswith("http://portal.test"):
        response = browser.get(response.headers["Location"], allow_redirects=False, timeout=10)
    landing = client.get(response.headers["Location"].removeprefix("http://portal.test"))
    assert landing.status_code == 302 and landing.headers["Location"].endswith("/my/documents")
    return client


def _session_of(portal, kind: str, account: str) -> UserSession:
    with portal.app_context():
        identity = db.session.scalar(
            select(Identity).where(Identity.provider == PROVIDER_NAMES[kind], Identity.subject == account)
        )
        row = db.session.scalar(
            select(UserSession)
            .where(UserSession.user_id == identity.user_id)
            .order_by(UserSession.created_at.desc())
        )
        db.session.expunge_all()
        return row


def test_a_citizen_logs_in_acting_for_themself_with_no_company(portal_with_ops):
    client = _log_in(portal_with_ops, "citizen", "somying")
    row = _session_of(portal_with_ops, "citizen", "somying")
    assert row.mandates == [] and row.mandates_unavailable == [] and row.acting_for is None
    page = client.get("/?lang=en").get_data(as_text=True)
    assert "/documents/dlt/driving-licence" in page and "/documents/dbd/company-affidavit" not in page


def test_a_business_representative_gets_the_dbd_mandate_and_can_act_for_the_company(portal_with_ops):
    client = _log_in(portal_with_ops, "business", "director")
    row = _session_of(portal_with_ops, "business", "director")
    assert (COMPANY_A, "director", "dbd") in {
        (m["juristic_id"], m["role"], m["source"]) for m in row.mandates
    }
    assert client.post("/acting-for", data={"acting_for": COMPANY_A}).status_code == 302
    page = client.get("/?lang=en").get_data(as_text=True)
    assert f"acting for {COMPANY_A_EN}" in page and "/documents/dbd/company-affidavit" in page


def test_a_business_login_claiming_a_company_without_a_registry_mandate_gets_none(portal_with_ops):
    """The staff account's provider sends the company's juristic ID and a role: only the DBD counts."""
    client = _log_in(portal_with_ops, "business", "staff")
    row = _session_of(portal_with_ops, "business", "staff")
    assert row.mandates == []
    assert client.post("/acting-for", data={"acting_for": COMPANY_A}).status_code == 403


def test_a_foreign_investor_logs_in_by_passport_and_acts_for_their_boi_company(portal_with_ops):
    client = _log_in(portal_with_ops, "investor", "yamada")
    row = _session_of(portal_with_ops, "investor", "yamada")
    assert row.audience == "investor" and row.acting_for == COMPANY_A
    assert {(m["juristic_id"], m["source"]) for m in row.mandates} == {(COMPANY_A, "dbd"), (COMPANY_A, "boi")}
    page = client.get("/?lang=en").get_data(as_text=True)
    assert f"Mr. Taro Yamada — acting for {COMPANY_A_EN}" in page
    assert "/documents/boi/promotion-certificate" in page and "/documents/dlt/driving-licence" not in page
