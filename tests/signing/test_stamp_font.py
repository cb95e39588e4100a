"""The stamp's font subset made once per process (portal.signing.stamp_font).

The stamp drawn with the cached subset must look exactly like pyHanko's own per-signature subset,
map its Thai back to text, and still validate; a later signing time must not make a new subset.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import x509
from PIL import ImageChops
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from portal.rendering import CERTIFICATE_CSS_PATH, PdfRenderer
from portal.signing import SigningIdentity
from portal.signing.stamp import stamp_style, visible_signature
from portal.signing.stamp_font import ALWAYS_INCLUDED, CachedSubsetFactory, subset_cache_info
from tests.rendering.test_pdfa import certificate_facts
from tests.rendering.test_rendering import render_html
from tests.signing.test_stamp import (
    AGENCY_EN,
    AGENCY_TH,
    SIGNED_AT,
    _rasterise,
    _stamp_crop,
    _tounicode_targets,
    appearance_font,
    reader_of,
)


@pytest.fixture(scope="module")
def stamp_unsigned() -> bytes:
    """The DLT certificate as PDF/A-3b with its data.json (as in test_stamp.py)."""
    renderer = PdfRenderer(stylesheet_paths=[CERTIFICATE_CSS_PATH])
    return renderer.render(render_html(sample=False), data=certificate_facts(), data_created=SIGNED_AT)


def _sign(pdf: bytes, identity: SigningIdentity, signed_at: datetime, *, stock_font: bool = False) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    visible = visible_signature(
        agency_th=AGENCY_TH, agency_en=AGENCY_EN, signed_at=signed_at, document=writer
    )
    style = visible.style
    if stock_font:  # pyHanko's own engine: subsets the font for this one signature
        cached = style.text_box_style.font
        assert isinstance(cached, CachedSubsetFactory)
        stock = GlyphAccumulatorFactory(cached.font_file, font_size=cached.font_size, bcp47_lang_code="th")
        style = replace(style, text_box_style=replace(style.text_box_style, font=stock))
        assert isinstance(style.text_box_style, TextBoxStyle)
    meta = signers.PdfSignatureMetadata(
        field_name=visible.field_spec.sig_field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
    )
    pdf_signer = signers.PdfSigner(
        meta, identity.signer, stamp_style=style, new_field_spec=visible.field_spec
    )
    return pdf_signer.sign_pdf(writer, appearance_text_params=visible.text_params).getvalue()


def _font_program(pdf: bytes) -> bytes:
    descriptor = appearance_font(pdf)["/DescendantFonts"][0].get_object()["/FontDescriptor"]
    return descriptor["/FontFile2"].data


def test_the_stamp_style_uses_the_cached_subset() -> None:
    assert isinstance(stamp_style().text_box_style.font, CachedSubsetFactory)


def test_a_later_signing_time_reuses_the_subset(
    stamp_unsigned: bytes, signing_identity: SigningIdentity
) -> None:
    first = _sign(stamp_unsigned, signing_identity, SIGNED_AT)
    before = subset_cache_info()
    # Other digits in the date and time: the same subset (the digits are always in it).
    second = _sign(stamp_unsigned, signing_identity, SIGNED_AT + timedelta(hours=7, minutes=44))
    after = subset_cache_info()
    assert after["hits"] == before["hits"] + 1
    assert after["misses"] == before["misses"]
    assert _font_program(first) == _font_program(second)


def test_cached_subset_keeps_thai_text_and_validates(
    stamp_unsigned: bytes, signing_identity: SigningIdentity, signing_trust_roots: list[x509.Certificate]
) -> None:
    signed = _sign(stamp_unsigned, signing_identity, datetime(2027, 1, 2, 13, 59, tzinfo=UTC))
    font = appearance_font(signed)
    mapped = set("".join(_tounicode_targets(font["/ToUnicode"].data.decode("ascii"))))
    assert set("กรมการขนส่งทางบกลายมือชื่อดิจิทัลโดยมกราคม") <= mapped
    status = validate_pdf_signature(
        reader_of(signed).embedded_signatures[0],
        ValidationContext(trust_roots=signing_trust_roots, allow_fetching=False),
    )
    assert status.bottom_line and status.coverage.name == "ENTIRE_FILE"


def test_cached_subset_carries_the_digits(stamp_unsigned: bytes, signing_identity: SigningIdentity) -> None:
    from fontTools.ttLib import TTFont

    program = TTFont(io.BytesIO(_font_program(_sign(stamp_unsigned, signing_identity, SIGNED_AT))))
    glyf = program["glyf"]
    cmap = TTFont(stamp_style().text_box_style.font.font_file).getBestCmap()
    for digit in ALWAYS_INCLUDED:  # outlines present, not empty slots left by retain_gids
        assert glyf[cmap[ord(digit)]].numberOfContours > 0, digit


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_cached_stamp_looks_like_pyhankos_own(
    stamp_unsigned: bytes, signing_identity: SigningIdentity, tmp_path: Path
) -> None:
    cached = _stamp_crop(_rasterise(_sign(stamp_unsigned, signing_identity, SIGNED_AT), tmp_path, "cached"))
    stock = _stamp_crop(
        _rasterise(_sign(stamp_unsigned, signing_identity, SIGNED_AT, stock_font=True), tmp_path, "stock")
    )
    assert sum(1 for p in cached.get_flattened_data() if p < 128) > 500  # something is drawn
    assert ImageChops.difference(cached, stock).getbbox() is None  # and it is the same picture
