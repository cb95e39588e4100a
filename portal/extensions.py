"""Flask extensions, created unbound here and attached in ``create_app``."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
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
    app.extensions["tra.limiter"] = app_limiter
    return app_limiter
