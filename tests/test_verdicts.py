"""The verification report's verdict for each kind of file (issue 4's list), through the JSON API
and the page in both languages.

Each case builds a real file: issued through the pipeline at a PAdES level against the test PKI
on loopback (tests/pki), changed the way a forger would, signed by a key outside our roots, or
signed with one of our keys after the agency revoked it in our key register.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
from pathlib import Path

import pytest
from weasyprint import HTML

from portal.models import CertificateStatus
from tests.issuer_settings import change_issuer_settings
from tests.signing.test_validation import _add_page_text

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")


def _form(data: bytes) -> dict:
    return {"file": (io.BytesIO(data), "document.pdf")}


def check(client, data: bytes) -> dict:
    response = client.post(
        "/api/v1/verify",
        data={"file": (io.BytesIO(data), "document.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def page(client, data: bytes, lang: str) -> str:
    response = client.post(
        f"/v?lang={lang}",
        data={"file": (io.BytesIO(data), "document.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    keep = os.environ.get("TRA_KEEP_VERDICT_PAGES")  # a folder: keep each page to look at it
    if keep:
        outcome = re.search(r'data-outcome="([a-z_]+)"', html).group(1)
        indication = re.search(r'data-indication="([A-Z-]+)"', html).group(1)
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / f"{outcome}-{indication}-{lang}.html").write_text(html, encoding="utf-8")
    return html


def assert_pages(client, data: bytes, outcome: str, english_heading: str) -> None:
    """Both pages show the outcome; the English one says ``english_heading``, the Thai one does
    not fall back to English for it, and the details fold out."""
    english = page(client, data, "en")
    assert f'data-outcome="{outcome}"' in english
    assert english_heading in english
    assert "<details" in english and "Technical details" in english
    thai = page(client, data, "th")
    assert f'data-outcome="{outcome}"' in thai
    assert english_heading not in thai
    assert re.search(r"[\u0e00-\u0e7f]{4}", thai)


@pytest.fixture
def pki_app(app, pki, monkeypatch):
    """The app trusting the test PKI's root too, with its TSA: levels above B-B become possible."""
    monkeypatch.setitem(app.config, "TRUST_ROOTS", str(pki.root_path))
    monkeypatch.setitem(app.config, "TSA_URL", pki.tsa_url)
    app.extensions.pop("tra.trust_roots", None)
    yield app
    app.extensions.pop("tra.trust_roots", None)


@pytest.fixture
def pki_signer(pki_app, pki, cli):
    """The test PKI's DLT signer (with OCSP and CRL pointers) as DLT's current key."""

    def add(label: str = "dlt") -> str:
        result = cli(
            "add",
            "--agency",
            "dlt",
            "--cert",
            str(pki.cert_paths[label]),
            "--key",
            str(pki.key_paths[label]),
            *(arg for path in pki.chain_paths for arg in ("--chain", str(path))),
            "--make-current",
        )
        assert result.exit_code == 0, result.output
        return re.search(r"Added key ([0-9a-f]{16})", result.output).group(1)

    return add


def issued(app, issue) -> tuple[object, bytes]:
    from portal.services import runtime

    certificate = issue().certificate
    with app.app_context():
        return certificate, runtime.blob_store().get(certificate.sha256)


