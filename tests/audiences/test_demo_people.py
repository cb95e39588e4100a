"""The demo's sample people, as ``make demo`` runs: the embedded development OP, the sample
registries mounted in the portal's process, over real HTTP. Each person logs in through the OP's
real endpoints and obtains every document offered to them, acting for themself and for each of
their companies."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests

from tests.audiences.people import COMPANY_A
from tests.browser.test_accessibility import axe_page, violations  # noqa: F401 - axe_page is a fixture
from tests.conftest import LiveServer, served_portal
from tests.helpers import form_with, login_via_dev_idp


@pytest.fixture(scope="module")
def demo(tmp_path_factory, pki_dir) -> Iterator[LiveServer]:
    """As ``make demo``: no registry address, so the sample registries mounted in the portal answer."""
    tmp = tmp_path_factory.mktemp("demo")
    with served_portal(tmp, "demo", None, pki_dir, SAMPLE_REGISTRIES_MOUNTED=True) as server:
        yield server


def _offered(browser, base_url: str) -> list[str]:
    page = browser.get(f"{base_url}/?lang=en", timeout=10).text
    main = page.split('id="documents"', 1)[1]
    return sorted(set(re.findall(r'href="/documents/([a-z0-9_]+/[a-z0-9-]+)"', main)))


def _obtain(browser, base_url: str, document: str) -> str:
    consent = browser.get(f"{base_url}/documents/{document}/request?lang=en", timeout=10)
    assert consent.status_code == 200, (document, consent.status_code)
    form = form_with(consent.text, action_contains=f"/documents/{document}/request")
    done = browser.post(f"{base_url}{form['action']}", data={**form["fields"], "consent": "yes"}, timeout=60)
    assert done.status_code == 200 and "/requests/" in done.url, (document, done.status_code, done.url)
    status = browser.get(done.url.split("?")[0] + "/status.json", timeout=10).json()
    return status["status"] if status["status"] != "failed" else f"failed:{status['failure_code']}"


def _act_for(browser, base_url: str, target: str) -> None:
    page = browser.get(f"{base_url}/acting-for?lang=en", timeout=10)
    for form in [f for f in _forms(page.text) if f["fields"].get("acting_for") == target]:
        response = browser.post(f"{base_url}{form['action']}", data=form["fields"], timeout=10)
        assert response.status_code == 200
        return
    raise AssertionError(f"no way to act for {target}")


def _forms(html: str):
    from tests.helpers import forms

    return forms(html)


@pytest.mark.parametrize(
    ("sub", "acting_for", "expected"),
    [
        ("dev-somchai", None, {"dlt/driving-licence", "dopa/house-registration"}),
        ("dev-somchai", COMPANY_A, {"dbd/company-affidavit", "boi/promotion-certificate"}),
        ("dev-somying", None, {"dlt/driving-licence", "dopa/house-registration"}),
        ("dev-yamada", COMPANY_A, {"dbd/company-affidavit", "boi/promotion-certificate"}),
    ],
    ids=["somchai", "somchai-for-company-a", "somying", "yamada-for-company-a"],
)
def test_each_demo_person_obtains_each_of_their_documents(demo, sub, acting_for, expected):
    browser = requests.Session()
    login_via_dev_idp(browser, demo.url, sub)
    if acting_for and sub != "dev-yamada":  # Yamada acts for his company from login
        _act_for(browser, demo.url, acting_for)
    offered = _offered(browser, demo.url)
    assert expected <= set(offered), offered
    outcomes = {document: _obtain(browser, demo.url, document) for document in offered}
    assert outcomes == dict.fromkeys(offered, "ready")


@pytest.mark.parametrize("lang", ["th", "en"])
def test_acting_for_pages_have_no_serious_accessibility_problem(demo, axe_page, lang):  # noqa: F811
    base = demo.url
    axe_page.goto(f"{base}/lang/{lang}?next=/login")
    axe_page.locator("button[name=sub][value=dev-somchai]").click()
    axe_page.wait_for_url(f"{base}/my/documents")
    found = {"/acting-for": violations(axe_page, f"{base}/acting-for")}
    axe_page.locator(f"form:has(input[name=acting_for][value='{COMPANY_A}']) button").click()
    axe_page.wait_for_url(f"{base}/")
    for path in (
        "/",
        "/my/documents",
        "/documents/dbd/company-affidavit/request",
        "/documents/dlt/driving-licence/request",
    ):
        found[path] = violations(axe_page, base + path)  # the last one is the 403 page
    assert {path: v for path, v in found.items() if v} == {}
