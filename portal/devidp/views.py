"""HTTP endpoints of the development OpenID Provider, under ``/devidp``.

Authlib's errors become Authlib's own responses (a redirect to the client with ``error=…`` when
the redirect URI is trusted, a JSON 400/401 otherwise); nothing a client sends leads to a 500.
"""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import get_locale, gettext

from portal.auth.access import public
from portal.devidp.people import SAMPLE_PEOPLE, find_person
from portal.devidp.server import DevIdp, provider_metadata

__all__ = ["EXTENSION_KEY", "create_blueprint"]

EXTENSION_KEY = "tra.devidp"

#: Authorization request parameters the login page carries over to its POST.
#: (``prompt`` is left out: the chooser is the login it would ask for.)
AUTHORIZATION_PARAMETERS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "response_mode",
    "max_age",
    "ui_locales",
    "login_hint",
    "acr_values",
)


def create_blueprint() -> Blueprint:
    """A fresh blueprint per app (its routes read that app's provider from ``app.extensions``)."""
    bp = public(Blueprint("devidp", __name__, url_prefix="/devidp"))
    bp.add_url_rule("/.well-known/openid-configuration", view_func=discovery)
    bp.add_url_rule("/jwks", view_func=jwks)
    bp.add_url_rule("/authorize", view_func=authorize, methods=["GET", "POST"])
    bp.add_url_rule("/token", view_func=token, methods=["POST"])
    bp.add_url_rule("/userinfo", view_func=userinfo, methods=["GET", "POST"])
    bp.add_url_rule("/logout", view_func=logout, methods=["GET"])
    return bp


def _idp() -> DevIdp:
    return current_app.extensions[EXTENSION_KEY]


def _oauth_error(error: OAuth2Error) -> ResponseReturnValue:
    return _idp().server.handle_error_response(None, error)


def discovery() -> ResponseReturnValue:
    return jsonify(provider_metadata())


def jwks() -> ResponseReturnValue:
    return jsonify(_idp().public_jwks())


def authorize() -> ResponseReturnValue:
    """Show the chooser of sample people (GET), or answer the client with a code or a refusal (POST)."""
    server = _idp().server
    try:
        grant = server.get_consent_grant(end_user=None)
    except OAuth2Error as error:
        return _oauth_error(error)

    if request.method == "GET":
        language = str(get_locale() or "th").split("_")[0]
        parameters = [(name, request.args[name]) for name in AUTHORIZATION_PARAMETERS if name in request.args]
        return render_template(
            "devidp/login.html", people=SAMPLE_PEOPLE, parameters=parameters, language=language
        )

    if request.form.get("action") == "cancel":
        return server.create_authorization_response(grant_user=None, grant=grant)
    person = find_person(request.form.get("sub"))
    if person is None:
        return _message(
            gettext("Unknown sample person"),
            gettext("Choose one of the people listed on the development login page."),
            status=400,
        )
    return server.create_authorization_response(grant_user=person, grant=grant)


def token() -> ResponseReturnValue:
    try:
        return _idp().server.create_token_response()
    except OAuth2Error as error:  # raised before Authlib's own try (while reading the request)
        return _oauth_error(error)


def userinfo() -> ResponseReturnValue:
    try:
        return _idp().server.create_endpoint_response("userinfo")
    except OAuth2Error as error:
        return _oauth_error(error)


def logout() -> ResponseReturnValue:
    """RP-initiated logout: back to the portal when the address is on its origin, else a plain page."""
    server = _idp().server
    try:
        end_session = server.validate_endpoint_request("end_session")
        response = server.create_endpoint_response("end_session", end_session)
    except OAuth2Error:
        response = None  # a bad id_token_hint: no redirect (RP-Initiated Logout section 4)
    if response is not None:
        return response
    return _message(
        gettext("You are logged out"),
        gettext("You are logged out of the development identity provider."),
    )


def _message(heading: str, text: str, *, status: int = 200) -> ResponseReturnValue:
    return render_template("devidp/message.html", heading=heading, text=text), status