@pytest.mark.parametrize("level", LEVELS)
def test_a_genuine_document_at_every_level(level, pki_app, pki_signer, issue, client, monkeypatch):
    pki_signer()
    change_issuer_settings(monkeypatch, pki_app, "dlt", signature_level=level)
    certificate, pdf = issued(pki_app, issue)
    assert certificate.signature_level == level

    body = check(client, pdf)
    report = body["report"]
    assert body["verdict"] == "genuine" and body["status"] == "valid"
    assert (report["indication"], report["sub_indication"]) == ("TOTAL-PASSED", None)
    assert report["outcome"] == "valid" and report["level"] == level
    assert report["signer"]["agency"] == "dlt"
    assert report["signer"]["agency_name"]["en"] == "Department of Land Transport"
    assert report["chain"]["trusted"] is True and len(report["chain"]["certificates"]) == 3
    assert report["record"]["status"] == "valid"
    assert report["coverage"]["signed"] == ("entire_file" if level in ("B-B", "B-T") else "entire_revision")
    assert report["coverage"]["after_signing"] == ("none" if level in ("B-B", "B-T") else "archival")
    has_ts = level != "B-B"
    assert (report["time"]["timestamp"] is not None) is has_ts
    assert (report["time"]["archive_timestamp"] is not None) is (level == "B-LTA")
    revocation = report["revocation_at_signing"]
    if level in ("B-LT", "B-LTA"):
        assert (revocation["source"], revocation["status"]) == ("ocsp", "good")
    else:
        assert revocation["status"] == "not_in_file"
    assert revocation["key_register"]["state"] == "current"
    # The plain verdict travels with the report, in both languages.
    assert report["message"]["en"]["tag"] == "Genuine and valid"
    assert report["message"]["th"]["tag"] != report["message"]["en"]["tag"]
    assert_pages(client, pdf, "valid", "This is a genuine file and the document is valid.")


def test_one_byte_changed(issued_pdf, client):
    _, pdf = issued_pdf
    changed = bytearray(pdf)
    offset = len(pdf) // 3  # inside a page stream, before the signature value
    assert offset < pdf.rindex(b"/Contents <")
    changed[offset] ^= 0x20
    body = check(client, bytes(changed))
    assert body["verdict"] == "altered" and body["document"] is None
    assert (body["report"]["indication"], body["report"]["sub_indication"]) == (
        "TOTAL-FAILED",
        "HASH_FAILURE",
    )
    assert_pages(client, bytes(changed), "altered", "This file was changed after it was signed")


def test_bytes_appended(issued_pdf, client):
    _, pdf = issued_pdf
    body = check(client, pdf + b"\n% one more line\n")
    report = body["report"]
    assert body["verdict"] == "altered"
    assert (report["indication"], report["sub_indication"]) == ("TOTAL-FAILED", "SIG_CONSTRAINTS_FAILURE")
    assert report["coverage"]["after_signing"] == "appended_data"
    assert report["message"]["en"]["tag"] == "Not genuine"


def test_an_incremental_update_adding_text_to_the_page(issued_pdf, client):
    _, pdf = issued_pdf
    forged = _add_page_text(pdf)
    body = check(client, forged)
    report = body["report"]
    assert body["verdict"] == "altered"
    assert (report["indication"], report["sub_indication"]) == ("TOTAL-FAILED", "SIG_CONSTRAINTS_FAILURE")
    assert report["coverage"]["after_signing"] == "page_content"
    english = page(client, forged, "en")
    assert "Not the whole file: the document was edited after signing" in english


def test_a_valid_signature_by_a_key_outside_our_roots(client, tmp_path):
    from portal.signing import ensure_dev_pki, load_file_identity, sign_pdf

    foreign = ensure_dev_pki(tmp_path / "foreign", {"dlt": "Some Other Office"})
    key_path, cert_path = foreign.agency_paths["dlt"]
    identity = load_file_identity("dlt", key_path, cert_path, [foreign.root_cert_path])
    pdf = sign_pdf(HTML(string="<p>หนังสือรับรอง certificate</p>").write_pdf(), identity)

    body = check(client, pdf)
    report = body["report"]
    assert body["verdict"] == "untrusted_signature" and body["document"] is None
    assert report["indication"] == "INDETERMINATE"
    assert report["sub_indication"] in ("NO_CERTIFICATE_CHAIN_FOUND", "CERTIFICATE_CHAIN_GENERAL_FAILURE")
    assert report["chain"]["trusted"] is False and report["signer"]["agency"] is None
    assert report["outcome"] == "untrusted"
    assert_pages(client, pdf, "untrusted", "This file was not signed by an agency using Tra")


