"""Where an issuance request stands: moving its status, failing it, parking it for a retry, and
the workers' safety net over requests that never finished.

These writes never move a READY request back: a concurrent run may have issued it first.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update

from portal import clock
from portal.extensions import db
from portal.models import Certificate, DocumentRequest, RequestStatus, utcnow
from portal.services.audit import record_audit

# The logger keeps the name it had before the split, so log filters and captures see the same name.
log = logging.getLogger("portal.services.issuance")

__all__ = [
    "fail_request",
    "give_up",
    "mark_ready_if_issued",
    "set_stage",
    "unfinished_requests",
    "wait_for_retry",
]

_UNFINISHED = (
    RequestStatus.QUEUED.value,
    RequestStatus.FETCHING.value,
    RequestStatus.WAITING.value,
    RequestStatus.RENDERING.value,
    RequestStatus.SIGNING.value,
)


def unfinished_requests(*, older_than: timedelta) -> list[tuple[str, int]]:
    """(id, attempts) of requests not ready nor failed and untouched for ``older_than`` (oldest first)."""
    rows = db.session.execute(
        select(DocumentRequest.id, DocumentRequest.attempts)
        .where(
            DocumentRequest.status.in_(_UNFINISHED),
            DocumentRequest.updated_at <= utcnow() - older_than,
        )
        .order_by(DocumentRequest.updated_at)
        .limit(500)
    ).all()
    db.session.commit()
    return [(row.id, row.attempts) for row in rows]


def give_up(request_id: str) -> None:
    """Fail a request that started too often without finishing (the safety net's last word)."""
    log.error("request %s started too many times without finishing; failing it", request_id)
    fail_request(request_id, "internal", "gave up after repeated interrupted attempts")


def _update_unless_ready(request_id: str, **values) -> int:
    """Set ``values`` on the request unless it is READY (a concurrent run may have finished it:
    nothing moves it back); returns how many rows changed (0 or 1). The caller commits."""
    return db.session.execute(
        update(DocumentRequest)
        .where(DocumentRequest.id == request_id, DocumentRequest.status != RequestStatus.READY.value)
        .values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount


def set_stage(request_id: str, status: RequestStatus) -> None:
    """Move an unfinished request to ``status`` and commit, so that the status page moves."""
    _update_unless_ready(request_id, status=status.value)
    db.session.commit()


def mark_ready_if_issued(request_id: str) -> bool:
    """If the request has its certificate, make sure its status says READY."""
    issued = db.session.scalar(select(Certificate.id).where(Certificate.request_id == request_id))
    if issued is not None:
        db.session.execute(
            update(DocumentRequest)
            .where(DocumentRequest.id == request_id)
            .values(status=RequestStatus.READY.value, failure_code=None, failure_reason=None)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return issued is not None


def wait_for_retry(request_id: str, code: str, reason: str, retry_in: float) -> None:
    """Park the request WAITING with its reason, due again in ``retry_in`` seconds (a job retry)."""
    due: datetime = clock.now() + timedelta(seconds=retry_in)
    _update_unless_ready(
        request_id,
        status=RequestStatus.WAITING.value,
        failure_code=code,
        failure_reason=reason,
        next_attempt_at=due,
    )
    record_audit("system", "issuance_deferred", target=request_id, code=code, retry_in=retry_in)
    db.session.commit()
    log.warning("request %s waits (%s); next try in %ss: %s", request_id, code, retry_in, reason)


def fail_request(request_id: str, code: str, reason: str, *, transient: bool = False) -> None:
    """Leave the request FAILED with a reason (never one that a concurrent run has made READY)."""
    changed = _update_unless_ready(
        request_id,
        status=RequestStatus.FAILED.value,
        failure_code=code,
        failure_reason=reason,
        next_attempt_at=None,
    )
    if changed:
        record_audit("system", "issuance_failed", target=request_id, code=code, transient=transient)
    db.session.commit()
