"""Fixtures shared by the issuer tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portal import clock


@pytest.fixture
def frozen_now(monkeypatch):
    """The clock at 03:30 UTC, 1 June 2026: 10:30 in Bangkok."""
    moment = datetime(2026, 6, 1, 3, 30, tzinfo=UTC)
    monkeypatch.setattr(clock, "now", lambda: moment)
    return moment
