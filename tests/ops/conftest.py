"""Fixtures for the operations tests: portals with their own settings on one migrated PostgreSQL
database, a TCP proxy that can cut a dependency away, a "black hole" that accepts and never answers,
and unique Redis key prefixes (never FLUSHDB: other test runs share this Redis)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
import sqlalchemy as sa

from portal import create_app
from tests.loopback import free_port as closed_port

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class TcpProxy:
    """Forwards a loopback port to ``target``; ``stop()`` closes the port and every connection
    through it (the dependency is "gone"), ``start()`` opens the same port again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = closed_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        if self._listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would leave it listening.
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


class BlackHole:
    """A port that accepts connections and never says anything: a hung dependency."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(conn)

    def close(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for conn in self._held:
            conn.close()


@pytest.fixture(scope="session")
def ops_database() -> Iterator[str]:
    """One PostgreSQL database built by the migrations, shared by the portals built here."""
    name = f"tra_test_ops_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError:
        pytest.skip("the operations tests need PostgreSQL")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    from flask_migrate import upgrade

    from portal.extensions import db

    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"tra-test-{uuid.uuid4().hex[:10]}-"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"*{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def make_app(tmp_path, pki_dir, registry_url) -> Iterator[Callable[..., object]]:
    """``make_app(**settings)``: a portal (testing config) with these settings; disposed afterwards."""
    built = []

    def make(**settings):
        overrides = {
            "BLOB_DIR": str(tmp_path / "blobs"),
            "DEV_PKI_DIR": str(pki_dir),
            "DLT_REGISTRY_URL": registry_url,
            "SAMPLE_REGISTRIES_MOUNTED": False,
            "PUBLIC_BASE_URL": "http://portal.test",
            "WTF_CSRF_ENABLED": False,
            **settings,
        }
        app = create_app("testing", overrides)
        built.append(app)
        return app

    yield make
    from portal.extensions import db

    for app in built:
        with app.app_context():
            db.engine.dispose()
    # Apps built with LOG_FORMAT=json replace the root handler: give the rest of the run text again.
    from portal.logs import configure_logging

    configure_logging(json_lines=False, level=logging.INFO)
