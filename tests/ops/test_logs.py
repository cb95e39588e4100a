"""Request ids and JSON log lines (what is in them, and what never is)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from portal.logs import bind_request_id, current_request_id

UNKNOWN_CODE = "ZZZZZZZZZZZZZZZZZZZZ"


@pytest.fixture
def json_app(make_app, ops_database):
    """A portal logging JSON lines, and a buffer that receives them."""
    app = make_app(SQLALCHEMY_DATABASE_URI=ops_database, LOG_FORMAT="json")

    @app.get("/_test/boom")
    def boom():
        raise RuntimeError("kaboom for the test")

    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_tra_handler", False))
    buffer = io.StringIO()
    handler.setStream(buffer)

    def lines():
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]

    return app, lines


def test_request_id_is_generated_and_echoed(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_a_well_formed_request_id_is_kept_and_a_bad_one_replaced(client):
    kept = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a9c21-0001"})
    assert kept.headers["X-Request-ID"] == "lb-7f3a9c21-0001"
    for bad in ("short", "has spaces in it ok", "x" * 65, "<script>alert(1)</script>"):
        answer = client.get("/healthz", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
        assert answer != bad and len(answer) == 32


def test_access_line_is_json_with_route_not_path(json_app):
    app, lines = json_app
    response = app.test_client().get(f"/v/{UNKNOWN_CODE}?utm=1101700123456")
    assert response.status_code == 404
    access = [line for line in lines() if line["logger"] == "tra.access"]
    assert len(access) == 1
    line = access[0]
    assert line["method"] == "GET"
    assert line["route"] == "/v/<code>"
    assert line["status"] == 404
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["level"] == "INFO"
    assert line["time"].startswith("20")
    everything = json.dumps(lines())
    assert UNKNOWN_CODE not in everything
    assert "1101700123456" not in everything


def test_an_unexpected_error_is_one_json_line_with_the_exception(json_app):
    app, lines = json_app
    response = app.test_client().get("/_test/boom")
    assert response.status_code == 500
    assert "kaboom" not in response.get_data(as_text=True)
    errors = [line for line in lines() if line["level"] == "ERROR"]
    assert len(errors) == 1
    assert "RuntimeError: kaboom for the test" in errors[0]["exception"]
    assert errors[0]["request_id"] == response.headers["X-Request-ID"]
    assert [line["status"] for line in lines() if line["logger"] == "tra.access"] == [500]


def test_jobs_log_with_the_request_id_they_were_given(json_app):
    _, lines = json_app
    assert current_request_id() is None
    with bind_request_id("enqueued-by-4f2a9b"):
        assert current_request_id() == "enqueued-by-4f2a9b"
        logging.getLogger("portal.jobs").warning("stage %s done", "render")
    assert current_request_id() is None
    (line,) = [line for line in lines() if line["logger"] == "portal.jobs"]
    assert line["message"] == "stage render done"
    assert line["request_id"] == "enqueued-by-4f2a9b"


def test_development_logs_are_text(make_app, ops_database):
    make_app(SQLALCHEMY_DATABASE_URI=ops_database)
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_tra_handler", False))
    record = logging.LogRecord("portal.x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    handler.filter(record)
    assert handler.format(record).endswith("INFO portal.x [None]: hello world")
    handlers = [h for h in logging.getLogger().handlers if getattr(h, "_tra_handler", False)]
    assert len(handlers) == 1, "building another app replaces the handler, it does not add one"
