"""Embedded development OpenID Provider, mounted at ``/devidp`` (development only).

The portal's relying party talks to it over HTTP through its discovery document, exactly as it
talks to a real national digital ID provider; people log in by choosing one of the sample people.
"""

from __future__ import annotations

import logging

from flask import Flask

from portal.devidp.server import CLIENT_SCOPE, DevIdp, origin_of
from portal.devidp.store import DevClient
from portal.devidp.views import EXTENSION_KEY, create_blueprint, token, userinfo

__all__ = ["EXTENSION_KEY", "init_devidp"]

log = logging.getLogger(__name__)


def init_devidp(app: Flask) -> None:
    """Mount the development provider on ``app`` with the portal registered as its one client.

    The client is ``DEV_IDP_CLIENT_ID`` / ``DEV_IDP_CLIENT_SECRET`` with the redirect URI
    ``PUBLIC_BASE_URL + "/auth/callback"``. The signing key is made on first use, in the
    instance folder (``devidp-key.json``). Refuses to run in production.
    """
    from portal.extensions import csrf

    if app.config.get("ENV_NAME") == "production":
        raise RuntimeError("The development identity provider must not be mounted in production")
    base_url = app.config["PUBLIC_BASE_URL"].rstrip("/")
    client = DevClient(
        client_id=app.config["DEV_IDP_CLIENT_ID"],
        client_secret=app.config["DEV_IDP_CLIENT_SECRET"],
        redirect_uri=base_url + "/auth/callback",
        scope=CLIENT_SCOPE,
        post_logout_origin=origin_of(base_url),
        client_metadata={"token_endpoint_auth_method": "client_secret_basic"},
    )
    app.extensions[EXTENSION_KEY] = DevIdp(client=client)
    app.register_blueprint(create_blueprint())
    # Clients call these from their back end, with client or bearer credentials, not a session.
    csrf.exempt(token)
    csrf.exempt(userinfo)
    log.warning(
        "Development identity provider mounted at %s/devidp: anyone can log in as a sample person",
        base_url,
    )
