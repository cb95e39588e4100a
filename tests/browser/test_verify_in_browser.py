"""The verification page checks a dropped file in the browser (Web Crypto), without uploading it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from portal.services import runtime
from portal.services.issuance_requests import issue_for_subject


@pytest.fixture(scope="module")
def issued(live_server, tmp_path_factory):
    def issue():
        with live_server.app.app_context():
            request, _ = issue_for_subject(
                issuer_id="dlt", type_id="driving-licence", pid="1101400555555"
            )
            return request.certificate.verification_code, runtime.blob_store().get(request.certificate.sha256)

    # pyHanko's synchronous signing refuses to run inside Playwright's event loop: use a thread.
    with ThreadPoolExecutor(1) as pool:
        code, pdf = pool.submit(issue).result()
    folder = tmp_path_factory.mktemp("browser-files")
    genuine = folder / "genuine.pdf"
    genuine.write_bytes(pdf)
    changed = folder / "changed.pdf"
    altered = bytearray(pdf)
    altered[len(pdf) // 2] ^= 0x01
    changed.write_bytes(bytes(altered))
    return code, genuine, changed


def test_browser_says_genuine_then_not_genuine_without_uploading(live_server, issued, page):
    code, genuine, changed = issued
    uploads = []
    page.on("request", lambda r: uploads.append(r.url) if r.method == "POST" else None)
    page.goto(f"{live_server.url}/lang/en?next=/v/{code}")
    result = page.locator("[data-hash-result]")

    page.set_input_files("input[type=file]", str(genuine))
    expect(result).to_contain_text("exactly the file that was issued")

    page.set_input_files("input[type=file]", str(changed))
    expect(result).to_contain_text("NOT the one we issued")
    assert uploads == []  # the in-browser check sent nothing


def test_server_check_of_a_changed_file_says_altered(live_server, issued, page):
    code, _, changed = issued
    page.goto(f"{live_server.url}/lang/en?next=/v/{code}")
    page.set_input_files("input[type=file]", str(changed))
    page.locator("form.file-check button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("[data-verdict]").get_attribute("data-verdict") == "altered"


def test_verification_page_has_no_serious_accessibility_problems_in_thai(live_server, issued, page):
    code, _, _ = issued
    page.goto(f"{live_server.url}/lang/th?next=/v/{code}")
    assert page.locator("html").get_attribute("lang") == "th"
    assert page.locator("h1").count() == 1
    # Every form control has a label the screen reader can announce.
    unlabeled = page.evaluate(  # evaluate() is not blocked by the page's CSP
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
              .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).length"""
    )
    assert unlabeled == 0
