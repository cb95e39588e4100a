"""The one clock of the portal, so that tests can move time (the only thing we fake).

It also holds the one time zone documents are dated in: issuers reach both through
:mod:`portal.issuing.thai`, the rest of the portal from here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

__all__ = ["BANGKOK", "now", "today_bangkok"]

#: Time zone in which documents are dated and Thai users read times (Thailand has no DST).
BANGKOK = ZoneInfo("Asia/Bangkok")


def now() -> datetime:
    """Aware UTC now."""
    return datetime.now(UTC)


def today_bangkok() -> date:
    """Today's date where the documents are issued."""
    return now().astimezone(BANGKOK).date()
