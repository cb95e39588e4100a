"""The production shape for real: gunicorn with gunicorn.conf.py, two worker processes, metrics
added up across them, JSON log lines from both gunicorn and the portal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.ops.conftest import closed_port
from tests.ops.test_metrics import parse, value

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gunicorn(tmp_path, ops_database, registry_url):
    port = closed_port()
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    log_path = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        "PORTAL_ENV": "production",
        "PORTAL_SECRET_KEY": "test-only-secret-for-gunicorn",
        "DATABASE_URL": ops_database,
        "PORTAL_BASE_URL": f"http://127.0.0.1:{port}",
        "PORTAL_BLOB_DIR": str(tmp_path / "blobs"),
        "PORTAL_DEV_PKI_DIR": str(tmp_path / "pki"),
        "DLT_REGISTRY_URL": registry_url,
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "SIGNATURE_LEVEL": "B-B",  # the development PKI has no TSA (production defaults to B-LTA)
    }
    for name in ("REDIS_URL", "PORTAL_IDP_CONFIG", "LOG_FORMAT"):
        env.pop(name, None)
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("gunicorn did not start:\n" + log_path.read_text())
            time.sleep(0.2)
        yield base, process, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_pids(master: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True).stdout
    return {int(pid) for pid in out.split()}


def test_metrics_add_up_across_workers_and_logs_are_json(gunicorn):
    base, process, log_path = gunicorn
    session = requests.Session()
    before = parse(session.get(f"{base}/metrics", timeout=5).text)
    name = "tra_http_request_duration_seconds_count"
    labels = {"route": "/v/<code>", "method": "GET", "status": "404"}
    for _ in range(12):
        # New connections, so both workers answer some of them.
        assert requests.get(f"{base}/v/ZZZZZZZZZZZZZZZZZZZZ", timeout=5).status_code == 404
    for _ in range(4):  # whichever worker answers the scrape reports the sum of both
        after = parse(requests.get(f"{base}/metrics", timeout=5).text)
        assert value(after, name, **labels) - value(before, name, **labels) == 12
        assert value(after, "tra_verifications_total", channel="code", result="unknown") >= 12

    # A worker dies: gunicorn's child_exit hook runs, a new worker starts, the counts stay.
    victim = sorted(worker_pids(process.pid))[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while victim in worker_pids(process.pid) or len(worker_pids(process.pid)) < 2:
        assert time.monotonic() < deadline, "gunicorn did not replace the worker"
        time.sleep(0.2)
    after = parse(requests.get(f"{base}/metrics", timeout=5).text)
    assert value(after, name, **labels) - value(before, name, **labels) == 12

    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    access = [r for r in records if r.get("logger") == "tra.access"]
    assert len([r for r in access if r["route"] == "/v/<code>"]) == 12
    assert all(r["request_id"] and r["duration_ms"] >= 0 for r in access)
    assert any(r["logger"] == "gunicorn.error" and "Booting worker" in r["message"] for r in records)
    assert "ZZZZZZZZZZZZZZZZZZZZ" not in log_path.read_text()
