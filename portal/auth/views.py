"""Log in over OpenID Connect, come back, log out."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from flask import Blueprint, current_app, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from requests import RequestException

from portal.auth import PROVIDER, oidc_client
from portal.auth.access import public, safe_next
from portal.errors import BadInput, ServiceUnavailable
from portal.services import accounts

log = logging.getLogger(__name__)

bp = public(Blueprint("auth", __name__))


def _client():
    client = oidc_client()
    if client is None:
        raise ServiceUnavailable(_("No identity provider is configured for this portal."))
    return client


def _redirect_uri() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + url_for("auth.callback")


@bp.get("/login")
def login():
    if request.args.get("next"):
        session["next"] = safe_next(request.args["next"])
    try:
        return _client().authorize_redirect(_redirect_uri())
    except (RequestException, OAuthError, ValueError) as exc:
        log.warning("identity provider unreachable: %s", type(exc).__name__)
        raise ServiceUnavailable(
            _("The identity provider cannot be reached right now. Please try again shortly.")
        ) from exc


@bp.get("/auth/callback")
def callback():
    error = request.args.get("error")
    if error == "access_denied":
        raise BadInput(
            _("You cancelled the login, so you are not logged in. You can log in again at any time."),
            title=_("Login cancelled"),
        )
    if error:
        log.info("identity provider returned error=%s", error[:64])
        raise BadInput(
            _("The identity provider could not log you in. Please try again."),
            title=_("Login did not complete"),
        )
    if "code" not in request.args:
        raise BadInput(_("This login link is incomplete. Please start again from the login button."))
    try:
        token = _client().authorize_access_token()
    except MismatchingStateError as exc:
        raise BadInput(
            _(
                "This login answer does not belong to your session (it may be old or forged). "
                "Please log in again."
            ),
            title=_("Login did not complete"),
        ) from exc
    except (OAuthError, ValueError, KeyError) as exc:
        log.info("login failed at the token step: %s", type(exc).__name__)
        raise BadInput(
            _("The identity provider could not confirm who you are. Please log in again."),
            title=_("Login did not complete"),
        ) from exc
    except RequestException as exc:
        raise ServiceUnavailable(
            _("The identity provider cannot be reached right now. Please try again shortly.")
        ) from exc
    claims = dict(token.get("userinfo") or {})
    user = accounts.sign_in(provider=PROVIDER, claims=claims)
    # A fresh session at login: nothing from before survives but the destination.
    next_url = safe_next(session.pop("next", None))
    session.clear()
    session["id_token"] = token.get("id_token")
    login_user(user)
    return redirect(next_url or url_for("requests.my_documents"))


@bp.post("/logout")
def logout():
    id_token = session.get("id_token")
    was_logged_in = current_user.is_authenticated
    logout_user()
    session.clear()
    if was_logged_in:
        end_session = _end_session_endpoint()
        if end_session:
            params = {"post_logout_redirect_uri": current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/"}
            if id_token:
                params["id_token_hint"] = id_token
            return redirect(f"{end_session}?{urlencode(params)}")
    return redirect(url_for("main.index"))


def _end_session_endpoint() -> str | None:
    try:
        metadata = _client().load_server_metadata()
    except Exception:  # noqa: BLE001 - the IdP being down must not block logging out
        log.warning("could not read the identity provider's metadata at logout")
        return None
    return metadata.get("end_session_endpoint")