@pytest.mark.parametrize("level", ["B-T", "B-B"])
def test_a_signature_by_our_revoked_key_made_after_its_revocation(
    level,
    pki_app,
    pki_signer,
    pki,
    cli,
    client,
    ring,
):
    from portal.signing import sign_pdf
    from portal.signing.revinfo import RevocationCache
    from portal.signing.signer import TrustServices
    from portal.signing.timestamps import http_timestamper

    key_id = pki_signer("dlt-next")
    revoked_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    result = cli("revoke", key_id, "--reason", "key copied off the server", "--at", revoked_at.isoformat())
    assert result.exit_code == 0, result.output

    # Whoever holds the key signs a file now, an hour after the revocation.
    services = TrustServices(
        timestamper=http_timestamper(pki.tsa_url), revocation=RevocationCache(pki.trust_roots())
    )
    pdf = sign_pdf(
        HTML(string="<p>ใบอนุญาตปลอม forged licence</p>").write_pdf(),
        pki.identity("dlt-next", "dlt"),
        level=level,
        services=services if level != "B-B" else None,
    )
    body = check(client, pdf)
    report = body["report"]
    assert body["verdict"] == "untrusted_signature" and body["document"] is None
    assert report["outcome"] == "revoked_signer"
    if level == "B-T":  # the timestamp proves it was signed after the revocation
        assert (report["indication"], report["sub_indication"]) == ("TOTAL-FAILED", "REVOKED")
    else:  # nothing proves it was signed before
        assert (report["indication"], report["sub_indication"]) == ("INDETERMINATE", "REVOKED_NO_POE")
    key = report["signer"]["key"]
    assert key["state"] == "revoked" and key["revoked_at"] == revoked_at.isoformat()
    assert report["revocation_at_signing"]["key_register"]["state"] == "revoked"
    assert_pages(client, pdf, "revoked_signer", "This file was signed with a revoked key")


def test_a_document_signed_by_a_since_retired_key_is_still_genuine(
    app,
    issue,
    client,
    cli,
    new_key,
    dev_pki,
):
    old, pdf = issued(app, issue)
    key_b = new_key()
    added = cli(
        "add", "--agency", "dlt", "--cert", str(key_b.cert), "--key", str(key_b.key),
        "--chain", str(dev_pki.root_cert_path), "--make-current",
    )  # fmt: skip
    assert added.exit_code == 0, added.output

    body = check(client, pdf)
    report = body["report"]
    assert body["verdict"] == "genuine" and report["outcome"] == "valid"
    assert report["indication"] == "TOTAL-PASSED"
    assert report["signer"]["key"]["state"] == "retired"
    assert report["signer"]["key_id"] == old.signer_key_id != key_b.key_id
    english = page(client, pdf, "en")
    assert "Retired" in english and 'data-outcome="valid"' in english


def test_a_document_whose_record_we_revoked(issued_pdf, client, db_session):
    certificate, pdf = issued_pdf
    certificate.status = CertificateStatus.REVOKED.value
    certificate.revoked_at = dt.datetime.now(dt.UTC)
    certificate.revocation_reason = "Issued in error"
    db_session.flush()
    body = check(client, pdf)
    report = body["report"]
    assert body["verdict"] == "genuine" and body["status"] == "revoked"
    assert report["indication"] == "TOTAL-PASSED"  # the file itself is fine
    assert report["outcome"] == "revoked_document" and report["record"]["status"] == "revoked"
    assert report["message"]["en"]["tag"] == "Genuine, but revoked"
    english = page(client, pdf, "en")
    assert "Issued in error" in english
    assert_pages(
        client, pdf, "revoked_document", "This is a genuine file, but the document has been revoked."
    )


