"""The visible, bilingual signature stamp (portal.signing.stamp) on a real PDF/A-3b certificate.

The certificate is rendered by WeasyPrint, signed by pyHanko's ``PdfSigner`` with the stamp
(the way ``sign_pdf`` is to use it), validated by pyHanko against our development root,
rasterised with poppler's ``pdftoppm`` and read with ``pdftotext``. Nothing is mocked.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509
from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from portal.rendering import CERTIFICATE_CSS_PATH, PdfRenderer
from portal.rendering.pdf import embedded_data
from portal.signing import SigningIdentity
from portal.signing.stamp import (
    STAMP_ANCHOR,
    STAMP_BOX,
    STAMP_FIELD,
    STAMP_SIZE,
    VisibleSignature,
    prepared_font_path,
    stamp_font_path,
    stamp_place,
    stamp_text_params,
    visible_signature,
)
from tests.rendering.test_pdfa import certificate_facts
from tests.rendering.test_rendering import TEMPLATE, dlt_context, make_env, render_html

# 03:15 UTC is 10:15 in Bangkok; 2026 CE is 2569 BE.
SIGNED_AT = datetime(2026, 5, 14, 3, 15, tzinfo=UTC)
AGENCY_TH = "กรมการขนส่งทางบก"
AGENCY_EN = "Department of Land Transport"

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None,
    reason="poppler-utils not installed",
)


@pytest.fixture(scope="module")
def stamp_renderer() -> PdfRenderer:
    return PdfRenderer(stylesheet_paths=[CERTIFICATE_CSS_PATH])


@pytest.fixture(scope="module")
def stamp_unsigned(stamp_renderer: PdfRenderer) -> bytes:
    """The DLT certificate as PDF/A-3b with its data.json."""
    return stamp_renderer.render(render_html(sample=False), data=certificate_facts(), data_created=SIGNED_AT)


def sign_with_stamp(
    pdf: bytes, identity: SigningIdentity, *, agency_th: str = AGENCY_TH, agency_en: str = AGENCY_EN
) -> bytes:
    """What sign_pdf is to do with the stamp (see the module docstring of portal.signing.stamp)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    stamp = visible_signature(agency_th=agency_th, agency_en=agency_en, signed_at=SIGNED_AT, document=writer)
    meta = signers.PdfSignatureMetadata(
        field_name=stamp.field_spec.sig_field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
    )
    pdf_signer = signers.PdfSigner(
        meta, identity.signer, stamp_style=stamp.style, new_field_spec=stamp.field_spec
    )
    return pdf_signer.sign_pdf(writer, appearance_text_params=stamp.text_params).getvalue()


