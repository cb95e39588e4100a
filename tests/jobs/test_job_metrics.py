"""Issuance stage times observed in a worker process reach /metrics, with no file per job."""

from __future__ import annotations

import subprocess
import sys

from tests.jobs.conftest import ROOT_DIR
from tests.jobs.test_issuance_jobs import new_request, wait_status


def test_a_workers_jobs_write_one_set_of_metric_files_and_every_sample_counts(
    jobs_env, jobs_app, workers, registry, tmp_path
):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    burst = workers.start(burst=True, scheduler=False, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    ids = [new_request(jobs_app) for _ in range(3)]
    assert burst.wait(timeout=90) == 0
    for request_id in ids:
        assert wait_status(jobs_app, request_id, "ready", "failed", timeout=5)["status"] == "ready"

    # Three jobs, one set of files: the worker's (a process per job would leave a file per job).
    files = sorted(p.name for p in metrics_dir.glob("*.db"))
    assert files == [f"histogram_{burst.pid}.db"], files

    # What /metrics would add up: every job's samples.
    scrape = subprocess.run(
        [sys.executable, "-c", "from portal.metrics import render_latest; print(render_latest().decode())"],
        cwd=ROOT_DIR,
        env={**jobs_env.environ(), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for stage in ("fetch", "render", "sign", "store"):
        assert f'tra_issuance_stage_duration_seconds_count{{stage="{stage}"}} 3.0' in scrape, scrape
