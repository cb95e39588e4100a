"""QR codes for the verification box of a certificate.

The QR is drawn as vector SVG (sharp at any zoom or print resolution) and handed to the
template as a ``data:`` URI, so rendering needs no file system or network access.
"""

from __future__ import annotations

import base64
import io

import segno

__all__ = ["QR_SIZE_MM", "qr_svg_data_uri"]

#: Printed edge length of the symbol, quiet zone included. About 28 mm scans easily from a
#: phone held at reading distance, even for a long verification URL.
QR_SIZE_MM = 28.0

#: Quiet zone in modules. The QR specification asks for 4; scanners (and zbar) fail more
#: often with less, and the white margin also keeps the symbol clear of the box border.
_QUIET_ZONE = 4


def qr_svg_data_uri(url: str) -> str:
    """Return ``data:image/svg+xml;base64,…`` of a QR code that encodes ``url``.

    Error correction is level M (15 %): enough for a printed page that gets folded or
    stamped, while keeping the symbol small. Black modules on an explicit white background,
    so the code scans on tinted paper or over a watermark. The SVG's intrinsic size is
    :data:`QR_SIZE_MM` millimetres; the stylesheet may still set the displayed size.
    """
    if not url:
        raise ValueError("a QR code needs a non-empty URL")
    qr = segno.make(url, error="m", micro=False, boost_error=False)
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
