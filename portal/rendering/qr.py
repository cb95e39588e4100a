"""QR codes for the verification box of a certificate.

The QR reaches the template as a ``data:`` URI, so rendering needs no file system or network
access. Certificates use :func:`qr_png_data_uri`: a small black-and-white PNG, one image
pixel per module times :data:`_PNG_SCALE`, that the stylesheet draws at a fixed size with
``image-rendering: pixelated`` (the PDF image gets ``/Interpolate false``, so viewers and
printers enlarge it with hard module edges). WeasyPrint embeds such a PNG almost for free,
whereas it draws an SVG QR (:func:`qr_svg_data_uri`, kept for other uses) through its own
SVG engine, which parses and paints hundreds of path segments on every render: about 4 % of
the whole certificate render, and a 5-7 KB attribute for the HTML parser.
"""

from __future__ import annotations

import base64
import io

import segno

__all__ = ["QR_SIZE_MM", "qr_png_data_uri", "qr_svg_data_uri"]

#: Printed edge length of the symbol, quiet zone included. About 28 mm scans easily from a
#: phone held at reading distance, even for a long verification URL.
QR_SIZE_MM = 28.0

#: Quiet zone in modules. The QR specification asks for 4; scanners (and zbar) fail more
#: often with less, and the white margin also keeps the symbol clear of the box border.
_QUIET_ZONE = 4

#: Image pixels per module in the PNG. The stylesheet turns off smoothing, so 1 would do for
#: PDF viewers that honour ``/Interpolate false``; 4 keeps the edges sharp (a quarter-module
#: blur at most) in the few that smooth anyway, for a few hundred bytes.
_PNG_SCALE = 4


def _make(url: str) -> segno.QRCode:
    """Error correction level M (15 %): enough for a printed page that gets folded or
    stamped, while keeping the symbol small."""
    if not url:
        raise ValueError("a QR code needs a non-empty URL")
    return segno.make(url, error="m", micro=False, boost_error=False)


def qr_png_data_uri(url: str) -> str:
    """Return ``data:image/png;base64,…`` of a QR code that encodes ``url``.

    Black modules on an explicit white background (so the code scans on tinted paper or over
    a watermark), with the quiet zone included. The PNG has no physical size: the stylesheet
    must set the displayed size (:data:`QR_SIZE_MM`) and ``image-rendering: pixelated``.
    """
    return _make(url).png_data_uri(scale=_PNG_SCALE, border=_QUIET_ZONE, dark="#000000", light="#ffffff")


def qr_svg_data_uri(url: str) -> str:
    """Return ``data:image/svg+xml;base64,…`` of a QR code that encodes ``url``.

    Same symbol as :func:`qr_png_data_uri`, as vector SVG whose intrinsic size is
    :data:`QR_SIZE_MM` millimetres. Not used by the certificate templates (slower to render).
    """
    qr = _make(url)
    width_modules, _ = qr.symbol_size(border=_QUIET_ZONE)
    buf = io.BytesIO()
    qr.save(
        buf,
        kind="svg",
        scale=QR_SIZE_MM / width_modules,
        unit="mm",
        border=_QUIET_ZONE,
        dark="#000000",
        light="#ffffff",
        xmldecl=False,
        svgclass=None,
        lineclass=None,
    )
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
