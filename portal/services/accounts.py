"""People logging in: identity-provider claims become a portal user and a server-side session."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Protocol

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from portal import clock
from portal.errors import BadInput
from portal.extensions import db
from portal.issuing import NATIONALITY, PASSPORT_NUMBER
from portal.issuing.thai import pid_is_valid
from portal.models import Identity, User, UserSession
from portal.services import mandates
from portal.services.audit import record_audit

__all__ = [
    "ClaimsError",
    "LoginProvider",
    "end_session",
    "log_in",
    "map_claims",
    "missing_claims",
    "resume_session",
    "start_session",
]

_PASSPORT_FIELDS = frozenset({"passport_number", "nationality"})
#: Fields kept on the Identity (what the provider vouched for), not on the User.
IDENTITY_ATTRIBUTES = ("juristic_id", "juristic_name", "role", "passport_number", "nationality")
#: The longest text accepted per field (the columns' sizes).
_MAX_LENGTH = {"name_th": 200, "name_en": 200, "email": 320, "juristic_name": 300, "role": 64}
#: How often a session's last-seen time is written (not on every request).
_TOUCH_EVERY = timedelta(seconds=60)


class LoginProvider(Protocol):
    """What a login needs to know of the identity provider it came through (``portal.auth.Provider``
    is one; services import nothing of ``portal.auth``)."""

    #: Short name stored with identities and sessions.
    name: str
    #: ``citizen``, ``business``, ``investor`` or ``officer``.
    audience: str
    #: Portal field → claim name.
    claims: Mapping[str, str]


class ClaimsError(BadInput):
    """The provider's claims cannot be used; nothing was stored."""

    type = "bad-claims"


def missing_claims(provider: LoginProvider, claims: Mapping[str, Any]) -> list[str]:
    """Claim names the provider's mapping asks for that ``claims`` lacks (ask userinfo for them)."""
    return [claim for claim in provider.claims.values() if claims.get(claim) in (None, "")]


def map_claims(provider: LoginProvider, claims: Mapping[str, Any]) -> dict[str, str]:
    """The portal fields from ``claims`` through the provider's mapping, checked and normalised.

    Raises :class:`ClaimsError` for a value of the wrong shape, or when the provider's audience
    needs a field the provider did not send.
    """
    fields: dict[str, str] = {}
    for portal_field, claim in provider.claims.items():
        value = claims.get(claim)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ClaimsError(_("The identity provider sent information in a form this portal cannot use."))
        fields[portal_field] = _checked(portal_field, value.strip())
    needed = {"citizen": ("pid",), "investor": ("passport_number", "nationality")}.get(provider.audience, ())
    if provider.audience == "citizen" and _PASSPORT_FIELDS <= provider.claims.keys():
        # A provider mapping both a national ID and a passport (the development OP) vouches for
        # Thai citizens and foreign investors alike: either identifier will do.
        if "pid" not in fields and _PASSPORT_FIELDS <= fields.keys():
            needed = _PASSPORT_FIELDS
    if any(name not in fields for name in needed):
        raise ClaimsError(
            _("The identity provider did not send all the details this portal needs to know you.")
        )
    return fields


def _checked(portal_field: str, value: str) -> str:
    if portal_field == "pid" and not pid_is_valid(value):
        raise ClaimsError(_("The identity provider sent a national ID number that is not valid."))
    if portal_field == "juristic_id" and not pid_is_valid(value):
        raise ClaimsError(_("The identity provider sent a juristic person number that is not valid."))
    if portal_field == "passport_number":
        value = value.upper()
        if not PASSPORT_NUMBER.fullmatch(value):
            raise ClaimsError(_("The identity provider sent a passport number that is not valid."))
    if portal_field == "nationality":
        value = value.upper()
        if not NATIONALITY.fullmatch(value):
            raise ClaimsError(_("The identity provider sent a nationality that is not valid."))
    if len(value) > _MAX_LENGTH.get(portal_field, 320):
        raise ClaimsError(_("The identity provider sent information in a form this portal cannot use."))
    return value


def log_in(*, provider: LoginProvider, claims: Mapping[str, Any], id_token: str | None) -> User:
    """Find or create the person behind ``provider``'s ``sub``, store what the mapping allows,
    open a server-side session (``user.login_session``), and commit. Nothing is stored when a
    claim is bad.

    People are linked across providers by national ID, or by passport and nationality; never by
    e-mail (a provider may let anyone claim any address).
    """
    try:
        return _log_in(provider=provider, claims=claims, id_token=id_token)
    except ClaimsError:
        db.session.rollback()
        raise


