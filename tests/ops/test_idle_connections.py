"""The pool pings a connection only after it sat idle (no round trip per request), and a
connection that died while idle is replaced before a request sees it: the database restarting
between two requests costs nobody a 503."""

from __future__ import annotations

import time

from portal.extensions import IDLE_PING_SECONDS
from tests.ops.conftest import TcpProxy

UNKNOWN_CODE = "ZZZZZZZZZZZZZZZZZZZZ"


def test_a_connection_that_died_while_idle_is_replaced_before_use(make_app, ops_database):
    proxy = TcpProxy(("127.0.0.1", 5432)).start()
    try:
        url = ops_database.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        client = make_app(SQLALCHEMY_DATABASE_URI=url).test_client()
        assert client.get(f"/api/v1/verify/{UNKNOWN_CODE}").status_code == 404  # a pooled connection
        proxy.stop()  # every connection through it is closed: the database "restarted"
        proxy.start()
        time.sleep(IDLE_PING_SECONDS + 0.2)
        assert client.get(f"/api/v1/verify/{UNKNOWN_CODE}").status_code == 404
        assert client.get(f"/v/{UNKNOWN_CODE}").status_code == 404
    finally:
        proxy.stop()


def test_a_busy_connection_is_not_pinged_an_idle_one_is(make_app, ops_database, monkeypatch):
    """Back to back, requests reuse the pooled connection without the round trip pool_pre_ping
    made on every checkout; after a pause it is pinged once."""
    from portal.extensions import db

    app = make_app(SQLALCHEMY_DATABASE_URI=ops_database)
    client = app.test_client()
    with app.app_context():
        dialect = db.engine.dialect
    pings = []
    real_ping = dialect.do_ping
    monkeypatch.setattr(dialect, "do_ping", lambda connection: pings.append(1) or real_ping(connection))
    for _ in range(3):
        assert client.get(f"/api/v1/verify/{UNKNOWN_CODE}").status_code == 404
    assert pings == []
    time.sleep(IDLE_PING_SECONDS + 0.2)
    assert client.get(f"/api/v1/verify/{UNKNOWN_CODE}").status_code == 404
    assert pings == [1]
