"""Queue names, in one place.

Every worker listens on ``ALL_QUEUES`` (a test checks that each queue has a worker); the
configured ``RQ_QUEUE_PREFIX`` is put in front of each name (test sessions use their own).
"""

from __future__ import annotations

from flask import current_app

ISSUANCE_QUEUE = "tra-issuance"

ALL_QUEUES = (ISSUANCE_QUEUE,)

__all__ = ["ALL_QUEUES", "ISSUANCE_QUEUE", "queue_name"]


def queue_name(base: str) -> str:
    """The name ``base`` has in Redis for the current app (prefix from the configuration)."""
    return f"{current_app.config.get('RQ_QUEUE_PREFIX') or ''}{base}"


def issuance_job_id(request_id: str) -> str:
    """One job id per request: RQ's ``unique=True`` then refuses a second live job for it."""
    return f"{current_app.config.get('RQ_QUEUE_PREFIX') or ''}issue-{request_id}"
