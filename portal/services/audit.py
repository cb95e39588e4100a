"""Recording audit and access events (added to the caller's transaction, never committed here)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portal.extensions import db
from portal.models import AccessEvent, AuditEvent


def record_audit(actor: str, action: str, target: str | None = None, **detail: Any) -> None:
    """Append who did what; ``detail`` must hold no personal data beyond identifiers."""
    db.session.add(AuditEvent(actor=actor, action=action, target=target, detail=detail))


def record_access(
    *,
    subject_pid: str | None = None,
    subject_passport: str | None = None,
    kind: str,
    agency: str,
    reference: str,
    purpose: str,
    request_id: str | None,
    requested_by: str | None = None,
    on_behalf_of: str | None = None,
    times: int = 1,
    occurred_at: datetime | None = None,
) -> None:
    """Note that someone's data was read, so they can see it ("Who read my data").

    ``times`` reads of the same kind, the last at ``occurred_at`` (default: the column's, now), make one row:
    checks of a document counted in Redis are folded that way (``portal.services.check_counts``).

    The person is named by national ID or, without one, by ``subject_passport``
    (``<nationality>:<passport number>``). ``requested_by``/``on_behalf_of`` say who asked
    without naming another person (see ``portal.services.access_log.describe_requester``).
    """
    if (subject_pid is None) == (subject_passport is None):
        raise ValueError("an access event is about one person: a national ID or a passport")
    when = {"occurred_at": occurred_at} if occurred_at is not None else {}
    db.session.add(
        AccessEvent(
            subject_pid=subject_pid,
            subject_passport=subject_passport,
            kind=kind,
            agency=agency,
            reference=reference,
            purpose=purpose,
            request_id=request_id,
            requested_by=requested_by,
            on_behalf_of=on_behalf_of,
            times=times,
            **when,
        )
    )
