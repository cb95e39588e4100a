"""PDF/A-3b certificates carrying their data as an embedded JSON file (an associated file).

No PDF/A validator can be installed here (FIELD-NOTES.md), so the structure the standard asks
for is checked piece by piece on a real WeasyPrint render of the DLT certificate, and the file
is run through ``qpdf --check``. Nothing is mocked.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from markupsafe import Markup
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from portal.rendering import CERTIFICATE_CSS_PATH, PdfRenderer
from portal.rendering.pdf import DATA_FILE_NAME, certificate_json, embedded_data, srgb_profile

from .test_rendering import dlt_context, render_html

ISSUED_AT = datetime(2026, 5, 14, 3, 15, tzinfo=UTC)


def certificate_facts() -> dict[str, Any]:
    """Facts in the shape ``certificate_content.certificate_data`` builds (with Thai and dates)."""
    context = dlt_context(sample=False)
    document = context.pop("document")
    return {
        "format": "tra-certificate/1",
        "number": document["number"],
        "verification_code": document["verification_code"],
        "verify_url": document["verify_url"],
        "issuer": {"id": "dlt", "name_th": "กรมการขนส่งทางบก", "name_en": "Department of Land Transport"},
        "document_type": {"id": "driving-licence", "title_th": document["title_th"], "title_en": "DLC"},
        "holder": {"name_th": "นายสมชาย ใจดี", "name_en": "Mr. Somchai Jaidee"},
        "issued_at": document["issued_at"],
        "expires_at": document["expires_at"],
        "sample": False,
        "content": context,
    }


@pytest.fixture(scope="module")
def renderer() -> PdfRenderer:
    return PdfRenderer(stylesheet_paths=[CERTIFICATE_CSS_PATH])


@pytest.fixture(scope="module")
def facts() -> dict[str, Any]:
    return certificate_facts()


@pytest.fixture(scope="module")
def pdfa(renderer: PdfRenderer, facts: dict[str, Any]) -> bytes:
    return renderer.render(render_html(sample=False), data=facts, data_created=ISSUED_AT)


@pytest.fixture(scope="module")
def plain(renderer: PdfRenderer) -> bytes:
    return renderer.render(render_html(sample=False))


def reader_of(pdf: bytes) -> PdfFileReader:
    return PdfFileReader(io.BytesIO(pdf), strict=False)


def xmp(pdf: bytes) -> str:
    return reader_of(pdf).root["/Metadata"].data.decode("utf-8")


# ----------------------------------------------------------------------------- PDF/A identity


def test_xmp_declares_pdfa_3b(pdfa: bytes) -> None:
    metadata = xmp(pdfa)
    assert re.search(r'pdfaid:part="3"', metadata)
    assert re.search(r'pdfaid:conformance="B"', metadata)
    assert pdfa.startswith(b"%PDF-1.7")


def test_plain_render_is_not_pdfa(plain: bytes) -> None:
    root = reader_of(plain).root
    assert "/AF" not in root
    assert "/OutputIntents" not in root
    assert "/Metadata" not in root or "pdfaid" not in xmp(plain)
    assert embedded_data(plain) is None


def test_output_intent_with_icc_profile(pdfa: bytes) -> None:
    intents = reader_of(pdfa).root["/OutputIntents"]
    assert len(intents) == 1
    intent = intents[0]
    assert intent["/S"] == "/GTS_PDFA1"
    profile = intent["/DestOutputProfile"]
    assert profile["/N"] == 3  # RGB
    assert profile.data[36:40] == b"acsp"  # an ICC profile's signature


def test_output_profile_is_the_compact_srgb(pdfa: bytes) -> None:
    """The 588-byte sRGB of portal.rendering.pdf.srgb_profile, not WeasyPrint's 3 KB one: a display
    (mntr) RGB profile of ICC version 4.2 that LittleCMS reads back as sRGB, used by the page too."""
    from PIL import ImageCms

    root = reader_of(pdfa).root
    data = root["/OutputIntents"][0]["/DestOutputProfile"].data
    assert data == srgb_profile() and len(data) < 1024
    assert data[8:12] == bytes((4, 0x20, 0, 0)) and data[12:24] == b"mntrRGB XYZ "
    assert int.from_bytes(data[0:4], "big") == len(data)  # the header's size is the profile's
    profile = ImageCms.ImageCmsProfile(io.BytesIO(data)).profile
    assert "sRGB" in profile.profile_description
    assert profile.xcolor_space.strip() == "RGB" and profile.connection_space.strip() == "XYZ"
    # The page's ICC colour space is the same stream (one profile in the file).
    page = root["/Pages"]["/Kids"][0].get_object()
    spaces = page["/Resources"].get_object().get("/ColorSpace", generic.DictionaryObject()).get_object()
    for name in spaces:
        space = spaces[name]
        if space[0] == "/ICCBased":
            assert space[1].data == data


def test_info_dictionary_matches_xmp(pdfa: bytes) -> None:
    # PDF/A requires the document information and the XMP metadata to agree.
    reader = reader_of(pdfa)
    info = reader.trailer_view["/Info"]
    metadata = xmp(pdfa)
    assert info["/Title"] in metadata
    assert info["/Author"] in metadata
    assert info["/CreationDate"].startswith("D:20260514031500")
    assert info["/ModDate"].startswith("D:20260514031500")
    assert "<xmp:CreateDate>2026-05-14T03:15:00+00:00</xmp:CreateDate>" in metadata
    assert "<xmp:ModifyDate>2026-05-14T03:15:00+00:00</xmp:ModifyDate>" in metadata


def _fonts(resources: Any) -> list[Any]:
    fonts = resources["/Font"] if "/Font" in resources else generic.DictionaryObject()
    return [fonts[name] for name in fonts]


def test_every_font_is_embedded(pdfa: bytes) -> None:
    reader = reader_of(pdfa)
    page = reader.root["/Pages"]["/Kids"][0]
    fonts = _fonts(page["/Resources"])
    assert len(fonts) >= 2  # Laksaman regular and bold at least
    for font in fonts:
        descendants = font["/DescendantFonts"] if font["/Subtype"] == "/Type0" else [font]
        for leaf in descendants:
            leaf = leaf.get_object()
            descriptor = leaf["/FontDescriptor"]
            assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor.keys()), leaf["/BaseFont"]


# ----------------------------------------------------------------------------- the associated file


def test_catalog_af_lists_the_data_file_once(pdfa: bytes) -> None:
    root = reader_of(pdfa).root
    entries = root.raw_get("/AF")
    assert len(entries) == 1  # WeasyPrint 70 writes it twice; the renderer removes the duplicate
    spec = entries[0].get_object()
    assert spec["/Type"] == "/Filespec"
    assert spec["/AFRelationship"] == "/Data"
    assert spec["/F"] == spec["/UF"] == DATA_FILE_NAME
    assert spec["/Desc"]
    # The same file spec is the one in the EmbeddedFiles name tree.
    names = root["/Names"]["/EmbeddedFiles"]["/Names"]
    assert names[0] == DATA_FILE_NAME
    assert names.raw_get(1).idnum == entries.raw_get(0).idnum


def test_embedded_file_stream_is_well_formed(pdfa: bytes) -> None:
    spec = reader_of(pdfa).root["/AF"][0]
    stream = spec["/EF"]["/F"]
    assert stream["/Type"] == "/EmbeddedFile"
    assert stream["/Subtype"] == "/application/json"
    params = stream["/Params"]
    assert params["/ModDate"].startswith("D:20260514031500")
    assert params["/Size"] == len(stream.data)


def test_embedded_json_equals_the_facts(pdfa: bytes, facts: dict[str, Any]) -> None:
    data = embedded_data(pdfa)
    assert data == json.loads(certificate_json(facts))
    assert data["holder"]["name_th"] == "นายสมชาย ใจดี"
    assert data["issued_at"] == "2026-05-14T03:15:00+00:00"
    assert data["content"]["licences"][0]["issued_on"] == "2024-03-12"
    # Stored as UTF-8 text, Thai not escaped.
    raw = reader_of(pdfa).root["/AF"][0]["/EF"]["/F"].data
    assert "กรมการขนส่งทางบก".encode() in raw


def test_pdfa_page_looks_like_the_plain_one(pdfa: bytes, plain: bytes) -> None:
    for pdf in (pdfa, plain):
        assert int(reader_of(pdf).root["/Pages"]["/Count"]) == 1


@pytest.mark.skipif(shutil.which("qpdf") is None, reason="qpdf (Debian package qpdf) not installed")
def test_qpdf_finds_no_errors(pdfa: bytes, tmp_path: Path) -> None:
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdfa)
    result = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No syntax or stream encoding errors" in result.stdout


# ----------------------------------------------------------------------------- JSON and reading back


class Colour(Enum):
    RED = "red"


def test_certificate_json_types_and_determinism() -> None:
    value = {
        "b": date(2020, 1, 31),
        "a": datetime(2020, 1, 31, 1, 2, 3, tzinfo=UTC),
        "fee": Decimal("12.50"),
        "colour": Colour.RED,
        "pair": (1, 2),
        "tags": {"y", "x"},
        "name": Markup("<b>ไทย</b>"),
    }
    text = certificate_json(value)
    assert json.loads(text) == {
        "a": "2020-01-31T01:02:03+00:00",
        "b": "2020-01-31",
        "colour": "red",
        "fee": "12.50",
        "name": "<b>ไทย</b>",
        "pair": [1, 2],
        "tags": ["x", "y"],
    }
    assert text == certificate_json(dict(reversed(list(value.items()))))
    assert "ไทย" in text


def test_certificate_json_refuses_unknown_objects() -> None:
    with pytest.raises(TypeError, match="object"):
        certificate_json({"x": object()})


def test_render_refuses_unserialisable_data_before_rendering(renderer: PdfRenderer) -> None:
    with pytest.raises(TypeError):
        renderer.render("<p>x</p>", data={"x": object()})


def test_embedded_data_of_a_non_pdf_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        embedded_data(b"not a pdf at all")


def test_embedded_data_with_broken_json_is_a_value_error(renderer: PdfRenderer) -> None:
    pdf = renderer.render("<p>x</p>", data={"k": "v"})
    assert embedded_data(pdf) == {"k": "v"}
    # An incremental update swaps the embedded file for one that is not JSON.
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    spec = writer.root["/AF"][0]
    spec["/EF"]["/F"] = writer.add_object(generic.StreamObject(stream_data=b'{"k": "v"'))
    writer.update_container(spec)
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(ValueError, match="not JSON"):
        embedded_data(out.getvalue())


# ----------------------------------------------------------------------------- cost


def test_pdfa_adds_little_to_the_file(renderer: PdfRenderer, facts: dict[str, Any]) -> None:
    """PDF/A-3b with data.json costs a few KB (FIELD-NOTES: about +3 KB). Its render time is
    part of bench/issue.py's render stage; a timed test would fail on a busy machine."""
    html = render_html(sample=False)
    plain, archival = renderer.render(html), renderer.render(html, data=facts)
    assert 0 < len(archival) - len(plain) < 30_000
