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
    app.config.from_object(config_class(config_name))
    if overrides:
        app.config.update(overrides)
    _fill_instance_defaults(app)
    _check_production_secrets(app)
    _configure_logging(app)

    from portal import cli, errors, extensions, security
    from portal.auth import init_auth
    from portal.issuing import IssuerRegistry, discover_issuer_classes
    from portal.rendering import register_filters
    from portal.views import register_views

    extensions.db.init_app(app)
    extensions.migrate.init_app(app, extensions.db, directory=str(ROOT / "migrations"))
    extensions.csrf.init_app(app)
    from portal.logs import init_request_logging

    init_request_logging(app)
    from portal.i18n import init_i18n

    init_i18n(app)

    registry = IssuerRegistry(
        discover_issuer_classes(),
        settings=issuer_settings(app.config),
        disabled=app.config["DISABLED_ISSUERS"],
    )
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


def issuer_settings(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-issuer settings drawn from the configuration."""
    dlt_url = config.get("DLT_REGISTRY_URL")
    if not dlt_url and config.get("SAMPLE_REGISTRIES_MOUNTED"):
        dlt_url = config["PUBLIC_BASE_URL"].rstrip("/") + "/_sample/dlt"
    return {
        "dlt": {
            "registry_url": dlt_url,
            "timeout": config["REGISTRY_TIMEOUT_SECONDS"],
            "token": config.get("DLT_REGISTRY_TOKEN"),
        }
    }


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
    """Refuse to start with a signature level that does not exist, or one that needs a
    time-stamping authority when none is configured (otherwise every issuance would fail)."""
    from portal.signing.services import agency_signature_level

    for issuer in registry:
        try:
            level = agency_signature_level(app.config, issuer.id)
        except ValueError as exc:
            raise RuntimeError(f"signature level for agency {issuer.id!r}: {exc}") from None
        if level.needs_timestamp and not app.config.get("TSA_URL"):
            raise RuntimeError(
                f"agency {issuer.id!r} signs at {level.value}, which needs a time-stamping authority: "
                f"set TSA_URL, or SIGNATURE_LEVEL / SIGNATURE_LEVEL_{issuer.id.upper()} to B-B"
            )


def _check_production_secrets(app: Flask) -> None:
    from portal.config import _DEV_SECRET

    if app.config["ENV_NAME"] == "production" and app.config["SECRET_KEY"] == _DEV_SECRET:
        raise RuntimeError("PORTAL_SECRET_KEY must be set in production")


def _mount_sample_registries(app: Flask) -> None:
    """Serve the sample agency registries under /_sample/<agency> in this process (demo only)."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from issuers.dlt.sample_registry import create_registry_app

    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/_sample/dlt": create_registry_app()})