def sign_without_stamp(pdf: bytes, identity: SigningIdentity) -> bytes:
    meta = signers.PdfSignatureMetadata(
        field_name=STAMP_FIELD, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    return signers.PdfSigner(meta, identity.signer).sign_pdf(writer).getvalue()


@pytest.fixture(scope="module")
def stamped(stamp_unsigned: bytes, signing_identity: SigningIdentity) -> bytes:
    return sign_with_stamp(stamp_unsigned, signing_identity)


def reader_of(pdf: bytes) -> PdfFileReader:
    return PdfFileReader(io.BytesIO(pdf), strict=False)


def widget(pdf: bytes) -> Any:
    """The signature field's widget annotation (merged field/widget, as pyHanko writes it)."""
    page = reader_of(pdf).root["/Pages"]["/Kids"][0].get_object()
    for annot in page["/Annots"]:
        annot = annot.get_object()
        if annot.get("/FT") == "/Sig" and annot.get("/T") == STAMP_FIELD:
            return annot
    raise AssertionError("no signature widget on page 1")


def appearance_font(pdf: bytes) -> Any:
    stream = widget(pdf)["/AP"]["/N"]
    fonts = _find_fonts(stream)
    assert len(fonts) == 1, fonts
    return fonts[0]


def _find_fonts(xobject: Any, depth: int = 0) -> list[Any]:
    """Fonts used by an appearance stream, following nested form XObjects."""
    found: list[Any] = []
    resources = xobject.get("/Resources")
    if resources is None or depth > 5:
        return found
    resources = resources.get_object()
    if "/Font" in resources:
        fonts = resources["/Font"]
        found.extend(fonts[name] for name in fonts)
    if "/XObject" in resources:
        xobjects = resources["/XObject"]
        for name in xobjects:
            found.extend(_find_fonts(xobjects[name], depth + 1))
    return found


def _tounicode_targets(cmap: str) -> list[str]:
    """The Unicode strings a ToUnicode CMap maps glyphs to (bfchar and bfrange sections)."""
    targets: list[str] = []
    section = None
    for line in cmap.splitlines():
        if line.endswith(("beginbfchar", "beginbfrange")):
            section = line.split()[-1]
            continue
        if line in ("endbfchar", "endbfrange"):
            section = None
            continue
        tokens = re.findall(r"<([0-9A-Fa-f]+)>", line)
        if section == "beginbfchar" and len(tokens) == 2:
            targets.append(bytes.fromhex(tokens[1]).decode("utf-16-be"))
        elif section == "beginbfrange" and "[" in line:
            targets.extend(bytes.fromhex(t).decode("utf-16-be") for t in tokens[2:])
        elif section == "beginbfrange" and len(tokens) == 3:
            first, last, start = (int(t, 16) for t in tokens)
            targets.extend(chr(start + i) for i in range(last - first + 1))
    return targets


# ----------------------------------------------------------------------------- text


def test_stamp_text_in_bangkok_time_with_buddhist_era() -> None:
    params = stamp_text_params(agency_th=AGENCY_TH, agency_en=AGENCY_EN, signed_at=SIGNED_AT)
    assert params["signed_at_th"] == "14 พฤษภาคม 2569 เวลา 10:15 น."
    assert params["signed_at_en"] == "14 May 2026 at 10:15 Bangkok time (UTC+7)"
    assert params["agency_th"] == AGENCY_TH and params["agency_en"] == AGENCY_EN


def test_stamp_date_rolls_over_in_bangkok() -> None:
    # 20:30 UTC on 31 December 2025 is already 1 January 2026 (2569 BE) in Bangkok.
    params = stamp_text_params(
        agency_th=AGENCY_TH, agency_en=AGENCY_EN, signed_at=datetime(2025, 12, 31, 20, 30, tzinfo=UTC)
    )
    assert params["signed_at_th"] == "1 มกราคม 2569 เวลา 03:30 น."
    assert params["signed_at_en"].startswith("1 January 2026 at 03:30")


def test_naive_signing_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        stamp_text_params(agency_th=AGENCY_TH, agency_en=AGENCY_EN, signed_at=datetime(2026, 5, 14))


def test_visible_signature_defaults() -> None:
    stamp = visible_signature(agency_th=AGENCY_TH, agency_en=AGENCY_EN, signed_at=SIGNED_AT)
    assert isinstance(stamp, VisibleSignature)
    assert stamp.field_spec.sig_field_name == STAMP_FIELD
    assert stamp.field_spec.on_page == 0
    assert stamp.field_spec.box == STAMP_BOX
    text = stamp.style.stamp_text % stamp.text_params
    assert "ลงลายมือชื่อดิจิทัลโดย กรมการขนส่งทางบก เมื่อวันที่ 14 พฤษภาคม 2569 เวลา 10:15 น." in text
    assert "Digitally signed by the Department of Land Transport on 14 May 2026 at 10:15" in text
    assert "2569" in text and "2026" in text


def test_prepared_font_is_cached_and_smaller() -> None:
    first = prepared_font_path()
    assert first == prepared_font_path()
    assert first.stat().st_size < stamp_font_path().stat().st_size
    assert first.parent.stat().st_mode & 0o077 == 0


# ----------------------------------------------------------------------------- the signed file


def test_stamped_signature_validates(stamped: bytes, signing_trust_roots: list[x509.Certificate]) -> None:
    embedded = reader_of(stamped).embedded_signatures
    assert len(embedded) == 1
    status = validate_pdf_signature(
        embedded[0], ValidationContext(trust_roots=signing_trust_roots, allow_fetching=False)
    )
    assert status.intact and status.valid and status.trusted
    assert status.bottom_line
    assert status.coverage.name == "ENTIRE_FILE"


def test_stamp_tampering_is_detected(
    stamped: bytes, stamp_unsigned: bytes, signing_trust_roots: list[x509.Certificate]
) -> None:
    # Change one byte inside a compressed stream of the signature's revision (the stamp's
    # appearance, font or object stream): covered by the signature.
    start = stamped.index(b"stream", len(stamp_unsigned)) + 20
    tampered = stamped[:start] + bytes([stamped[start] ^ 0xFF]) + stamped[start + 1 :]
    embedded = reader_of(tampered).embedded_signatures[0]
    status = validate_pdf_signature(
        embedded, ValidationContext(trust_roots=signing_trust_roots, allow_fetching=False)
    )
    assert not status.intact
    assert not status.bottom_line


def test_widget_is_visible_printable_and_in_place(stamped: bytes) -> None:
    annot = widget(stamped)
    assert [float(v) for v in annot["/Rect"]] == [float(v) for v in STAMP_BOX]
    assert int(annot.get("/F", 0)) & 4  # Print flag: PDF/A requires it on every annotation
    assert not int(annot.get("/F", 0)) & 2  # not hidden
    assert "/N" in annot["/AP"]


def test_stamp_font_is_embedded_and_maps_thai(stamped: bytes) -> None:
    font = appearance_font(stamped)
    assert font["/Subtype"] == "/Type0"
    cid_font = font["/DescendantFonts"][0].get_object()
    descriptor = cid_font["/FontDescriptor"]
    assert {"/FontFile2", "/FontFile3"} & set(descriptor.keys())
    assert "Laksaman" in str(cid_font["/BaseFont"])
    # ToUnicode maps the drawn glyphs back to text: every Thai letter of the agency name is there.
    mapped_chars = set("".join(_tounicode_targets(font["/ToUnicode"].data.decode("ascii"))))
    assert set("กรมการขนส่งทางบกลายมือชื่อดิจิทัลโดย") <= mapped_chars
    assert set("Digitally signed 2569") <= mapped_chars


def test_signing_keeps_pdfa_identity_and_data(stamped: bytes, stamp_unsigned: bytes) -> None:
    reader = reader_of(stamped)
    root = reader.root
    assert len(root.raw_get("/AF")) == 1
    assert root["/AF"][0]["/AFRelationship"] == "/Data"
    assert embedded_data(stamped) == embedded_data(stamp_unsigned)
    metadata = root["/Metadata"].data.decode("utf-8")
    assert 'pdfaid:part="3"' in metadata and 'pdfaid:conformance="B"' in metadata
    assert "/OutputIntents" in root


def test_signed_info_agrees_with_xmp(stamped: bytes) -> None:
    """PDF/A: each document-information entry must equal its XMP counterpart, after signing too."""
    reader = reader_of(stamped)
    info = reader.trailer_view["/Info"]
    metadata = reader.root["/Metadata"].data.decode("utf-8")
    producer = re.search(r'pdf:Producer="([^"]*)"', metadata) or re.search(
        r"<pdf:Producer>([^<]*)</pdf:Producer>", metadata
    )
    assert producer is not None
    assert str(info["/Producer"]) == producer.group(1)
    modified = re.search(r'xmp:ModifyDate="([^"]*)"', metadata) or re.search(
        r"<xmp:ModifyDate>([^<]*)</xmp:ModifyDate>", metadata
    )
    assert modified is not None
    assert generic.parse_pdf_date(str(info["/ModDate"])) == datetime.fromisoformat(modified.group(1))
    assert str(info["/Title"]) in metadata and str(info["/Author"]) in metadata
    assert 'pdfaid:part="3"' in metadata


@pytest.mark.skipif(shutil.which("qpdf") is None, reason="qpdf not installed")
def test_qpdf_accepts_the_stamped_file(stamped: bytes, tmp_path: Path) -> None:
    path = tmp_path / "stamped.pdf"
    path.write_bytes(stamped)
    result = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# ----------------------------------------------------------------------------- placement


def _words(pdf: bytes, tmp_path: Path) -> list[tuple[str, float, float, float, float]]:
    """Words on page 1 with their boxes in PDF coordinates (origin bottom left)."""
    path = tmp_path / "words.pdf"
    path.write_bytes(pdf)
    html = subprocess.run(
        ["pdftotext", "-bbox", "-f", "1", "-l", "1", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    page_height = float(re.search(r'<page width="[\d.]+" height="([\d.]+)"', html).group(1))  # type: ignore[union-attr]
    words = []
    for x1, y1, x2, y2, text in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', html
    ):
        words.append((text, float(x1), page_height - float(y2), float(x2), page_height - float(y1)))
    return words


def _overlapping(words: list[tuple[str, float, float, float, float]], box: tuple[int, ...]) -> list[str]:
    bx1, by1, bx2, by2 = box
    return [w[0] for w in words if w[1] < bx2 and w[3] > bx1 and w[2] < by2 and w[4] > by1]


@needs_poppler
@pytest.mark.parametrize("licences", [1, 2, 3])
def test_default_box_covers_no_text_of_the_certificate(
    stamp_renderer: PdfRenderer, licences: int, tmp_path: Path
) -> None:
    pdf = stamp_renderer.render(render_html(sample=False, licences=licences))
    words = _words(pdf, tmp_path)
    assert any(w[0] == "Verify" for w in words)  # the reading works at all
    assert _overlapping(words, STAMP_BOX) == []


@needs_poppler
def test_a_fourth_record_reaches_the_default_box(stamp_renderer: PdfRenderer, tmp_path: Path) -> None:
    """Known limit of the fixed box: a fourth record pushes the body into it.

    The certificate template can reserve the area (``id="tra-signature-stamp"``) to avoid it.
    If this starts failing, the layout changed: re-check :data:`STAMP_BOX`.
    """
    context = dlt_context(sample=False, licences=3)
    context["licences"].append(dict(context["licences"][0], number="69000001"))
    pdf = stamp_renderer.render(make_env().get_template(TEMPLATE).render(**context))
    assert _overlapping(_words(pdf, tmp_path), STAMP_BOX) != []


RESERVING_HTML = """<!doctype html><html lang="th"><meta charset="utf-8">
<style>@page {{ size: A4; margin: 20mm }} body {{ font-family: Laksaman }}
#tra-signature-stamp {{ width: 170mm; height: 13.5mm; margin-left: auto; {extra} }}</style>
<p>หนังสือรับรอง Certificate</p>{filler}
<div id="tra-signature-stamp"></div>
<p>ท้ายหนังสือ End of document</p></html>"""


def test_reserved_area_in_the_layout_places_the_stamp(stamp_renderer: PdfRenderer) -> None:
    pdf = stamp_renderer.render(RESERVING_HTML.format(extra="", filler="<p>ย่อหน้า</p>" * 5))
    page, box = stamp_place(IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False))
    assert page == 0
    # Right edge at the right margin (595.3 - 20 mm), size STAMP_SIZE, somewhere in the upper half.
    assert abs(box[2] - (595.28 - 56.69)) <= 1.5
    assert (box[2] - box[0], box[3] - box[1]) == STAMP_SIZE
    assert 421 < box[1] < box[3] < 842 - 56
    assert box != STAMP_BOX


def test_reserved_area_on_page_two(stamp_renderer: PdfRenderer, signing_identity: SigningIdentity) -> None:
    pdf = stamp_renderer.render(RESERVING_HTML.format(extra="break-before: page", filler=""), data={"k": "v"})
    page, box = stamp_place(reader_of(pdf))
    assert page == 1
    signed = sign_with_stamp(pdf, signing_identity)
    page2 = reader_of(signed).root["/Pages"]["/Kids"][1].get_object()
    rects = [[float(v) for v in a.get_object()["/Rect"]] for a in page2["/Annots"]]
    assert [float(v) for v in box] in rects


def test_without_reserved_area_the_default_box_is_used(stamp_unsigned: bytes) -> None:
    assert STAMP_ANCHOR not in stamp_unsigned.decode("latin-1")
    assert stamp_place(reader_of(stamp_unsigned)) == (0, STAMP_BOX)


# ----------------------------------------------------------------------------- looking at it


def _rasterise(pdf: bytes, tmp_path: Path, name: str, dpi: int = 150) -> Image.Image:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            str(dpi),
            "-png",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(path),
            str(tmp_path / name),
        ],
        check=True,
    )
    return Image.open(tmp_path / f"{name}.png").convert("L")


