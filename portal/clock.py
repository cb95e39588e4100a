"""The one clock of the portal, so that tests can move time (the only thing we fake)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

BANGKOK = ZoneInfo("Asia/Bangkok")


def now() -> datetime:
    """Aware UTC now."""
    return datetime.now(UTC)


def today_bangkok() -> date:
    """Today's date where the documents are issued."""
    return now().astimezone(BANGKOK).date()
