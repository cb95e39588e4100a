"""/healthz and /readyz against real PostgreSQL and Redis, and against ones that are gone or hang."""

from __future__ import annotations

import time

import pytest

from tests.ops.conftest import REDIS_URL, BlackHole, closed_port


def test_healthz_answers_without_touching_anything(make_app):
    app = make_app(SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/x")
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_ready_with_database_and_redis(make_app, ops_database, redis_prefix):
    app = make_app(SQLALCHEMY_DATABASE_URI=ops_database, REDIS_URL=REDIS_URL, RQ_QUEUE_PREFIX=redis_prefix)
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok", "queue": "ok"},
    }


def test_ready_without_redis_configured_says_so(make_app, ops_database):
    app = make_app(SQLALCHEMY_DATABASE_URI=ops_database, REDIS_URL=None)
    body = app.test_client().get("/readyz").get_json()
    assert body == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "not configured", "queue": "not configured"},
    }


def test_redis_gone_names_redis_and_queue(make_app, ops_database):
    app = make_app(SQLALCHEMY_DATABASE_URI=ops_database, REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["redis", "queue"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("error: ")


def test_database_gone_names_the_database(make_app):
    app = make_app(SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/x")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failing"] == ["database"]
    assert body["checks"]["database"] == "error: OperationalError"


@pytest.mark.parametrize("hung", ["database", "redis"])
def test_a_hanging_dependency_gets_an_answer_in_time(make_app, ops_database, hung):
    hole = BlackHole()
    try:
        settings = {"SQLALCHEMY_DATABASE_URI": ops_database, "REDIS_URL": REDIS_URL}
        if hung == "database":
            settings["SQLALCHEMY_DATABASE_URI"] = f"postgresql+psycopg://postgres@127.0.0.1:{hole.port}/x"
        else:
            settings["REDIS_URL"] = f"redis://127.0.0.1:{hole.port}/0"
        client = make_app(READINESS_TIMEOUT_SECONDS=0.4, **settings).test_client()
        for _ in range(3):  # later probes do not pile up behind the first one
            started = time.monotonic()
            response = client.get("/readyz")
            elapsed = time.monotonic() - started
            assert response.status_code == 503
            assert hung in response.get_json()["failing"]
            assert response.get_json()["checks"][hung] == "timeout"
            assert elapsed < 0.9
    finally:
        hole.close()