def _stamp_crop(image: Image.Image, dpi: int = 150) -> Image.Image:
    scale = dpi / 72
    x1, y1, x2, y2 = STAMP_BOX
    height_pt = image.height / scale
    return image.crop(
        (int(x1 * scale), int((height_pt - y2) * scale), int(x2 * scale), int((height_pt - y1) * scale))
    )


@needs_poppler
def test_stamp_is_drawn_where_the_page_was_blank(
    stamp_unsigned: bytes, stamped: bytes, tmp_path: Path
) -> None:
    before = _stamp_crop(_rasterise(stamp_unsigned, tmp_path, "before"))
    after = _stamp_crop(_rasterise(stamped, tmp_path, "after"))
    inner = (6, 6, after.width - 6, after.height - 6)  # inside the border
    dark_before = sum(1 for p in before.crop(inner).get_flattened_data() if p < 128)
    dark_after = sum(1 for p in after.crop(inner).get_flattened_data() if p < 128)
    assert dark_before == 0
    assert dark_after > 500  # four lines of text
    # Keep the pictures for a person to look at (pytest --basetemp to find them).
    after.save(tmp_path / "stamp-crop.png")


@needs_poppler
def test_long_agency_names_are_shrunk_into_the_box(
    stamp_unsigned: bytes, signing_identity: SigningIdentity, tmp_path: Path
) -> None:
    signed = sign_with_stamp(
        stamp_unsigned,
        signing_identity,
        agency_th="สำนักงานคณะกรรมการส่งเสริมการลงทุน สำนักนายกรัฐมนตรี",
        agency_en="Office of the Board of Investment, Office of the Prime Minister",
    )
    crop = _stamp_crop(_rasterise(signed, tmp_path, "long"))
    # Nothing drawn outside the box: the strip right of it stays white.
    image = _rasterise(signed, tmp_path, "long-page")
    scale = 150 / 72
    strip = image.crop(
        (
            int((STAMP_BOX[2] + 2) * scale),
            int((842 - STAMP_BOX[3]) * scale),
            int(560 * scale),
            int((842 - STAMP_BOX[1]) * scale),
        )
    )
    assert min(strip.get_flattened_data()) > 200
    assert sum(1 for p in crop.get_flattened_data() if p < 128) > 500


# ----------------------------------------------------------------------------- cost


def test_the_stamp_adds_little_to_the_file(stamp_unsigned: bytes, signing_identity: SigningIdentity) -> None:
    """The stamp's font is a subset: a few KB, not the whole Thai font. (Its signing time is
    measured by bench/issue.py, in the README's table; a timed test would fail on a busy machine.)"""
    plain = sign_without_stamp(stamp_unsigned, signing_identity)
    with_stamp = sign_with_stamp(stamp_unsigned, signing_identity)
    assert 0 < len(with_stamp) - len(plain) < 20_000
