"""Shared fixtures: a real database built by the migrations, the sample registry on loopback,
a live portal over HTTP. PostgreSQL is used whenever it is reachable (always on CI)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import scoped_session, sessionmaker

from portal import create_app
from tests.loopback import LoopbackServer, free_port

pytest_plugins = [
    "tests.oidc_ops",  # the real test OpenID Providers: test_ops, portal_port, helpers
    "tests.chromium",  # Debian's Chromium through Playwright: browser, page
    "tests.pki.plugin",  # certomancer test PKI with TSA, OCSP and CRLs on loopback: pki, pki_*
    "tests.keys_plugin",  # signing keys through `flask portal keys`: dev_pki, new_key, ring, cli
]

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _postgres_reachable() -> bool:
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 2})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except sa.exc.OperationalError:
        return False


def _create_database(tmp_dir: Path, label: str) -> tuple[str, Callable[[], None]]:
    """A fresh empty database: PostgreSQL when reachable (required on CI), else SQLite."""
    if _postgres_reachable():
        name = f"tra_test_{label}_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

        def drop():
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", drop
    if os.environ.get("CI"):
        pytest.fail("PostgreSQL must be reachable on CI (scripts/ensure-services.sh starts it)")
    return f"sqlite:///{tmp_dir / f'{label}.db'}", lambda: None


def _migrate(app) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """``serve(wsgi_app) -> url``: the app on its own loopback port, for this test
    (keywords as :class:`~tests.loopback.LoopbackServer`)."""
    servers: list[LoopbackServer] = []

    def start(wsgi_app, **options) -> str:
        servers.append(LoopbackServer(wsgi_app, **options))
        return servers[-1].url

    yield start
    for server in servers:
        server.close()


@pytest.fixture(scope="session")
def registry_url() -> Iterator[str]:
    """The sample DLT registry, as its own HTTP server on loopback."""
    from issuers.dlt.sample_registry import create_registry_app

    with LoopbackServer(create_registry_app()) as server:
        yield server.url


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("dev-pki")


def _overrides(tmp: Path, database_url: str, registry_url: str, pki_dir: Path, base_url: str) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "BLOB_DIR": str(tmp / "blobs"),
        "DEV_PKI_DIR": str(pki_dir),
        "DLT_REGISTRY_URL": registry_url,
        "PUBLIC_BASE_URL": base_url,
        "SAMPLE_REGISTRIES_MOUNTED": False,
    }


def bare_app(tmp: Path, config_name: str = "testing", **settings) -> Flask:
    """An app of ``config_name`` on a throw-away SQLite file, not migrated: for what
    ``create_app`` itself decides or refuses (configuration checks)."""
    return create_app(
        config_name,
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bare.db'}",
            "BLOB_DIR": str(tmp / "blobs"),
            "DEV_PKI_DIR": str(tmp / "pki"),
            "SECRET_KEY": "test-secret-not-the-development-one",
            **settings,
        },
    )


@contextmanager
def migrated_portal(
    tmp: Path, label: str, registry_url: str | None, pki_dir: Path, *, config: str = "testing", **overrides
) -> Iterator[Flask]:
    """A portal (``config``) on its own migrated database; the database goes away afterwards."""
    from portal.extensions import db

    database_url, drop = _create_database(tmp, label)
    application = create_app(
        config,
        {**_overrides(tmp, database_url, registry_url, pki_dir, "http://portal.test"), **overrides},
    )
    _migrate(application)
    try:
        yield application
    finally:
        with application.app_context():
            db.engine.dispose()
        drop()


@pytest.fixture(scope="session")
def app(tmp_path_factory, registry_url, pki_dir):
    """The portal for in-process tests (test client), on a migrated database."""
    tmp = tmp_path_factory.mktemp("app")
    with migrated_portal(tmp, "app", registry_url, pki_dir, WTF_CSRF_ENABLED=False) as application:
        yield application


class _TestSession(scoped_session):
    """One session for the whole test. Where the app would discard its session (end of an
    app context) this one only expires what it holds, so the next request reads afresh and
    objects the test holds stay usable."""

    def remove(self) -> None:
        if self.registry.has():
            self.registry().expire_all()


@pytest.fixture
def db_session(app):
    """Each test in a transaction that is rolled back; the services' commits become savepoints.

    No application context stays pushed: each test-client request gets its own, as in production
    (a shared one would carry ``g``, e.g. the logged-in user, from one request to the next).
    """
    from portal.extensions import db

    with app.app_context():
        connection = db.engine.connect()
    transaction = connection.begin()
    original = db.session
    db.session = _TestSession(
        sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    )
    try:
        yield db.session
    finally:
        db.session.registry().close()
        db.session = original
        transaction.rollback()
        connection.close()


@pytest.fixture
def app_ctx(app, db_session):
    """An application context for tests that call services directly."""
    with app.app_context():
        yield


@pytest.fixture
def client(app, db_session):
    return app.test_client()


@dataclass
class LiveServer:
    url: str
    app: object


@contextmanager
def served_portal(
    tmp: Path, label: str, registry_url: str | None, pki_dir: Path, *, port: int | None = None, **overrides
) -> Iterator[LiveServer]:
    """A :func:`migrated_portal` served over real HTTP on loopback (``port``, else a free one)."""
    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    with migrated_portal(
        tmp, label, registry_url, pki_dir, PUBLIC_BASE_URL=base_url, **overrides
    ) as application:
        with LoopbackServer(application, port):
            yield LiveServer(base_url, application)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, registry_url, pki_dir) -> Iterator[LiveServer]:
    """The whole portal served over real HTTP on loopback, with the embedded dev OP,
    its own migrated database, and the registry on its own server."""
    with served_portal(tmp_path_factory.mktemp("live"), "live", registry_url, pki_dir) as server:
        yield server


@pytest.fixture
def create_user(db_session):
    """``create_user(**overrides)``: a portal user (default: the sample citizen with licences)."""
    from portal.models import User

    def make(**overrides):
        values = {"pid": "1101700123456", "name_th": "นายสมชาย ใจดี", "name_en": "Mr. Somchai Jaidee"}
        values.update(overrides)
        user = User(**values)
        db_session.add(user)
        db_session.flush()
        return user

    return make


@pytest.fixture
def issue(app, db_session):
    """``issue(pid=…)``: run the real pipeline for a person and return the DocumentRequest."""
    from portal.services.issuance_requests import issue_for_subject

    def run(pid: str = "1101700123456", issuer_id: str = "dlt", type_id: str = "driving-licence"):
        with app.app_context():
            return issue_for_subject(issuer_id=issuer_id, type_id=type_id, pid=pid)[0]

    return run


@pytest.fixture
def issued_pdf(app, issue):
    """A freshly issued certificate and its signed PDF bytes."""
    from portal.services import runtime

    request = issue()
    certificate = request.certificate
    with app.app_context():
        return certificate, runtime.blob_store().get(certificate.sha256)


@pytest.fixture
def login(app, client, create_user):
    """Log a user into the test client without the OP (the OP has its own tests), through a real
    server-side session row (``user.login_session``)."""
    from portal.services import accounts

    def as_user(user=None, *, provider: str = "dev", audience: str = "citizen"):
        user = user or create_user()
        with app.app_context():
            login_session = accounts.start_session(user, provider=provider, audience=audience)
        with client.session_transaction() as session:
            session["_user_id"] = login_session.id
            session["_fresh"] = True
        return user

    return as_user
