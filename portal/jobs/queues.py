"""Queue names, in one place.

Every worker listens on ``ALL_QUEUES`` (a test checks that each queue has a worker); the
configured ``RQ_QUEUE_PREFIX`` is put in front of each name (test sessions use their own).
"""

from __future__ import annotations

from flask import current_app

ISSUANCE_QUEUE = "tra-issuance"

ALL_QUEUES = (ISSUANCE_QUEUE,)

__all__ = ["ALL_QUEUES", "ISSUANCE_QUEUE", "job_id_for", "queue_name"]


def queue_name(base: str) -> str:
    """The name ``base`` has in Redis for the current app (prefix from the configuration)."""
    return f"{current_app.config.get('RQ_QUEUE_PREFIX') or ''}{base}"


def job_id_for(name: str) -> str:
    """A job id for the current app (same prefix as the queues); one id per unit of work lets
    RQ's ``unique=True`` refuse a second live job for it."""
    return f"{current_app.config.get('RQ_QUEUE_PREFIX') or ''}{name}"
