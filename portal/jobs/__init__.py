"""Background work. Without ``REDIS_URL`` jobs run in-process, at once (the embedded default)."""

from __future__ import annotations

from portal.jobs.queues import ISSUANCE_QUEUE

__all__ = ["ISSUANCE_QUEUE", "enqueue_issuance"]


def enqueue_issuance(request_id: str) -> None:
    """Issue the certificate for ``request_id`` (a job that takes the id, not the object)."""
    from portal.services.issuance import run_issuance

    run_issuance(request_id)
