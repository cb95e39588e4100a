"""Changing an issuer's settings for one test: the issuer gets a changed copy, checked like
configured values (settings are parsed once, at start-up, and read from ``issuer.settings``)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask


def change_issuer_settings(
    monkeypatch: pytest.MonkeyPatch, app: Flask, issuer_id: str, **changes: Any
) -> None:
    """Give ``app``'s issuer ``issuer_id`` these settings until the test ends (e.g. ``signature_level``)."""
    issuer = app.extensions["tra.issuers"].get(issuer_id)
    monkeypatch.setattr(issuer, "settings", issuer.settings.replace(**changes))