def test_a_pdf_without_a_signature(client):
    pdf = HTML(string="<p>ไม่ได้ลงนาม unsigned</p>").write_pdf()
    body = check(client, pdf)
    report = body["report"]
    assert body["verdict"] == "not_signed" and report["outcome"] == "not_signed"
    assert (report["indication"], report["sub_indication"]) == ("TOTAL-FAILED", "FORMAT_FAILURE")
    assert report["signatures"] == 0 and report["level"] is None
    assert_pages(client, pdf, "not_signed", "This file has no digital signature")


@pytest.mark.parametrize("data", [b"GIF89a not a pdf", b"%PDF-1.7\nbroken\n%%EOF\n"], ids=["gif", "broken"])
def test_a_file_that_is_not_a_pdf(client, data):
    body = check(client, data)
    assert body["verdict"] == "not_a_pdf" and body["report"]["outcome"] == "not_a_pdf"
    assert body["report"]["indication"] == "TOTAL-FAILED"
    assert_pages(client, data, "not_a_pdf", "This is not a PDF file we can read")


def test_the_document_page_states_the_level_and_a_development_tsa(pki_app, issue, client, monkeypatch):
    change_issuer_settings(monkeypatch, pki_app, "dlt", signature_level="B-T")
    certificate, _ = issued(pki_app, issue)
    english = client.get(f"/v/{certificate.verification_code}?lang=en").get_data(as_text=True)
    assert "PAdES B-T: signature with a timestamp proving when it was made" in english
    assert "data-dev-tsa" not in english  # a real TSA (the test PKI's)

    monkeypatch.setitem(pki_app.config, "TSA_URL", "dev")  # what the demo runs with
    english = client.get(f"/v/{certificate.verification_code}?lang=en").get_data(as_text=True)
    assert "data-dev-tsa" in english and "development time-stamping service" in english
    thai = client.get(f"/v/{certificate.verification_code}?lang=th").get_data(as_text=True)
    assert "data-dev-tsa" in thai and "development time-stamping service" not in thai


def _update_after_the_last_timestamp(pdf: bytes, change: str) -> bytes:
    """An incremental update appended to ``pdf`` that is not archive data."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    if change == "info":
        info = generic.DictionaryObject(
            {
                generic.NameObject("/Title"): generic.TextStringObject("Another title"),
                generic.NameObject("/Author"): generic.TextStringObject("Someone else"),
            }
        )
        writer.trailer["/Info"] = writer.add_object(info)
    elif change == "info in place":
        info = writer.trailer["/Info"]
        info[generic.NameObject("/Title")] = generic.TextStringObject("Another title")
        writer.update_container(info)
    elif change == "stray object":
        note = generic.DictionaryObject({generic.NameObject("/Note"): generic.TextStringObject("x")})
        writer.add_object(note)
        writer.update_root()  # a catalog rewritten as it was: only the stray object is new
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("level", ["B-T", "B-LTA"])
@pytest.mark.parametrize("change", ["info", "info in place", "stray object"])
def test_an_update_after_the_last_timestamp_is_a_change(
    level, change, pki_app, pki_signer, issue, client, monkeypatch
):
    from portal.services import runtime
    from portal.signing import check_pdf_signature

    pki_signer()
    change_issuer_settings(monkeypatch, pki_app, "dlt", signature_level=level)
    _, pdf = issued(pki_app, issue)
    forged = _update_after_the_last_timestamp(pdf, change)

    # The signature layer alone (no record lookup) says altered.
    with pki_app.app_context():
        roots = runtime.trust_roots()
        assert check_pdf_signature(pdf, roots).finding.value == "intact"
        result = check_pdf_signature(forged, roots)
    assert result.finding.value == "altered", result.detail
    assert result.changes == "not_archival"

    body = check(client, forged)
    report = body["report"]
    assert body["verdict"] == "altered"
    assert (report["indication"], report["sub_indication"]) == ("TOTAL-FAILED", "SIG_CONSTRAINTS_FAILURE")
    assert report["coverage"]["after_signing"] == "not_archival"
    english = page(client, forged, "en")
    assert "something other than archive data was added after the last signature" in english
