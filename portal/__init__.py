"""Tra (ตรา): official documents as signed PDFs that anyone can verify.

``create_app()`` is the only way in; nothing happens at import time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, has_request_context, request
from jinja2 import ChoiceLoader, FileSystemLoader

from portal.config import ROOT, config_class

__all__ = ["create_app"]


def create_app(config_name: str | None = None, overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the portal for the environment named by ``config_name`` or ``PORTAL_ENV``."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    from portal.sessions import SessionInterface

    app.session_interface = SessionInterface()
    app.config.from_object(config_class(config_name))
    if overrides:
        app.config.update(overrides)
    _fill_instance_defaults(app)
    _check_production_secrets(app)
    _configure_logging(app)

    from portal import cli, errors, extensions, security
    from portal.auth import init_auth
    from portal.issuing import load_issuers
    from portal.rendering import register_filters
    from portal.views import register_views

    extensions.init_database(app)  # the pool pings idle connections only
    extensions.migrate.init_app(app, extensions.db, directory=str(ROOT / "migrations"))
    extensions.csrf.init_app(app)
    from portal.logs import init_request_logging

    init_request_logging(app)
    from portal.i18n import init_i18n

    init_i18n(app)

    # Discovers, checks and configures the issuers; stops here on a mistake (docs/writing-an-issuer.md).
    registry = load_issuers(app.config)
    app.extensions["tra.issuers"] = registry
    _check_signature_levels(app, registry)
    app.jinja_loader = ChoiceLoader(
        [FileSystemLoader(str(ROOT / "templates"))]
        + [FileSystemLoader(str(issuer.template_folder)) for issuer in registry]
    )
    register_filters(app.jinja_env)

    init_auth(app)
    if app.config["DEV_IDP_ENABLED"]:
        from portal.devidp import init_devidp

        init_devidp(app)
    register_views(app)
    errors.register_error_handlers(app)
    security.init_security(app)
    cli.init_cli(app)
    extensions.init_limiter(app)  # after every blueprint; wraps wsgi_app in ProxyFix when configured
    if app.config["SAMPLE_REGISTRIES_MOUNTED"]:
        _mount_sample_registries(app)

    @app.context_processor
    def _current_path():
        return {"current_path": request.full_path.rstrip("?") if has_request_context() else "/"}

    return app


def _configure_logging(app: Flask) -> None:
    """JSON lines in production (or with LOG_FORMAT=json), readable text otherwise."""
    from portal.logs import configure_logging

    level = logging.getLevelName(str(app.config.get("LOG_LEVEL", "INFO")).upper())
    configure_logging(
        json_lines=app.config.get("LOG_FORMAT") == "json",
        level=level if isinstance(level, int) else logging.INFO,
    )


def _fill_instance_defaults(app: Flask) -> None:
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'tra.db'}"
    if not app.config.get("BLOB_DIR"):
        app.config["BLOB_DIR"] = str(instance / "blobs")
    if not app.config.get("DEV_PKI_DIR"):
        app.config["DEV_PKI_DIR"] = str(instance / "dev-pki")


def _check_signature_levels(app: Flask, registry) -> None:
    """Refuse to start with a signature level that needs a time-stamping authority when none is
    configured (otherwise every issuance would fail); a level that does not exist already stopped
    ``load_issuers`` (each issuer's ``signature_level`` setting).

    ``TSA_URL=dev`` (the development TSA, and for B-LT/B-LTA the development CRL served
    in-process) is refused in production unless the portal issues SAMPLE documents.
    """
    from portal.signing.services import issuer_signature_level
    from portal.signing.timestamps import is_dev_tsa_url

    dev_tsa = is_dev_tsa_url(app.config.get("TSA_URL"))
    if dev_tsa and app.config["ENV_NAME"] == "production" and not app.config.get("SAMPLE_DOCUMENTS"):
        raise RuntimeError(
            "TSA_URL=dev is the development time-stamping authority (and development CRL), not for "
            "production: set TSA_URL to the address of a real RFC 3161 TSA"
        )
    for issuer in registry:
        level = issuer_signature_level(issuer.settings)  # checked with the issuer's settings
        if level.needs_timestamp and not app.config.get("TSA_URL"):
            raise RuntimeError(
                f"agency {issuer.id!r} signs at {level.value}, which needs a time-stamping authority: "
                f"set TSA_URL, or SIGNATURE_LEVEL / SIGNATURE_LEVEL_{issuer.id.upper()} to B-B"
            )


def _check_production_secrets(app: Flask) -> None:
    from portal.config import DEV_SECRET

    if app.config["ENV_NAME"] == "production" and app.config["SECRET_KEY"] == DEV_SECRET:
        raise RuntimeError("PORTAL_SECRET_KEY must be set in production")


def _mount_sample_registries(app: Flask) -> None:
    """Serve the sample agency registries under /_sample/<agency> in this process (demo only)."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from portal.issuing.registry import has_sample_registry

    mounts = {
        f"/_sample/{issuer.id}": type(issuer).sample_registry()
        for issuer in app.extensions["tra.issuers"]
        if has_sample_registry(type(issuer))
    }
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, mounts)
