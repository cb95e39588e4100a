"""/metrics: the numbers move when requests, verifications and issuing stages happen."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import redis
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue

from tests.ops.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parents[2]
UNKNOWN_CODE = "ZZZZZZZZZZZZZZZZZZZZ"


def scrape(client, **kwargs) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return parse(response.get_data(as_text=True))


def parse(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_request_latency_is_labelled_by_route_not_by_path(client):
    before = scrape(client)
    assert client.get(f"/v/{UNKNOWN_CODE}").status_code == 404
    assert client.get(f"/v/{UNKNOWN_CODE}").status_code == 404
    after = scrape(client)
    labels = {"route": "/v/<code>", "method": "GET", "status": "404"}
    name = "tra_http_request_duration_seconds_count"
    assert value(after, name, **labels) - value(before, name, **labels) == 2
    assert value(after, "tra_http_request_duration_seconds_sum", **labels) > value(
        before, "tra_http_request_duration_seconds_sum", **labels
    )
    text = client.get("/metrics").get_data(as_text=True)
    assert UNKNOWN_CODE not in text
    # Addresses that match no route share one label, whatever was asked for.
    before = scrape(client)
    client.get("/no-such-page/1101700123456")
    after = scrape(client)
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    assert value(after, name, **unmatched) - value(before, name, **unmatched) == 1
    assert "1101700123456" not in client.get("/metrics").get_data(as_text=True)


def test_verifications_are_counted_by_channel_and_result(client, issued_pdf):
    certificate, pdf = issued_pdf
    before = scrape(client)
    assert client.get(f"/v/{certificate.verification_code}").status_code == 200
    assert client.get(f"/v/{UNKNOWN_CODE}").status_code == 404
    assert client.get(f"/api/v1/verify/{certificate.verification_code}").status_code == 200
    upload = {"file": (io.BytesIO(pdf), "certificate.pdf")}
    assert client.post("/api/v1/verify", data=upload, content_type="multipart/form-data").status_code == 200
    upload = {"file": (io.BytesIO(b"not a pdf at all"), "notes.pdf")}
    assert client.post("/v", data=upload, content_type="multipart/form-data").status_code == 200
    after = scrape(client)
    name = "tra_verifications_total"
    expected = {
        ("code", "valid"): 1,
        ("code", "unknown"): 1,
        ("api_code", "valid"): 1,
        ("api_file", "genuine"): 1,
        ("file", "not_a_pdf"): 1,
        ("file", "genuine"): 0,
    }
    for (channel, result), delta in expected.items():
        moved = value(after, name, channel=channel, result=result) - value(
            before, name, channel=channel, result=result
        )
        assert moved == delta, (channel, result)


def test_issuance_stages_are_observed(client):
    from portal.metrics import observe_issuance_stage

    before = scrape(client)
    observe_issuance_stage("render", 0.07)
    observe_issuance_stage("render", 0.03)
    observe_issuance_stage("Bad Stage!", 1)
    after = scrape(client)
    name = "tra_issuance_stage_duration_seconds"
    assert value(after, f"{name}_count", stage="render") - value(before, f"{name}_count", stage="render") == 2
    assert (
        abs(value(after, f"{name}_sum", stage="render") - value(before, f"{name}_sum", stage="render") - 0.1)
        < 1e-9
    )
    assert (
        value(after, f"{name}_bucket", stage="render", le="0.05")
        - value(before, f"{name}_bucket", stage="render", le="0.05")
        == 1
    )
    assert value(after, f"{name}_count", stage="other") - value(before, f"{name}_count", stage="other") == 1


def test_queue_depth_is_read_from_redis_at_scrape_time(make_app, ops_database, redis_prefix):
    app = make_app(SQLALCHEMY_DATABASE_URI=ops_database, REDIS_URL=REDIS_URL, RQ_QUEUE_PREFIX=redis_prefix)
    client = app.test_client()
    assert value(scrape(client), "tra_queue_depth", queue="tra-issuance") == 0
    connection = redis.Redis.from_url(REDIS_URL)
    queue = Queue(f"{redis_prefix}tra-issuance", connection=connection)
    for _ in range(3):
        queue.enqueue("os.getpid")  # never run: nothing listens on this test's queue
    try:
        samples = scrape(client)
        assert value(samples, "tra_queue_depth", queue="tra-issuance") == 3
        assert value(samples, "tra_queue_up", queue="tra-issuance") == 1
    finally:
        queue.delete(delete_jobs=True)
        connection.close()


def test_queue_depth_when_redis_is_gone(make_app, ops_database):
    from tests.ops.conftest import closed_port

    app = make_app(SQLALCHEMY_DATABASE_URI=ops_database, REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    samples = scrape(app.test_client())
    assert value(samples, "tra_queue_up", queue="tra-issuance") == 0
    assert ("tra_queue_depth", (("queue", "tra-issuance"),)) not in samples


def test_metrics_token_is_required_when_set(make_app, ops_database):
    client = make_app(SQLALCHEMY_DATABASE_URI=ops_database, METRICS_TOKEN="s3cret-scrape-token").test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    scrape(client, headers={"Authorization": "Bearer s3cret-scrape-token"})


def test_multiprocess_mode_adds_up_every_process(tmp_path):
    """Like gunicorn workers and RQ workers: separate processes, one /metrics."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    observe = (
        "from portal import metrics; metrics.observe_issuance_stage('sign', 0.25); "
        "metrics.count_verification('api_code', 'valid')"
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", observe], cwd=ROOT, env=env, check=True, timeout=60)
    assert list(tmp_path.glob("*.db")), "each process wrote its samples to the directory"
    render = (
        "import sys; from portal import metrics; "
        "sys.stdout.write(metrics.render_latest({'tra-issuance': 4}).decode())"
    )
    out = subprocess.run(
        [sys.executable, "-c", render],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    samples = parse(out)
    assert value(samples, "tra_issuance_stage_duration_seconds_count", stage="sign") == 2
    assert value(samples, "tra_issuance_stage_duration_seconds_sum", stage="sign") == 0.5
    assert value(samples, "tra_verifications_total", channel="api_code", result="valid") == 2
    assert value(samples, "tra_queue_depth", queue="tra-issuance") == 4
    # gunicorn's child_exit hook for a dead worker must not fail (it forgets its live gauges).
    subprocess.run(
        [sys.executable, "-c", "from portal import metrics; metrics.mark_process_dead(99999)"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=60,
    )
