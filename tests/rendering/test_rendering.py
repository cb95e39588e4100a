"""Tests for portal.rendering: formatting helpers, QR codes, and real WeasyPrint renders.

Nothing is mocked: the certificate is rendered with WeasyPrint, counted with pyHanko's PDF
reader, rasterised with poppler's pdftoppm and its QR read back with zbarimg.
"""

from __future__ import annotations

import base64
import gc
import io
import logging
import re
import shutil
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
import pytest
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader

from issuers.dlt import SIGNATORY, DltIssuer
from portal.rendering import (
    CERTIFICATE_CSS_PATH,
    PdfRenderer,
    english_date,
    english_date_short,
    format_pid,
    pid_is_valid,
    qr_png_data_uri,
    qr_svg_data_uri,
    register_filters,
    thai_date,
)

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = "issuers/dlt/driving_licence.html"
VERIFY_URL = "http://127.0.0.1:5000/v/K7QF2M9XPA4DTR6BW3"


# ----------------------------------------------------------------------------- dates


def test_thai_date_known_value() -> None:
    assert thai_date(date(2020, 1, 31)) == "31 มกราคม 2563"


def test_thai_date_thai_digits() -> None:
    assert thai_date(date(2020, 1, 31), digits="thai") == "๓๑ มกราคม ๒๕๖๓"


def test_thai_date_rejects_unknown_digit_style() -> None:
    with pytest.raises(ValueError):
        thai_date(date(2020, 1, 31), digits="roman")  # type: ignore[arg-type]


def test_english_dates() -> None:
    assert english_date(date(2020, 1, 31)) == "31 January 2020 (B.E. 2563)"
    assert english_date_short(date(2020, 1, 31)) == "31 January 2020"
    assert english_date_short(date(2026, 12, 1)) == "1 December 2026"


def test_aware_datetime_is_stated_in_bangkok_time() -> None:
    # 20:00 UTC on 30 January is 03:00 on 31 January in Bangkok (UTC+7).
    instant = datetime(2020, 1, 30, 20, 0, tzinfo=UTC)
    assert thai_date(instant) == "31 มกราคม 2563"
    assert english_date(instant) == "31 January 2020 (B.E. 2563)"


def test_naive_datetime_is_taken_as_is() -> None:
    assert thai_date(datetime(2020, 1, 30, 23, 59)) == "30 มกราคม 2563"


def test_every_month_has_a_name() -> None:
    names = {thai_date(date(2024, m, 1)).split()[1] for m in range(1, 13)}
    assert len(names) == 12
    assert thai_date(date(2024, 12, 5)) == "5 ธันวาคม 2567"


# ------------------------------------------------------------------------ citizen ID


@pytest.mark.parametrize("pid", ["1101700123456", "3100600445562"])
def test_pid_valid(pid: str) -> None:
    # 1101700123456: Σ dᵢ·(13−i) = 148, 148 mod 11 = 5, (11 − 5) mod 10 = 6.
    assert pid_is_valid(pid)


@pytest.mark.parametrize(
    "pid",
    [
        "1101700123451",  # wrong check digit
        "110170012345",  # 12 digits
        "11017001234560",  # 14 digits
        "1-1017-00123-45-6",  # formatted: normalise before validating
        "๑๑๐๑๗๐๐๑๒๓๔๕๖",  # Thai numerals
        "11017OO123456",  # letters
        "",
    ],
)
def test_pid_invalid(pid: str) -> None:
    assert not pid_is_valid(pid)


def test_format_pid() -> None:
    assert format_pid("1101700123456") == "1-1017-00123-45-6"
    assert format_pid("1-1017-00123-45-6") == "1-1017-00123-45-6"


@pytest.mark.parametrize("pid", ["110170012345", "abc", "11017001234567"])
def test_format_pid_rejects_malformed(pid: str) -> None:
    with pytest.raises(ValueError):
        format_pid(pid)


# -------------------------------------------------------------------------------- QR


