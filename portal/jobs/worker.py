"""The RQ worker: ``flask --app wsgi portal worker`` or ``python -m portal.jobs.worker``.

Jobs run in the worker's own process (RQ's ``SimpleWorker``), not in a fork per job:

- The process builds the app once and warms the expensive caches (issuer registry, renderer and
  its fonts, signing keys); every job uses them as they are. A fork per job measured 1.6–2×
  slower per certificate here (bench/load.py): each fork copies, page by page, every part of the
  warm heap that the job touches (reference counts are writes), and opens new database and
  registry connections.
- Signing keys stay loaded for the life of the process: a PKCS#11 session (issue 4) is opened
  once per worker process, never once per job.
- RQ's SimpleWorker cannot send heartbeats while a job runs, so a worker that died outright
  would be noticed only after the job timeout. ``TraWorker`` sends them from a small thread
  during each job, so another worker's maintenance notices a dead worker (SIGKILL, machine
  lost) within seconds and re-queues its job.
- The cost: a crash in native code (rendering, signing) takes the worker with it; the job is
  then re-queued the same way, and the process supervisor (``scripts/serve.sh``'s parent)
  restarts the set.

Each job runs in an app context. What a worker warms before its first job (``WORKER_WARM_UP``)
and what its maintenance runs besides RQ's own (``WORKER_MAINTENANCE``: the issuance safety net,
at most once per interval across all workers) are dotted names in the configuration, so that this
package imports no service.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import threading

from flask import Flask
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested
from rq.job import Job
from rq.worker import WorkerStatus

from portal.jobs import redis_connection, resolve_task
from portal.jobs.queues import ALL_QUEUES, queue_name

log = logging.getLogger(__name__)

__all__ = ["TraWorker", "build_worker", "main", "run_worker", "warm_caches"]


class TraWorker(SimpleWorker):
    """RQ's in-process worker with the portal's app, heartbeats during jobs, a configurable
    heartbeat grace and the portal's maintenance tasks (the safety net)."""

    app: Flask
    #: Seconds a job's heartbeat may be late before the job counts as abandoned (RQ fixes 60).
    heartbeat_grace: int = 60

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        interval = float(self.job_monitoring_interval)
        if job.timeout and job.timeout > 0:
            interval = min(job.timeout - working_time, interval)
        return int(max(interval, 1)) + self.heartbeat_grace

    def execute_job(self, job: Job, queue: Queue):
        execution = self.prepare_execution(job)
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.job_monitoring_interval):
                try:
                    self.maintain_heartbeats(job, execution)
                except Exception:  # noqa: BLE001 - a missed beat must not stop the job
                    log.warning("could not send the heartbeat for job %s", job.id, exc_info=True)

        heart = threading.Thread(target=beat, name="rq-heartbeat", daemon=True)
        heart.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            done.set()
            heart.join()
        self.set_state(WorkerStatus.IDLE)

    def perform_job(self, job, queue, execution) -> bool:
        from portal.extensions import db

        with self.app.app_context():
            try:
                return super().perform_job(job, queue, execution)
            finally:
                db.session.remove()

    def _shutdown(self):
        # RQ stops an idle worker by raising StopRequested from the signal handler, wherever the
        # main thread happens to be. Code that catches it and raises something else (psycopg
        # resetting a connection mid-ping did) would lose the request and the worker would run on
        # after SIGTERM. Remember it as well, and act on it at the next safe point.
        self._stop_requested = True
        super()._shutdown()

    def _stop_if_requested(self) -> None:
        if self._stop_requested and self.get_state() != WorkerStatus.BUSY:
            raise StopRequested()

    def heartbeat(self, timeout=None, pipeline=None):
        # Every turn of the idle loop starts with a heartbeat: a safe point to stop (never from
        # the job's heartbeat thread, and never while a job runs).
        if threading.current_thread() is threading.main_thread():
            self._stop_if_requested()
        return super().heartbeat(timeout, pipeline)

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        self._run_portal_maintenance()
        self._stop_if_requested()

    def _run_portal_maintenance(self) -> None:
        """Run each task of ``WORKER_MAINTENANCE`` in an app context; one worker at a time does."""
        from portal.extensions import db

        try:
            with self.app.app_context():
                lock = f"{queue_name('tra')}:requeue-lock"
                hold = max(int(self.maintenance_interval) - 1, 1)
                if not self.connection.set(lock, self.name, nx=True, ex=hold):
                    return
                try:
                    for task in self.app.config["WORKER_MAINTENANCE"]:
                        resolve_task(task)()
                finally:
                    db.session.remove()
        except StopRequested:  # SIGTERM while idle: RQ's way of stopping; never swallow it
            raise
        except Exception:  # maintenance must never stop the worker
            self._stop_if_requested()  # the stop request, wrapped by the database driver
            log.exception("maintenance (safety net) failed; will try at the next maintenance")


def warm_caches(app: Flask) -> None:
    """Build once, before the first job, what every job would otherwise build (``WORKER_WARM_UP``:
    fonts, templates, keys)."""
    warm_up = app.config.get("WORKER_WARM_UP")
    if warm_up:
        resolve_task(warm_up)(app)


def build_worker(app: Flask, *, name: str | None = None) -> TraWorker:
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
    # What is built so far lives as long as the process: keep it out of the garbage collector's
    # full passes.
    gc.collect()
    gc.freeze()
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
