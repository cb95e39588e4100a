"""People logging in: identity-provider claims become a portal user."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from portal.errors import BadInput
from portal.extensions import db
from portal.models import Identity, User
from portal.models._types import utcnow
from portal.rendering.dates import pid_is_valid
from portal.services.audit import record_audit

_PID = re.compile(r"^\d{13}$")


def sign_in(*, provider: str, claims: Mapping[str, Any]) -> User:
    """Find or create the user behind ``provider``'s ``sub``, refresh their names, and commit."""
    subject = claims.get("sub")
    if not subject:
        raise BadInput(_("The identity provider did not say who you are."))
    pid = claims.get("pid")
    if pid is not None and not (isinstance(pid, str) and _PID.match(pid) and pid_is_valid(pid)):
        raise BadInput(_("The identity provider sent a national ID number that is not valid."))

    identity = db.session.scalar(
        select(Identity).where(Identity.provider == provider, Identity.subject == str(subject))
    )
    if identity is not None:
        user = identity.user
    else:
        user = db.session.scalar(select(User).where(User.pid == pid)) if pid else None
        if user is None:
            user = User(pid=pid)
            db.session.add(user)
        identity = Identity(provider=provider, subject=str(subject), user=user)
        db.session.add(identity)
    user.name_th = claims.get("name") or user.name_th
    user.name_en = claims.get("name_en") or user.name_en
    user.email = claims.get("email") or user.email
    user.last_login_at = utcnow()
    db.session.flush()
    record_audit(user.id, "login", target=f"{provider}:{subject}")
    db.session.commit()
    return user
