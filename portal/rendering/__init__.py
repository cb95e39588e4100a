"""Certificate rendering: Thai/English date and ID formatting, QR codes, Jinja filters, HTML → PDF.

Only this package imports WeasyPrint, and only when a PDF is first rendered; the formatting
helpers and :func:`register_filters` are cheap to import anywhere.
"""

from __future__ import annotations

from .dates import english_date, english_date_short, format_pid, pid_is_valid, thai_date
from .filters import register_filters
from .pdf import CERTIFICATE_CSS_PATH, PdfRenderer
from .qr import qr_png_data_uri, qr_svg_data_uri

__all__ = [
    "CERTIFICATE_CSS_PATH",
    "PdfRenderer",
    "english_date",
    "english_date_short",
    "format_pid",
    "pid_is_valid",
    "qr_png_data_uri",
    "qr_svg_data_uri",
    "register_filters",
    "thai_date",
]