def test_qr_png_data_uri_is_black_and_white_png_with_quiet_zone() -> None:
    uri = qr_png_data_uri(VERIFY_URL)
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    image = Image.open(io.BytesIO(base64.b64decode(uri[len(prefix) :], validate=True)))
    assert image.format == "PNG"
    width, height = image.size
    # Version 3 (29 modules) + 2 × 4 quiet-zone modules, 4 pixels per module.
    assert width == height == (29 + 8) * 4
    colours = {value for _, value in image.convert("L").getcolors()}
    assert colours == {0, 255}
    # The quiet zone (4 modules = 16 px) is white all round.
    grey = image.convert("L")
    assert all(grey.getpixel((x, y)) == 255 for x in range(width) for y in range(16))
    assert all(grey.getpixel((x, y)) == 255 for x in range(16) for y in range(height))


def test_qr_data_uri_is_base64_svg() -> None:
    uri = qr_svg_data_uri(VERIFY_URL)
    prefix = "data:image/svg+xml;base64,"
    assert uri.startswith(prefix)
    svg = base64.b64decode(uri[len(prefix) :], validate=True).decode("utf-8")
    assert svg.lstrip().startswith("<svg")
    assert 'xmlns="http://www.w3.org/2000/svg"' in svg
    width = re.search(r'width="([0-9.]+)mm"', svg)
    assert width and abs(float(width.group(1)) - 28) < 0.01
    assert "#000" in svg and "#fff" in svg


def test_qr_rejects_empty_url() -> None:
    with pytest.raises(ValueError):
        qr_svg_data_uri("")
    with pytest.raises(ValueError):
        qr_png_data_uri("")


# ------------------------------------------------------------------- templates, PDF


def make_env() -> jinja2.Environment:
    """The Jinja environment the app uses for certificates (see the DLT issuer)."""
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [
                jinja2.FileSystemLoader(REPO / "templates"),
                jinja2.FileSystemLoader(REPO / "issuers" / "dlt" / "templates"),
            ]
        ),
        autoescape=True,
    )
    register_filters(env)
    return env


LICENCES: list[dict[str, Any]] = [
    {
        "kind_th": "ใบอนุญาตขับรถยนต์ส่วนบุคคล",
        "kind_en": "Private Car Driving Licence",
        "number": "67004060",
        "issued_on": date(2024, 3, 12),
        "expires_on": date(2029, 3, 12),
        "status_th": "ใช้ได้",
        "status_en": "Valid",
    },
    {
        "kind_th": "ใบอนุญาตขับรถจักรยานยนต์ส่วนบุคคล",
        "kind_en": "Private Motorcycle Driving Licence",
        "number": "65012877",
        "issued_on": date(2022, 8, 1),
        "expires_on": date(2027, 8, 1),
        "status_th": "ใช้ได้",
        "status_en": "Valid",
    },
    {
        "kind_th": "ใบอนุญาตขับรถยนต์สาธารณะ",
        "kind_en": "Public Car Driving Licence",
        "number": "63020011",
        "issued_on": date(2020, 1, 31),
        "expires_on": date(2023, 1, 31),
        "status_th": "สิ้นอายุ",
        "status_en": "Expired",
    },
    {
        "kind_th": "ใบอนุญาตขับรถระหว่างประเทศ",
        "kind_en": "International Driving Permit",
        "number": "68000412",
        "issued_on": date(2025, 6, 2),
        "expires_on": date(2026, 6, 2),
        "status_th": "ถูกพักใช้",
        "status_en": "Suspended",
    },
]


