"""Certificate rendering: QR codes, Jinja filters, HTML → PDF.

The Thai/English date and ID formats the filters use are defined in :mod:`portal.issuing.thai`
(issuers need them too, and import only ``portal.issuing``); they are re-exported here for
templates' and callers' convenience.

Certificates with data are PDF/A-3b carrying their facts as an embedded ``data.json``
(:meth:`PdfRenderer.render` with ``data=``; read back with :func:`embedded_data`).

Only this package imports WeasyPrint, and only when a PDF is first rendered; the formatting
helpers and :func:`register_filters` are cheap to import anywhere.
"""

from __future__ import annotations

from portal.issuing.thai import english_date, english_date_short, format_pid, pid_is_valid, thai_date

from .filters import register_filters
from .pdf import (
    CERTIFICATE_CSS_PATH,
    DATA_FILE_NAME,
    PDF_VARIANT,
    PdfRenderer,
    certificate_json,
    embedded_data,
)
from .qr import qr_png_data_uri, qr_svg_data_uri

__all__ = [
    "CERTIFICATE_CSS_PATH",
    "DATA_FILE_NAME",
    "PDF_VARIANT",
    "PdfRenderer",
    "certificate_json",
    "embedded_data",
    "english_date",
    "english_date_short",
    "format_pid",
    "pid_is_valid",
    "qr_png_data_uri",
    "qr_svg_data_uri",
    "register_filters",
    "thai_date",
]
