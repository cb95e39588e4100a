"""Choose an identity provider, log in over OpenID Connect, come back, log out."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from requests import RequestException

from portal.auth import oidc_client, provider, providers
from portal.auth.access import public, safe_next
from portal.auth.providers import AUDIENCES
from portal.errors import BadInput, NotFound, ServiceUnavailable
from portal.services import accounts

log = logging.getLogger(__name__)

bp = public(Blueprint("auth", __name__))

#: Session key naming the provider a login was started with (one callback URL serves all).
_LOGIN_PROVIDER = "login_provider"


def _unreachable(exc: Exception) -> ServiceUnavailable:
    log.warning("identity provider unreachable: %s", type(exc).__name__)
    return ServiceUnavailable(
        _("The identity provider cannot be reached right now. Please try again shortly.")
    )


def _incomplete(message: str) -> BadInput:
    return BadInput(message, title=_("Login did not complete"))


def _redirect_uri() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + url_for("auth.callback")


@bp.get("/login")
def login():
    if request.args.get("next"):
        session["next"] = safe_next(request.args["next"])
    available = providers()
    if not available:
        raise ServiceUnavailable(
            _("No identity provider is configured for this portal, so nobody can log in yet.")
        )
    if len(available) == 1:
        return redirect(url_for("auth.login_with", name=next(iter(available))))
    groups = [(audience, [p for p in available.values() if p.audience == audience]) for audience in AUDIENCES]
    return render_template("auth/choose.html", groups=[(a, ps) for a, ps in groups if ps])


@bp.get("/login/<name>")
def login_with(name: str):
    idp = provider(name)
    if idp is None:
        raise NotFound(_("There is no such way to log in. Go back to the login page and choose one."))
    if request.args.get("next"):
        session["next"] = safe_next(request.args["next"])
    session[_LOGIN_PROVIDER] = idp.name
    try:
        return oidc_client(idp.name).authorize_redirect(_redirect_uri())
    except (RequestException, OAuthError, ValueError, KeyError) as exc:
        raise _unreachable(exc) from exc


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
        raise _incomplete(_("The identity provider could not log you in. Please try again."))
    if "code" not in request.args:
        raise BadInput(_("This login link is incomplete. Please start again from the login button."))
    idp = provider(session.get(_LOGIN_PROVIDER))
    forged = _(
        "This login answer does not belong to your session (it may be old or forged). Please log in again."
    )
    if idp is None:
        raise _incomplete(forged)
    client = oidc_client(idp.name)
    try:
        # Mix-up defence (RFC 9207): an answer naming another issuer is not for this login.
        issuer = client.load_server_metadata().get("issuer")
        if "iss" in request.args and request.args["iss"] != issuer:
            log.warning(
                "authorization response from issuer %r, expected %r", request.args["iss"][:200], issuer
            )
            raise _incomplete(forged)
        token = client.authorize_access_token()
        claims = dict(token.get("userinfo") or {})
        if accounts.missing_claims(idp, claims):
            # Authlib's "userinfo" holds only the ID token's claims; the rest is at userinfo.
            extra = dict(client.userinfo(token=token))
            if extra.get("sub") != claims.get("sub"):
                raise _incomplete(
                    _("The identity provider could not confirm who you are. Please log in again.")
                )
            claims = {**extra, **claims}
    except MismatchingStateError as exc:
        raise _incomplete(forged) from exc
    except (OAuthError, ValueError, KeyError) as exc:
        log.info("login failed at the token step: %s", type(exc).__name__)
        raise _incomplete(
            _("The identity provider could not confirm who you are. Please log in again.")
        ) from exc
    except RequestException as exc:
        raise _unreachable(exc) from exc
    user = accounts.log_in(provider=idp, claims=claims, id_token=token.get("id_token"))
    # A fresh session at login: nothing from before survives but the destination.
    next_url = safe_next(session.pop("next", None))
    session.clear()
    login_user(user)
    return redirect(next_url or url_for("requests.my_documents"))


@bp.post("/logout")
def logout():
    login_session = getattr(current_user, "login_session", None)
    ended = accounts.end_session(login_session.id) if login_session is not None else None
    logout_user()
    session.clear()
    if ended is not None:
        end_session = _end_session_endpoint(ended.provider)
        if end_session:
            params = {"post_logout_redirect_uri": current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/"}
            if ended.id_token:
                params["id_token_hint"] = ended.id_token
            idp = provider(ended.provider)
            params["client_id"] = idp.client_id
            return redirect(f"{end_session}?{urlencode(params)}")
    return redirect(url_for("main.index"))


def _end_session_endpoint(name: str) -> str | None:
    if provider(name) is None:
        return None
    try:
        metadata = oidc_client(name).load_server_metadata()
    except Exception:  # noqa: BLE001 - the IdP being down must not block logging out
        log.warning("could not read the metadata of identity provider %s at logout", name)
        return None
    return metadata.get("end_session_endpoint")
