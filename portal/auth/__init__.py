"""The OpenID Connect relying party (Authlib), one client per configured identity provider, and
the Flask-Login session backed by a server-side session row."""

from __future__ import annotations

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app

from portal.auth.providers import IdpConfigError, Provider, configured_providers
from portal.extensions import login_manager

__all__ = ["IdpConfigError", "Provider", "init_auth", "oidc_client", "provider", "providers"]

_PROVIDERS = "tra.idp"
_OAUTH = "tra.oauth"


def providers() -> dict[str, Provider]:
    """The current app's identity providers by name, in the configured order."""
    return current_app.extensions[_PROVIDERS]


def provider(name: str | None) -> Provider | None:
    """The provider called ``name`` in the current app, or None."""
    return providers().get(name) if name else None


def oidc_client(name: str):
    """The relying-party client for provider ``name`` of the current app."""
    return current_app.extensions[_OAUTH].create_client(name)


def init_auth(app: Flask) -> None:
    """Read the identity providers (a configuration mistake stops the app here) and wire the
    login views, one Authlib client per provider and the session loader."""
    from flask_login import current_user

    from portal.auth.views import bp
    from portal.services import accounts

    configured = configured_providers(app.config)
    app.extensions[_PROVIDERS] = configured

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"

    @login_manager.user_loader
    def _load_user(session_id: str):
        # The cookie holds the id of a server-side session, which logout ends for good.
        return accounts.resume_session(session_id)

    # One Authlib registry per app: its client cache is not keyed by app, and several apps
    # (tests, or a second portal in one process) must not share one identity provider.
    oauth = app.extensions[_OAUTH] = OAuth(app)
    for name, idp in configured.items():
        oauth.register(
            name,
            server_metadata_url=idp.discovery_url,
            client_id=idp.client_id,
            client_secret=idp.client_secret,
            client_kwargs={
                "scope": " ".join(idp.scopes),
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": "client_secret_basic",
                "timeout": 10,
            },
            overwrite=True,
        )
    app.register_blueprint(bp)

    @app.context_processor
    def _login_provider():
        login_session = getattr(current_user, "login_session", None)
        return {"login_provider": provider(login_session.provider) if login_session is not None else None}

    @app.context_processor
    def _acting_for():
        # Who the person acts for, for the header of every page (read from the session row).
        from portal.services.mandates import acting_context

        if getattr(current_user, "login_session", None) is None:
            return {"acting": None}
        return {"acting": acting_context(current_user)}
