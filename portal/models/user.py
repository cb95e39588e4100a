"""People who log in, and the identity-provider accounts that lead to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models._types import UTCDateTime, new_id, utcnow


class User(UserMixin, db.Model):
    """A person using the portal. Several identities may lead to one person (same ``pid``, or
    for foreign investors the same passport of the same country)."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("nationality", "passport_number", name="uq_users_passport"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    #: 13-digit national ID, when an identity provider vouched for it.
    pid: Mapped[str | None] = mapped_column(String(13), unique=True)
    #: Passport number and its issuing country (ISO 3166 alpha-3), for people without a Thai ID.
    passport_number: Mapped[str | None] = mapped_column(String(20))
    nationality: Mapped[str | None] = mapped_column(String(3))
    name_th: Mapped[str | None] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    identities: Mapped[list[Identity]] = relationship(back_populates="user")

    #: The server-side login session this object was loaded through (set by the auth layer,
    #: not stored): Flask-Login keeps that session's id in the cookie, not the user's id.
    login_session = None

    @property
    def identifier(self) -> str | None:
        """How registries and the access log know this person: the national ID, else
        ``<nationality>:<passport number>`` (as ``portal.issuing.Requester.identifier``)."""
        if self.pid:
            return self.pid
        if self.nationality and self.passport_number:
            from portal.issuing import passport_identifier

            return passport_identifier(self.nationality, self.passport_number)
        return None

    def get_id(self) -> str | None:
        return self.login_session.id if self.login_session is not None else None

    def display_name(self, locale: str) -> str:
        if locale == "en":
            return self.name_en or self.name_th or ""
        return self.name_th or self.name_en or ""


class Identity(db.Model):
    """One account at one identity provider (``provider`` + ``subject``)."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("provider", "subject", name="uq_identities_provider_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255))
    #: Who the provider's people are (citizen, business, investor, officer), as configured at login.
    audience: Mapped[str] = mapped_column(String(16), default="citizen", server_default="citizen")
    #: Mapped attributes the provider vouched for at the last login that do not belong to the
    #: person (juristic_id, juristic_name, role) or identify them abroad (passport_number,
    #: nationality). Their set differs per provider, and they are replaced at every login.
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="identities")
