"""Flask extensions, created unbound here and attached in ``create_app``."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from flask import Flask, current_app, request
from flask.globals import request_ctx
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event, exc
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so Alembic names constraints predictably."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
babel = Babel()
login_manager = LoginManager()
csrf = CSRFProtect()

#: A pooled connection idle longer than this (seconds) is pinged before it is handed out.
IDLE_PING_SECONDS = 1.0


def init_database(app: Flask) -> None:
    """Attach the database, and ping a pooled connection only when it has been idle a while.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: one more round trip per request, a
    fifth of a verification's time under load. A connection back in the pool a moment ago was
    working a moment ago; one idle for longer (the database may have restarted meanwhile) is
    pinged, and a dead one is replaced before the request sees it. A connection that breaks
    while busy is handled as before: the request gets a 503 and the pool starts afresh.
    """
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            _ping_when_idle(engine)


def _ping_when_idle(engine) -> None:
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection, record) -> None:
        record.info["tra_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, proxy) -> None:
        idle_since = record.info.get("tra_idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as error:
            if not dialect.is_disconnect(error, dbapi_connection, None):
                raise
            alive = False
        if not alive:
            raise exc.DisconnectionError("pooled connection is gone; the pool opens a new one")


#: Blueprints limited as a whole, with the setting that holds their limit.
_LIMITED_BLUEPRINTS = {"auth": "RATELIMIT_LOGIN"}


def rate_limited(setting: str) -> Callable:
    """Mark a view as rate-limited by the limit in configuration ``setting`` (e.g. "120/minute").

    The mark is read by ``init_limiter`` for each app: Flask-Limiter keeps its storage and its
    on/off switch on the ``Limiter`` object, so every app gets its own instead of sharing one.
    """

    def mark(view: Callable) -> Callable:
        view.rate_limit_setting = setting
        return view

    return mark


def _limit_from(setting: str) -> Callable[[], str]:
    return lambda: current_app.config[setting]


def init_limiter(app: Flask) -> Limiter | None:
    """Rate limits for the marked views and the login blueprint, counted in Redis when configured.

    Call after every blueprint is registered. When Redis is unreachable, limits are counted in
    this process's memory (``RATELIMIT_IN_MEMORY_FALLBACK_ENABLED``) and other storage errors
    are swallowed: verification must keep working without Redis. The client address is the
    socket peer unless ``PROXY_FIX_HOPS`` trusts that many proxies' X-Forwarded-For.
    """
    hops = int(app.config.get("PROXY_FIX_HOPS") or 0)
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    if not app.config.get("RATELIMIT_ENABLED", True):
        return None
    app_limiter = Limiter(key_func=get_remote_address, default_limits=[])
    for endpoint, view in list(app.view_functions.items()):
        setting = getattr(view, "rate_limit_setting", None)
        if setting:
            app.view_functions[endpoint] = app_limiter.limit(_limit_from(setting))(view)
    for name, setting in _LIMITED_BLUEPRINTS.items():
        if name in app.blueprints:
            app_limiter.limit(_limit_from(setting))(app.blueprints[name])
    app_limiter.init_app(app)
    _only_where_limited(app, app_limiter)
    app.extensions["tra.limiter"] = app_limiter
    return app_limiter


#: Settings that would give Flask-Limiter limits on every route (none set here).
_LIMITS_ON_EVERY_ROUTE = ("RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION", "RATELIMIT_META")


def _only_where_limited(app: Flask, limiter: Limiter) -> None:
    """Run Flask-Limiter's per-request hooks only for requests that a limit can apply to.

    Flask-Limiter hooks every request: before it, a pass that looks for default, application and
    blueprint limits (view lookups, exemption scopes, a context object); after it, a pass for its
    headers and conditional deductions; at teardown, a reset. Measured on ``/healthz`` that was
    about a third of the portal's own per-request CPU, for requests no limit covers. With no
    default, application or meta limits, the first pass can only find the login blueprint's
    limit (the marked views check theirs when they run, in the wrapper ``limit`` put around
    them), and the after and teardown passes have nothing to do for a request the limiter never
    looked at. So: the first pass runs for the limited blueprints' endpoints, the other two for
    requests the limiter looked at. Limits and 429s are Flask-Limiter's, unchanged.
    """
    if any(app.config.get(name) for name in _LIMITS_ON_EVERY_ROUTE):
        return  # limits on every route: every request needs every pass
    check = limiter._check_request_limit
    limited = frozenset(
        endpoint for endpoint in app.view_functions if endpoint.split(".", 1)[0] in _LIMITED_BLUEPRINTS
    )

    def before() -> None:
        if request.endpoint in limited:
            check()

    def looked_at() -> bool:
        return hasattr(request_ctx._get_current_object(), "_limiter_request_context")

    hooks = app.before_request_funcs[None]
    hooks[hooks.index(check)] = before
    after_hooks = app.after_request_funcs[None]
    for i, hook in enumerate(after_hooks):
        if isinstance(hook, partial) and hook.args == (limiter,):
            after_hooks[i] = _when(looked_at, hook)
    release = limiter._Limiter__release_context
    teardown = app.teardown_request_funcs[None]
    teardown[teardown.index(release)] = _when(looked_at, release)


def _when(condition: Callable[[], bool], hook: Callable) -> Callable:
    """``hook`` for requests where ``condition()`` holds; others pass through untouched."""

    def gated(value=None):
        return hook(value) if condition() else value

    return gated