def _log_in(*, provider: LoginProvider, claims: Mapping[str, Any], id_token: str | None) -> User:
    subject = claims.get("sub")
    if not subject or not isinstance(subject, str):
        raise ClaimsError(_("The identity provider did not say who you are."))
    fields = map_claims(provider, claims)
    pid = fields.get("pid")
    passport = (fields.get("nationality"), fields.get("passport_number"))

    identity = db.session.scalar(
        select(Identity).where(Identity.provider == provider.name, Identity.subject == subject)
    )
    if identity is not None:
        user = identity.user
        if pid and user.pid and user.pid != pid:
            raise ClaimsError(_("The identity provider now sends a different national ID for you."))
    else:
        user = None
        if pid:
            user = db.session.scalar(select(User).where(User.pid == pid))
        elif all(passport):
            user = db.session.scalar(
                select(User).where(User.nationality == passport[0], User.passport_number == passport[1])
            )
        if user is None:
            user = User()
            db.session.add(user)
        identity = Identity(provider=provider.name, subject=subject, user=user)
        db.session.add(identity)
    if pid and not user.pid:
        if db.session.scalar(select(User.id).where(User.pid == pid, User.id != user.id)):
            raise ClaimsError(_("Another account already holds this national ID. Please contact support."))
        user.pid = pid
    if all(passport) and not user.passport_number:
        user.nationality, user.passport_number = passport
    user.name_th = fields.get("name_th") or user.name_th
    user.name_en = fields.get("name_en") or user.name_en
    user.email = fields.get("email") or user.email
    now = clock.now()
    user.last_login_at = now
    identity.audience = provider.audience
    identity.attributes = {name: fields[name] for name in IDENTITY_ATTRIBUTES if name in fields}
    identity.last_login_at = now
    db.session.flush()
    audience = provider.audience
    if audience == "citizen" and not user.pid and user.passport_number:
        audience = "investor"  # a foreign investor through a provider that serves both
    login_session = _new_session(user, provider=provider.name, audience=audience, id_token=id_token)
    record_audit(user.id, "login", target=f"{provider.name}:{subject}")
    # Which companies they may act for, asked now and kept on the session; a registry that
    # cannot be asked does not stop the login (the pages say so).
    mandates.check_at_login(user, login_session)
    db.session.commit()
    user.login_session = login_session
    return user


def start_session(
    user: User, *, provider: str, audience: str, id_token: str | None = None, check_mandates: bool = False
) -> UserSession:
    """Open a server-side session for ``user`` and commit (tests and operator tools); with
    ``check_mandates`` the registries are asked for the person's companies, as at a real login."""
    login_session = _new_session(user, provider=provider, audience=audience, id_token=id_token)
    if check_mandates:
        mandates.check_at_login(user, login_session)
    db.session.commit()
    user.login_session = login_session
    return login_session


def _new_session(user: User, *, provider: str, audience: str, id_token: str | None) -> UserSession:
    now = clock.now()
    login_session = UserSession(
        user=user,
        provider=provider,
        audience=audience,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"]),
        id_token=id_token,
    )
    db.session.add(login_session)
    db.session.flush()
    return login_session


def resume_session(session_id: str) -> User | None:
    """The person of an active session (not ended, not idle too long, not past its end), or None.

    Records activity at most once a minute, so a page view rarely writes.
    """
    if not session_id or len(session_id) > 64:
        return None
    login_session = db.session.get(UserSession, session_id)
    if login_session is None or login_session.ended_at is not None:
        return None
    now = clock.now()
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    if now >= login_session.expires_at or now >= login_session.last_seen_at + idle:
        return None
    if now - login_session.last_seen_at >= _TOUCH_EVERY:
        login_session.last_seen_at = now
        db.session.commit()
    user = login_session.user
    user.login_session = login_session
    return user


def end_session(session_id: str | None) -> UserSession | None:
    """End a session for good (logout) and commit; returns it for the provider's logout."""
    login_session = db.session.get(UserSession, session_id) if session_id else None
    if login_session is None:
        return None
    if login_session.ended_at is None:
        login_session.ended_at = clock.now()
        record_audit(login_session.user_id, "logout", target=login_session.provider)
        db.session.commit()
    return login_session
