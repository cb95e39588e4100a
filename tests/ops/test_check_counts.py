"""Checks of a document counted in the real Redis and folded into "Who read my data": per day and
by means, never lost while Redis is away, never counted twice by a fold; and a revocation shows
on the very next check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO

import redis
import sqlalchemy as sa
from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.models import AccessEvent, User
from portal.services import access_log, check_counts, issuance_requests, runtime
from tests.ops.conftest import REDIS_URL, TcpProxy, closed_port

PID = "1101700123456"


def counting_app(make_app, ops_database, redis_prefix, **settings):
    defaults = {
        "SQLALCHEMY_DATABASE_URI": ops_database,
        "CHECK_COUNTS_REDIS_URL": REDIS_URL,
        "CHECK_COUNTS_PREFIX": f"{redis_prefix}checks",
        "CHECK_COUNTS_FOLD_SECONDS": 3600,  # the tests fold when they mean to
    }
    return make_app(**{**defaults, **settings})


def issue(app) -> tuple[str, str, bytes]:
    """A certificate for PID: (verification code, number, the signed PDF)."""
    with app.app_context():
        request, _ = issuance_requests.issue_for_subject(issuer_id="dlt", type_id="driving-licence", pid=PID)
        certificate = request.certificate
        return certificate.verification_code, certificate.number, runtime.blob_store().get(certificate.sha256)


def check(client, code: str, pdf: bytes, *, by_code: int, by_file: int) -> None:
    for i in range(by_code):
        url = f"/v/{code}" if i % 2 else f"/api/v1/verify/{code}"
        assert client.get(url).status_code == 200
    for _ in range(by_file):
        response = client.post("/api/v1/verify", data={"file": (BytesIO(pdf), "c.pdf")})
        assert response.json["verdict"] == "genuine"


def rows_in_database(app, number: str) -> tuple[int, int]:
    """(rows, checks they stand for) of the document's checks in access_events."""
    with app.app_context():
        found = db.session.execute(
            select(func.count(), func.coalesce(func.sum(AccessEvent.times), 0)).where(
                AccessEvent.reference == number, AccessEvent.kind == "document_verified"
            )
        ).one()
        db.session.rollback()
        return found[0], found[1]


def log_lines(app, number: str) -> list[tuple]:
    """What the holder's "Who read my data" says about the document: (day, times, code, file)."""
    with app.app_context():
        shown = access_log.reads_for(User(pid=PID), kind="document_verified")
        return [(e.day, e.times, e.by_code, e.by_file) for e in shown.entries if e.reference == number]


def counters(redis_prefix: str) -> list[bytes]:
    return list(redis.Redis.from_url(REDIS_URL).scan_iter(match=f"{redis_prefix}checks:*"))


def test_checks_are_counted_in_redis_and_shown_per_day_by_means(make_app, ops_database, redis_prefix):
    app = counting_app(make_app, ops_database, redis_prefix)
    code, number, pdf = issue(app)
    check(app.test_client(), code, pdf, by_code=3, by_file=1)
    assert rows_in_database(app, number) == (0, 0), "counted in Redis, not one row per check"
    assert counters(redis_prefix)

    today = clock.today_bangkok()
    assert log_lines(app, number) == [(today, 4, 3, 1)]  # reading the log folds first
    assert rows_in_database(app, number) == (2, 4)  # one row per means, standing for the count
    assert counters(redis_prefix) == [], "nothing left in Redis to fold again"
    # More checks later the same day join the same line.
    check(app.test_client(), code, pdf, by_code=2, by_file=0)
    assert log_lines(app, number) == [(today, 6, 5, 1)]


def test_checks_on_two_bangkok_days_stay_two_lines(make_app, ops_database, redis_prefix, monkeypatch):
    app = counting_app(make_app, ops_database, redis_prefix)
    code, number, pdf = issue(app)
    # 23:50 and 00:10 Bangkok time: two days, though one fold moves both.
    evening = datetime(2026, 12, 6, 16, 50, tzinfo=UTC)
    monkeypatch.setattr(clock, "now", lambda: evening)
    check(app.test_client(), code, pdf, by_code=1, by_file=1)
    monkeypatch.setattr(clock, "now", lambda: evening + timedelta(minutes=20))
    check(app.test_client(), code, pdf, by_code=2, by_file=0)
    lines = log_lines(app, number)
    assert sorted(lines) == [
        (datetime(2026, 12, 6).date(), 2, 1, 1),
        (datetime(2026, 12, 7).date(), 2, 2, 0),
    ]


