"""Server-side login sessions: the cookie holds only a random id; logging out ends the row."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models._types import UTCDateTime
from portal.models.user import User


def new_session_id() -> str:
    """256 random bits, URL-safe: not derived from the user or the time."""
    return secrets.token_urlsafe(32)


class UserSession(db.Model):
    """One login of one person through one provider, until logout or timeout."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_session_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    #: The audience of the provider at login (citizen, business, investor, officer).
    audience: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Absolute end of the session, whatever the activity.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Kept here, not in the cookie, for RP-initiated logout (``id_token_hint``).
    id_token: Mapped[str | None] = mapped_column(Text)

    #: The companies the person may act for, as the registries said at login (or at the last
    #: check): a list of {juristic_id, name_th, name_en, role, source}. None before any check.
    mandates: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    #: When the registries were last asked.
    mandates_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Ids of the issuers whose registry could not be asked then (the page says so plainly).
    mandates_unavailable: Mapped[list[str] | None] = mapped_column(JSON)
    #: The juristic ID of the company the person acts for now; None = for themself.
    acting_for: Mapped[str | None] = mapped_column(String(13))

    user: Mapped[User] = relationship()
