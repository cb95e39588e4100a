"""axe-core (npm, tests/axe) finds no serious or critical accessibility problem on the portal's pages,
in Thai and in English, logged out and logged in."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from portal.services.issuance_requests import issue_for_subject

AXE = Path(__file__).resolve().parents[1] / "axe" / "node_modules" / "axe-core" / "axe.min.js"

#: The serious and critical violations on the page: "rule id (elements)".
_RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => `${v.id} (${v.nodes.map(n => n.target.join(" ")).slice(0, 3).join(", ")})`);
}"""


@pytest.fixture(scope="module")
def code(live_server):
    def issue():
        with live_server.app.app_context():
            request, _ = issue_for_subject(
                issuer_id="dlt", type_id="driving-licence", pid="3100500678905"
            )
            return request.certificate.verification_code

    # pyHanko's synchronous signing refuses to run inside Playwright's event loop: use a thread.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(issue).result()


@pytest.fixture
def axe_page(browser):
    if not AXE.is_file():
        pytest.fail("axe-core is missing: `make test` installs it (npm ci in tests/axe)")
    # The portal's CSP forbids injected scripts; axe is the test's, not the page's.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    yield context.new_page()
    context.close()


def violations(page, url: str) -> list[str]:
    response = page.goto(url)
    assert response is not None
    page.add_script_tag(path=str(AXE))
    return page.evaluate(_RUN_AXE)


@pytest.mark.parametrize("lang", ["th", "en"])
def test_public_pages(live_server, code, axe_page, lang):
    base = live_server.url
    axe_page.goto(f"{base}/lang/{lang}?next=/")
    found = {
        path: violations(axe_page, base + path)
        for path in ("/", "/documents/dlt/driving-licence", "/v", f"/v/{code}", "/v/NOT-A-REAL-CODE-000000")
    }
    assert {path: v for path, v in found.items() if v} == {}


@pytest.fixture(scope="module")
def somchai_was_read(live_server):
    """Reads and a check of Somchai's data, so that "Who read my data" has rows to look at."""

    def issue():
        with live_server.app.app_context():
            request, _ = issue_for_subject(
                issuer_id="dlt", type_id="driving-licence", pid="1101700123456"
            )
            return request.certificate.verification_code

    with ThreadPoolExecutor(1) as pool:
        code = pool.submit(issue).result()
    assert requests.get(f"{live_server.url}/v/{code}", timeout=10).status_code == 200


@pytest.mark.parametrize("lang", ["th", "en"])
def test_pages_of_a_logged_in_person(live_server, somchai_was_read, axe_page, lang):
    base = live_server.url
    axe_page.goto(f"{base}/lang/{lang}?next=/login")
    axe_page.locator("button[name=sub][value=dev-somchai]").click()
    axe_page.wait_for_url(f"{base}/my/documents")
    found = {
        path: violations(axe_page, base + path)
        for path in (
            "/my/documents",
            "/documents/dlt/driving-licence/request",
            "/me/reads",
            "/me/reads?agency=dlt&kind=document_verified",
            "/me/reads?agency=dlt&kind=record_read&page=1",
        )
    }
    # The consent form with its error summary (submitted without the box ticked).
    axe_page.goto(f"{base}/documents/dlt/driving-licence/request")
    axe_page.locator("form[method=post] button[type=submit]").first.click()
    axe_page.wait_for_load_state()
    axe_page.add_script_tag(path=str(AXE))
    found["consent with errors"] = axe_page.evaluate(_RUN_AXE)
    assert {path: v for path, v in found.items() if v} == {}
