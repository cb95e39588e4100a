"""The RQ worker: ``flask --app wsgi portal worker`` or ``python -m portal.jobs.worker``.

Why forked jobs with a warm parent (RQ's ``Worker``) rather than ``SimpleWorker``:

- The parent builds the app once and warms the expensive caches (issuer registry, renderer and
  its fonts, key files); each job is a fork of it, so it starts warm (FIELD-NOTES: ~8 jobs/s
  against ~10 for SimpleWorker; two workers on two cores do better than either).
- While a job runs, the parent keeps sending heartbeats. So the heartbeat can be short, and a
  worker that dies outright (SIGKILL, machine lost) is noticed within seconds by another
  worker's maintenance, which re-queues its job. A SimpleWorker cannot heartbeat during a job,
  so its job would be noticed only after the job timeout.
- A job that crashes the process (native code in rendering or signing) kills only its fork.
- Signing opens whatever it needs (later: the PKCS#11 session) in the fork that signs, never
  in the parent, so no session crosses a fork.

Each job runs in an app context, with the database pool of the fork's own (never a
connection inherited from the parent). The parent's maintenance also runs the safety net
(``requeue_stalled``) at most once per interval across all workers.
"""

from __future__ import annotations

import argparse
import logging
import os

from flask import Flask
from rq import Queue, Worker
from rq.exceptions import StopRequested
from rq.job import Job

from portal.jobs.queues import ALL_QUEUES, queue_name

log = logging.getLogger(__name__)

__all__ = ["TraWorker", "build_worker", "main", "run_worker", "warm_caches"]


class TraWorker(Worker):
    """RQ's forking worker with the portal's app, a configurable heartbeat grace and the safety net."""

    app: Flask
    #: Seconds a job's heartbeat may be late before the job counts as abandoned (RQ fixes 60).
    heartbeat_grace: int = 60

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        interval = float(self.job_monitoring_interval)
        if job.timeout and job.timeout > 0:
            interval = min(job.timeout - working_time, interval)
        return int(max(interval, 1)) + self.heartbeat_grace

    def perform_job(self, job, queue, execution) -> bool:  # runs in the forked work horse
        from portal import metrics
        from portal.extensions import db

        metrics.share_files_with_parent(os.getppid())
        with self.app.app_context():
            # Connections in the pool belong to the parent; the fork opens its own.
            db.engine.dispose(close=False)
            try:
                return super().perform_job(job, queue, execution)
            finally:
                db.session.remove()

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        self._requeue_stalled()

    def _requeue_stalled(self) -> None:
        from portal.extensions import db
        from portal.jobs import requeue_stalled

        try:
            with self.app.app_context():
                lock = f"{queue_name('tra')}:requeue-lock"
                hold = max(int(self.maintenance_interval) - 1, 1)
                if not self.connection.set(lock, self.name, nx=True, ex=hold):
                    return
                try:
                    requeued = requeue_stalled()
                finally:
                    db.session.remove()
            if requeued:
                log.warning("safety net re-queued %d request(s)", len(requeued))
        except StopRequested:  # SIGTERM while idle: RQ's way of stopping; never swallow it
            raise
        except Exception:  # the safety net must never stop the worker
            log.exception("safety net failed; will try at the next maintenance")


def warm_caches(app: Flask) -> None:
    """Build once, in the parent, what every job would otherwise build: fonts, templates, keys."""
    from portal.services import runtime

    with app.app_context():
        registry = runtime.issuers()
        runtime.renderer().warm()
        runtime.blob_store()
        ring = runtime.key_ring()
        # File keys only. A PKCS#11 identity must not be opened here: it is opened by the
        # process that signs (the fork), see this module's docstring.
        for issuer in registry:
            ring.get(issuer.id)


def build_worker(app: Flask, *, name: str | None = None) -> TraWorker:
    from portal.jobs import redis_connection

    config = app.config
    with app.app_context():
        connection = redis_connection()
        if connection is None:
            raise RuntimeError("REDIS_URL is not set: there is no queue to work on (issuance runs inline)")
        queues = [Queue(queue_name(base), connection=connection) for base in ALL_QUEUES]
    worker = TraWorker(
        queues,
        name=name,
        connection=connection,
        worker_ttl=config["RQ_WORKER_TTL"],
        maintenance_interval=config["RQ_MAINTENANCE_INTERVAL"],
        job_monitoring_interval=config["RQ_JOB_MONITORING_INTERVAL"],
        default_result_ttl=config["RQ_RESULT_TTL"],
    )
    worker.app = app
    worker.heartbeat_grace = config["RQ_HEARTBEAT_GRACE"]
    return worker


def run_worker(app: Flask, *, burst: bool = False, with_scheduler: bool = True, warm: bool = True) -> bool:
    """Work until stopped (SIGTERM/SIGINT: finish the current job, then stop); with ``burst``,
    until the queues are empty. The scheduler runs retries that wait (backoff intervals)."""
    if warm:
        warm_caches(app)
    worker = build_worker(app)
    log.info("worker %s (pid %d) on %s", worker.name, os.getpid(), ", ".join(worker.queue_names()))
    return worker.work(burst=burst, with_scheduler=with_scheduler, logging_level="INFO")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portal.jobs.worker", description=__doc__.splitlines()[0])
    parser.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    parser.add_argument(
        "--with-scheduler",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the scheduler that starts delayed retries (default: on)",
    )
    args = parser.parse_args(argv)
    from portal import create_app

    run_worker(create_app(), burst=args.burst, with_scheduler=args.with_scheduler)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
