"""The whole path over real HTTP: log in through the dev OP, request, download, validate,
verify by code (HTML and JSON), and get "altered" for a changed copy."""

from __future__ import annotations

import re
from io import BytesIO

import requests
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from portal.signing import load_trust_roots
from tests.helpers import form_with, login_via_dev_idp


def test_citizen_gets_a_signed_certificate_that_anyone_can_verify(live_server, pki_dir):
    base = live_server.url
    browser = requests.Session()

    # 1. Log in through the development OP's discovery, authorization, token and userinfo endpoints.
    landing = login_via_dev_idp(browser, base, "dev-somchai")
    assert landing.url == f"{base}/my/documents"
    assert "สมชาย" in landing.text

    # 2. Read the consent, agree, request.
    consent = browser.get(f"{base}/documents/dlt/driving-licence/request", timeout=10)
    assert consent.status_code == 200
    assert "กรมการขนส่งทางบก" in consent.text
    form = form_with(consent.text, action_contains="/documents/dlt/driving-licence/request")
    status_page = browser.post(
        f"{base}/documents/dlt/driving-licence/request",
        data={**form["fields"], "consent": "yes"},
        timeout=30,
    )
    assert status_page.status_code == 200
    assert re.search(r"/requests/[0-9a-f]{32}$", status_page.url)

    # 3. "My documents" lists it; download the PDF.
    mine = browser.get(f"{base}/my/documents", timeout=10)
    download_path = re.search(r'href="(/my/documents/[0-9a-f]{32}\.pdf)"', mine.text).group(1)
    pdf = browser.get(base + download_path, timeout=10)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")

    # 4. The signature validates with pyHanko against the development root.
    roots = load_trust_roots([pki_dir / "root-ca.pem"])
    reader = PdfFileReader(BytesIO(pdf.content))
    status = validate_pdf_signature(
        reader.embedded_signatures[-1], ValidationContext(trust_roots=roots, allow_fetching=False)
    )
    assert status.bottom_line and status.intact and status.trusted
    assert "Department of Land Transport" in status.signing_cert.subject.human_friendly

    # 5. Anyone (a fresh session, not logged in) verifies it by code: HTML page and JSON.
    code = re.search(r"/v/([0-9A-Z]{20})", mine.text).group(1)
    anyone = requests.Session()
    page = anyone.get(f"{base}/v/{code}", timeout=10)
    assert page.status_code == 200
    assert "1101700123456" not in page.text  # the holder is masked
    facts = anyone.get(f"{base}/api/v1/verify/{code}", timeout=10).json()
    assert facts["status"] == "valid"
    assert facts["issuer"] == "dlt" and facts["document_type"] == "driving-licence"
    assert facts["holder"]["en"] == "Mr. Somchai J."
    import hashlib

    assert facts["sha256"] == hashlib.sha256(pdf.content).hexdigest()
    assert facts["sha256"] in page.text

    # 6. The genuine file is genuine; a changed copy is altered (API and page).
    genuine = anyone.post(f"{base}/api/v1/verify", files={"file": ("c.pdf", pdf.content)}, timeout=30)
    assert genuine.json()["verdict"] == "genuine"
    assert genuine.json()["status"] == "valid"
    changed = bytearray(pdf.content)
    position = changed.index(b"/Producer") + 2
    changed[position] ^= 0x01
    altered = anyone.post(f"{base}/api/v1/verify", files={"file": ("c.pdf", bytes(changed))}, timeout=30)
    assert altered.json()["verdict"] == "altered"
    verify_page = anyone.get(f"{base}/v/{code}", timeout=10)
    check = form_with(verify_page.text, action_contains="/v")
    altered_page = anyone.post(
        f"{base}/v", data=check["fields"], files={"file": ("c.pdf", bytes(changed))}, timeout=30
    )
    assert altered_page.status_code == 200
    assert 'data-verdict="altered"' in altered_page.text

    # 7. Logout ends the portal session: My documents asks for a login again.
    home = browser.get(f"{base}/", timeout=10)
    logout = form_with(home.text, action_contains="/logout")
    browser.post(f"{base}/logout", data=logout["fields"], timeout=10)
    after = browser.get(f"{base}/my/documents", allow_redirects=False, timeout=10)
    assert after.status_code == 302 and after.headers["Location"].endswith("/login")
