"""The OpenID Connect relying party (Authlib) and the Flask-Login session."""

from __future__ import annotations

from authlib.integrations.flask_client import OAuth
from flask import Flask

from portal.extensions import db, login_manager

PROVIDER = "oidc"


def oidc_client():
    """The relying-party client of the current app (None when no provider is configured)."""
    from flask import current_app

    return current_app.extensions["tra.oauth"].create_client(PROVIDER)


def init_auth(app: Flask) -> None:
    from portal.auth.views import bp
    from portal.models import User

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"

    @login_manager.user_loader
    def _load_user(user_id: str):
        return db.session.get(User, user_id)

    # One Authlib registry per app: its client cache is not keyed by app, and several apps
    # (tests, or a second portal in one process) must not share one identity provider.
    oauth = app.extensions["tra.oauth"] = OAuth(app)
    discovery = app.config.get("OIDC_DISCOVERY_URL")
    client_id = app.config.get("OIDC_CLIENT_ID")
    client_secret = app.config.get("OIDC_CLIENT_SECRET")
    if not discovery and app.config["DEV_IDP_ENABLED"]:
        discovery = app.config["PUBLIC_BASE_URL"].rstrip("/") + "/devidp/.well-known/openid-configuration"
        client_id = app.config["DEV_IDP_CLIENT_ID"]
        client_secret = app.config["DEV_IDP_CLIENT_SECRET"]
    app.config["OIDC_ACTIVE_DISCOVERY_URL"] = discovery
    if discovery:
        oauth.register(
            PROVIDER,
            server_metadata_url=discovery,
            client_id=client_id,
            client_secret=client_secret,
            client_kwargs={
                "scope": app.config["OIDC_SCOPES"],
                "code_challenge_method": "S256",
                "timeout": 10,
            },
            overwrite=True,
        )
    app.register_blueprint(bp)