def dlt_context(*, licences: int = 2, long_name: bool = False, sample: bool = True) -> dict[str, Any]:
    """Template context in the shape the DLT issuer builds."""
    holder = {
        "name_th": "นายสมชาย ใจดี",
        "name_en": "Mr. Somchai Jaidee",
        "pid": "1101700123456",
        "birth_date": date(1985, 3, 5),
    }
    if long_name:
        holder["name_th"] = "ว่าที่ร้อยตรีศักดิ์สิทธิ์ เฉลิมพระเกียรติวงศ์สวัสดิ์ศรีประเสริฐ"
        holder["name_en"] = "Acting Sub-Lieutenant Saksit Chalermprakiatwongsawatsriprasert"
    issued_at = datetime(2026, 5, 14, 3, 15, tzinfo=UTC)
    return {
        "document": {
            "number": "ขบ 1/2569-00000123",
            "verification_code": "K7QF-2M9X-PA4D-TR6B-W3",
            "verify_url": VERIFY_URL,
            "issued_at": issued_at,
            "expires_at": issued_at.date() + timedelta(days=90),
            "title_th": "หนังสือรับรองใบอนุญาตขับรถ",
            "title_en": "Driving Licence Certificate",
            "sample": sample,
        },
        "agency": DltIssuer.agency_facts(),
        "holder": holder,
        "licences": LICENCES[:licences],
        "signatory": SIGNATORY,
    }


def render_html(**kwargs: Any) -> str:
    return make_env().get_template(TEMPLATE).render(**dlt_context(**kwargs))


def page_count(pdf: bytes) -> int:
    return int(PdfFileReader(io.BytesIO(pdf)).root["/Pages"]["/Count"])


@pytest.fixture(scope="module")
def renderer() -> PdfRenderer:
    return PdfRenderer(stylesheet_paths=[CERTIFICATE_CSS_PATH])


@pytest.fixture(scope="module")
def certificate_pdf(renderer: PdfRenderer) -> bytes:
    return renderer.render(render_html())


def test_filters_are_registered() -> None:
    env = jinja2.Environment(autoescape=True)
    register_filters(env)
    out = env.from_string(
        "{{ d|thai_date }}|{{ d|thai_date(digits='thai') }}|{{ d|english_date }}|"
        "{{ d|english_date_short }}|{{ pid|format_pid }}|{{ (url|qr_data_uri)[:26] }}|"
        "{{ qr_data_uri(url)[:26] }}"
    ).render(d=date(2020, 1, 31), pid="1101700123456", url=VERIFY_URL)
    assert out == (
        "31 มกราคม 2563|๓๑ มกราคม ๒๕๖๓|31 January 2020 (B.E. 2563)|31 January 2020|"
        "1-1017-00123-45-6|data:image/png;base64,iVBO|data:image/png;base64,iVBO"
    )


def test_template_content() -> None:
    html = render_html()
    for expected in [
        "ที่",
        "ขบ 1/2569-00000123",
        "หนังสือรับรองใบอนุญาตขับรถ",
        "Driving Licence Certificate",
        "หนังสือฉบับนี้ให้ไว้เพื่อรับรองว่า",
        "1-1017-00123-45-6",
        "67004060",
        "12 มีนาคม 2567",
        "12 March 2029",
        "ออกให้ ณ วันที่ 14 พฤษภาคม 2569",
        "Issued on 14 May 2026 (B.E. 2569)",
        "(นางสาวกานดา ตัวอย่าง)",
        "ปฏิบัติราชการแทน อธิบดีกรมการขนส่งทางบก",
        "K7QF-2M9X-PA4D-TR6B-W3",
        VERIFY_URL,
        "ตัวอย่าง / SAMPLE — DEVELOPMENT",
    ]:
        assert expected in html, expected
    # The font trap: no font-family may name TH Sarabun PSK (fontconfig maps it to a
    # 0.66-scaled Laksaman and WeasyPrint draws overlapping glyphs).
    css = CERTIFICATE_CSS_PATH.read_text(encoding="utf-8")
    families = re.findall(r"font-family\s*:([^;}]*)", css)
    assert families and all("Laksaman" in f for f in families)
    assert not any("sarabun" in f.lower() for f in families)


def test_no_sample_mark_on_real_documents() -> None:
    html = render_html(sample=False)
    assert "SAMPLE" not in html
    assert "ตัวอย่าง /" not in html


def test_user_text_is_escaped() -> None:
    context = dlt_context()
    context["holder"]["name_en"] = '<img src="http://evil.example/x">'
    html = make_env().get_template(TEMPLATE).render(**context)
    assert '<img src="http://evil.example' not in html
    assert "&lt;img" in html


