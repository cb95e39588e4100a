"""Background work: RQ on Redis when ``REDIS_URL`` is set, in-process when not.

This package knows queues, connections and workers, and nothing of what a task does: a task is
named by its dotted path (``"portal.services.issuance_jobs.issue_request"``), as RQ stores it, so
nothing here imports a service (``tests/test_layers.py`` checks). Without Redis the same dotted
name is imported and called at once, in this process.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError

from portal.jobs.queues import ALL_QUEUES, ISSUANCE_QUEUE, job_id_for, queue_name

log = logging.getLogger(__name__)

__all__ = [
    "ALL_QUEUES",
    "ISSUANCE_QUEUE",
    "LIVE_STATES",
    "enqueue",
    "job_id_for",
    "job_state",
    "queue",
    "queue_answers",
    "queue_length",
    "redis_connection",
    "resolve_task",
]

#: Job states in which a job will still run (or is running): nothing to re-enqueue.
LIVE_STATES = frozenset({"queued", "started", "scheduled", "deferred"})


def redis_connection() -> Redis | None:
    """The app's Redis client (one pool per process), or None when ``REDIS_URL`` is unset."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    ext = current_app.extensions
    client = ext.get("tra.redis")
    if client is None:
        client = ext["tra.redis"] = Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=10, health_check_interval=30
        )
    return client


def queue(base: str):
    """The RQ queue named ``base`` (one of ``ALL_QUEUES``) on the app's Redis."""
    from rq import Queue

    return Queue(queue_name(base), connection=redis_connection())


def queue_length(name: str, connection: Redis) -> int:
    """Jobs waiting in the queue called ``name`` in Redis (any thread: no app context needed)."""
    from rq import Queue

    return Queue(name, connection=connection).count


def queue_answers() -> bool:
    """False when jobs go through Redis and Redis does not answer (logged); True otherwise."""
    connection = redis_connection()
    if connection is None:
        return True
    try:
        connection.ping()
    except RedisError as exc:
        log.warning("Redis unreachable: %s", exc)
        return False
    return True


def resolve_task(task: str) -> Callable:
    """The function a dotted task name (``package.module.function``) names, imported as RQ does."""
    module_name, _, name = task.rpartition(".")
    return getattr(importlib.import_module(module_name), name)


def enqueue(
    task: str,
    *args,
    queue_base: str,
    job_id: str,
    description: str,
    timeout: int,
    retry_intervals: Sequence[int] = (),
    replace_finished: bool = False,
) -> bool:
    """Run the task named ``task`` with ``args``; True when a job was queued (or it ran inline).

    Without Redis it runs now, in this process, with no retries. With Redis, one job per
    ``job_id`` (RQ's ``unique=True``): a live job is left alone; a finished or failed one is
    replaced only with ``replace_finished``. A Redis failure is logged, not raised (False).
    """
    if redis_connection() is None:
        resolve_task(task)(*args)
        return True
    try:
        return _enqueue(
            task,
            args,
            queue_base=queue_base,
            job_id=job_id,
            description=description,
            timeout=timeout,
            retry_intervals=retry_intervals,
            replace_finished=replace_finished,
        )
    except RedisError as exc:
        log.warning("could not queue %s (job %s): %s", task, job_id, exc)
        return False


def _enqueue(
    task: str,
    args: tuple,
    *,
    queue_base: str,
    job_id: str,
    description: str,
    timeout: int,
    retry_intervals: Sequence[int],
    replace_finished: bool,
) -> bool:
    from rq import Retry
    from rq.exceptions import DuplicateJobError
    from rq.job import Job

    config = current_app.config
    intervals = list(retry_intervals)
    target = queue(queue_base)
    for _attempt in range(2):
        try:
            target.enqueue(
                task,
                *args,
                job_id=job_id,
                unique=True,
                retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
                job_timeout=timeout,
                result_ttl=config["RQ_RESULT_TTL"],
                failure_ttl=config["RQ_FAILURE_TTL"],
                description=description,
            )
            log.info("queued %s as job %s", description, job_id)
            return True
        except DuplicateJobError:
            connection = target.connection
            job = Job.fetch(job_id, connection=connection) if Job.exists(job_id, connection) else None
            status = job.get_status(refresh=False) if job else None
            if job is not None and (status in LIVE_STATES or not replace_finished):
                log.info("job %s is already there (%s)", job_id, status and status.value)
                return False
            if job is not None:
                job.delete()
    return False


def job_state(job_id: str) -> str | None:
    """The RQ state of job ``job_id`` ("queued", "started", "failed", …), or None if there is none."""
    from rq.job import Job

    connection = redis_connection()
    if connection is None or not Job.exists(job_id, connection):
        return None
    status = Job.fetch(job_id, connection=connection).get_status(refresh=False)
    return status.value if status is not None else None