def test_a_fold_interrupted_before_clearing_redis_counts_nothing_twice(
    make_app, ops_database, redis_prefix
):
    app = counting_app(make_app, ops_database, redis_prefix)
    code, number, pdf = issue(app)
    check(app.test_client(), code, pdf, by_code=2, by_file=1)
    client = redis.Redis.from_url(REDIS_URL)
    (live,) = counters(redis_prefix)
    batch = f"{redis_prefix}checks:batch:{'f' * 32}".encode()
    client.rename(live, batch)  # as a fold does first
    kept = client.hgetall(batch)
    with app.app_context():
        assert check_counts.fold_counts() == 3
    # The process died after its commit, before deleting the batch: the batch is back in Redis.
    client.hset(batch, mapping=kept)
    with app.app_context():
        assert check_counts.fold_counts() == 0
        assert check_counts.fold_counts() == 0
    assert rows_in_database(app, number) == (2, 3)
    assert counters(redis_prefix) == []
    assert log_lines(app, number)[0][1:] == (3, 2, 1)


def test_folds_running_at_once_count_each_check_once(make_app, ops_database, redis_prefix):
    first = counting_app(make_app, ops_database, redis_prefix)
    second = counting_app(make_app, ops_database, redis_prefix)  # another web process
    code, number, pdf = issue(first)
    check(first.test_client(), code, pdf, by_code=3, by_file=0)
    check(second.test_client(), code, pdf, by_code=2, by_file=1)
    import threading

    moved = []

    def fold(app):
        with app.app_context():
            moved.append(check_counts.fold_counts())

    threads = [threading.Thread(target=fold, args=(app,)) for app in (first, second, first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(moved) == 6
    assert rows_in_database(first, number)[1] == 6
    assert log_lines(second, number)[0][1:] == (6, 5, 1)


def test_with_redis_unreachable_each_check_is_written_at_once(make_app, ops_database, redis_prefix):
    app = counting_app(
        make_app, ops_database, redis_prefix, CHECK_COUNTS_REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0"
    )
    code, number, pdf = issue(app)
    check(app.test_client(), code, pdf, by_code=2, by_file=1)
    assert rows_in_database(app, number) == (3, 3)
    assert log_lines(app, number)[0][1:] == (3, 2, 1)  # and reading the log still works


def test_counts_survive_redis_going_away_and_coming_back(make_app, ops_database, redis_prefix):
    proxy = TcpProxy(("127.0.0.1", redis.Redis.from_url(REDIS_URL).connection_pool.connection_kwargs["port"]))
    proxy.start()
    try:
        app = counting_app(
            make_app, ops_database, redis_prefix, CHECK_COUNTS_REDIS_URL=f"redis://127.0.0.1:{proxy.port}/0"
        )
        code, number, pdf = issue(app)
        client = app.test_client()
        check(client, code, pdf, by_code=2, by_file=0)  # counted in Redis
        proxy.stop()
        check(client, code, pdf, by_code=1, by_file=1)  # Redis gone: written to the database
        assert rows_in_database(app, number) == (2, 2)
        assert log_lines(app, number)[0][1:] == (2, 1, 1), "Redis's counts wait there, not lost"
        proxy.start()
        assert log_lines(app, number)[0][1:] == (4, 3, 1)  # folded once Redis is back
    finally:
        proxy.stop()


def test_a_revocation_shows_on_the_very_next_check(make_app, ops_database, redis_prefix):
    app = counting_app(make_app, ops_database, redis_prefix)
    code, _number, pdf = issue(app)
    client = app.test_client()
    assert client.get(f"/api/v1/verify/{code}").json["status"] == "valid"
    assert 'data-status="valid"' in client.get(f"/v/{code}?lang=en").get_data(as_text=True)
    # Another process (an officer's) revokes it and commits.
    engine = sa.create_engine(ops_database)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE certificates SET status = 'revoked', revoked_at = now() WHERE verification_code = :c"
            ),
            {"c": code},
        )
    engine.dispose()
    assert client.get(f"/api/v1/verify/{code}").json["status"] == "revoked"
    assert 'data-status="revoked"' in client.get(f"/v/{code}?lang=en").get_data(as_text=True)
    upload = client.post("/api/v1/verify", data={"file": (BytesIO(pdf), "c.pdf")}).json
    assert upload["verdict"] == "genuine" and upload["status"] == "revoked"