def test_pdf_is_one_page(certificate_pdf: bytes) -> None:
    assert certificate_pdf.startswith(b"%PDF-")
    assert page_count(certificate_pdf) == 1


def test_pdf_title_from_html_and_override(renderer: PdfRenderer, certificate_pdf: bytes) -> None:
    info = PdfFileReader(io.BytesIO(certificate_pdf)).trailer["/Info"]
    assert "Driving Licence Certificate" in str(info["/Title"])
    pdf = renderer.render(render_html(), title="Custom title")
    assert str(PdfFileReader(io.BytesIO(pdf)).trailer["/Info"]["/Title"]) == "Custom title"


def test_long_name_and_four_licences_fit_one_page(renderer: PdfRenderer) -> None:
    pdf = renderer.render(render_html(licences=4, long_name=True))
    assert page_count(pdf) == 1


def test_no_licences_still_renders(renderer: PdfRenderer) -> None:
    html = render_html(licences=0)
    assert "ไม่ปรากฏใบอนุญาตขับรถ" in html
    assert page_count(renderer.render(html)) == 1


def test_render_rejects_bytes(renderer: PdfRenderer) -> None:
    with pytest.raises(TypeError):
        renderer.render(b"<p>x</p>")  # type: ignore[arg-type]


def test_missing_stylesheet_fails_early(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        PdfRenderer(stylesheet_paths=[tmp_path / "nope.css"])


def test_renderer_fetches_nothing_from_outside(
    renderer: PdfRenderer, caplog: pytest.LogCaptureFixture
) -> None:
    html = (
        '<!doctype html><html lang="th"><meta charset="utf-8"><body><p>ทดสอบ</p>'
        '<img src="http://192.0.2.1/x.png"><img src="file:///etc/hostname"></body></html>'
    )
    with caplog.at_level(logging.WARNING):
        pdf = renderer.render(html)
    assert pdf.startswith(b"%PDF-")
    refused = [r for r in caplog.records if r.name == "portal.rendering.pdf"]
    assert any("/etc/hostname" in r.getMessage() for r in refused)
    assert any("192.0.2.1" in r.getMessage() for r in refused)


def test_concurrent_renders_are_serialised(renderer: PdfRenderer) -> None:
    html = render_html()
    results: list[bytes] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(renderer.render(html))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert len(results) == 3 and all(page_count(p) == 1 for p in results)


def test_import_does_not_load_weasyprint() -> None:
    code = "import sys, portal.rendering; assert 'weasyprint' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


@pytest.mark.skipif(
    shutil.which("pdftoppm") is None or shutil.which("zbarimg") is None,
    reason="needs pdftoppm (poppler-utils) and zbarimg (zbar-tools) to read the QR back",
)
@pytest.mark.parametrize("dpi", [80, 150])
def test_qr_in_rendered_page_decodes_to_verify_url(certificate_pdf: bytes, tmp_path: Path, dpi: int) -> None:
    pdf_path = tmp_path / "cert.pdf"
    pdf_path.write_bytes(certificate_pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", str(dpi), "-singlefile", str(pdf_path), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    result = subprocess.run(
        ["zbarimg", "-q", "--raw", str(tmp_path / "page.png")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == [VERIFY_URL]


def test_qr_image_is_drawn_without_smoothing(certificate_pdf: bytes) -> None:
    # image-rendering: pixelated on the PNG QR: viewers must not blur the module edges.
    assert b"/Interpolate false" in certificate_pdf
    assert b"/Interpolate true" not in certificate_pdf


@pytest.mark.parametrize("enabled_before", [True, False])
def test_render_restores_garbage_collector_state(renderer: PdfRenderer, enabled_before: bool) -> None:
    was_enabled = gc.isenabled()
    try:
        if not enabled_before:
            gc.disable()
        renderer.render(render_html())
        assert gc.isenabled() is enabled_before
    finally:
        if was_enabled:
            gc.enable()
