"""Jinja2 filters that certificate templates rely on.

The app renders certificate HTML with its own Jinja environment; calling
:func:`register_filters` on it is all the templates under ``templates/certificates`` need.
"""

from __future__ import annotations

import jinja2

from portal.issuing.thai import english_date, english_date_short, format_pid, thai_date

from .qr import qr_png_data_uri

__all__ = ["register_filters"]


def register_filters(env: jinja2.Environment) -> None:
    """Add the certificate filters to ``env``.

    Filters: ``thai_date`` (accepts ``digits="thai"``), ``english_date``,
    ``english_date_short``, ``format_pid`` and ``qr_data_uri`` (a PNG ``data:`` URI, see
    :func:`~portal.rendering.qr.qr_png_data_uri`: draw it at a fixed size with
    ``image-rendering: pixelated``); ``qr_data_uri`` is also a global so a template can write
    either ``url|qr_data_uri`` or ``qr_data_uri(url)``.
    Existing entries with the same names are replaced.
    """
    env.filters.update(
        {
            "thai_date": thai_date,
            "english_date": english_date,
            "english_date_short": english_date_short,
            "format_pid": format_pid,
            "qr_data_uri": qr_png_data_uri,
        }
    )
    env.globals["qr_data_uri"] = qr_png_data_uri
