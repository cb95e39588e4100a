"""The development OpenID Provider, assembled from Authlib's server side.

Authorization code flow only, PKCE with S256 required for every request (Authlib's own
``CodeChallenge(required=True)`` insists only for public clients, and accepts ``plain``),
ID tokens signed RS256 carrying the identity claims whatever the scope, a userinfo endpoint
and RP-initiated logout that only returns to the portal's own origin.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Request
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import compare_s256_code_challenge
from authlib.oidc.core import OpenIDCode, UserInfo, UserInfoEndpoint
from authlib.oidc.rpinitiated import EndSessionEndpoint, EndSessionRequest
from flask import Request, current_app, url_for
from flask import request as current_request
from joserfc.jwk import KeySet, RSAKey

from portal.devidp.keys import KEY_FILE_NAME, load_or_create_signing_key
from portal.devidp.people import SamplePerson, find_person
from portal.devidp.store import (
    CODE_LIFETIME_SECONDS,
    AccessToken,
    AuthorizationCode,
    DevClient,
    DevIdpStore,
)

__all__ = ["CLIENT_SCOPE", "DevIdp", "issuer", "provider_metadata"]

#: Everything the portal's client may ask for; one scope per custom claim, as ThaID does.
CLIENT_SCOPE = "openid profile email pid name_en"
ACCESS_TOKEN_LIFETIME_SECONDS = 3600
ID_TOKEN_LIFETIME_SECONDS = 3600
SIGNING_ALGORITHM = "RS256"
RELEASED_CLAIMS = ("sub", "name", "name_en", "email", "pid", "passport_number", "nationality")


def issuer() -> str:
    """The issuer identifier, taken from the current request so it holds on any host and port."""
    return current_request.url_root + "devidp"


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower-cased."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def is_path_on_origin(url: str, origin: str) -> bool:
    """Whether ``url`` is an absolute URL on ``origin`` with an ordinary path (no open redirect)."""
    if any(ch in url for ch in "\\\r\n\t "):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return (
        f"{parts.scheme}://{parts.netloc}".lower() == origin
        and parts.path.startswith("/")
        and not parts.path.startswith("//")
    )


class DevIdp:
    """Everything the development provider of one app holds (kept in ``app.extensions``)."""

    def __init__(self, *, client: DevClient, key_path: Path | None = None) -> None:
        """``key_path`` defaults to ``devidp-key.json`` in the app's instance folder, found on first use."""
        self.client = client
        self.store = DevIdpStore()
        self._key_path = key_path
        self._key: RSAKey | None = None
        self._key_lock = threading.Lock()

        self.resource_protector = ResourceProtector()
        self.resource_protector.register_token_validator(_BearerTokenValidator(self.store))

        self.server = DevAuthorizationServer(self)
        self.server.register_grant(
            DevAuthorizationCodeGrant, [RequireS256CodeChallenge(required=True), DevOpenIDCode(self)]
        )
        self.server.register_endpoint(DevUserInfoEndpoint(self))
        self.server.register_endpoint(DevEndSessionEndpoint(self))

    @property
    def signing_key(self) -> RSAKey:
        """The private signing key, read (or made) once, on first use."""
        with self._key_lock:
            if self._key is None:
                path = self._key_path or Path(current_app.instance_path) / KEY_FILE_NAME
                self._key = load_or_create_signing_key(path)
            return self._key

    def public_jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set relying parties verify ID tokens with."""
        return {"keys": [self.signing_key.as_dict(private=False)]}

    def query_client(self, client_id: str | None) -> DevClient | None:
        return self.client if client_id == self.client.client_id else None

    def save_token(self, token: dict[str, Any], oauth_request: Any) -> None:
        code = getattr(oauth_request, "authorization_code", None)
        self.store.save_token(
            AccessToken(
                access_token=token["access_token"],
                client=oauth_request.client,
                sub=oauth_request.user.sub,
                scope=token.get("scope", ""),
                issued_at=time.time(),
                expires_in=int(token.get("expires_in", ACCESS_TOKEN_LIFETIME_SECONDS)),
            ),
            from_code=code.code if code is not None else None,
        )


class DevAuthorizationServer(AuthorizationServer):
    """Authlib's Flask authorization server, bound to one :class:`DevIdp` instead of an app."""

    def __init__(self, idp: DevIdp) -> None:
        super().__init__(query_client=idp.query_client, save_token=idp.save_token)
        self.idp = idp
        # Our own settings, not the host app's OAUTH2_* keys (the portal is a client, not a server).
        self.load_config({"OAUTH2_TOKEN_EXPIRES_IN": {"authorization_code": ACCESS_TOKEN_LIFETIME_SECONDS}})

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return _AnyHostOAuth2Request(current_request)


class _AnyHostOAuth2Request(FlaskOAuth2Request):
    """Authlib's request wrapper without its https check.

    Authlib refuses plain http except on loopback (``insecure_transport``); a development portal
    may run on any host name (``http://portal.test`` in the tests, a LAN address in a demo).
    Scoped to this provider, unlike the process-wide ``AUTHLIB_INSECURE_TRANSPORT`` switch, and
    ``init_devidp`` refuses production.
    """

    def __init__(self, request: Request) -> None:
        _, rest = request.url.split("://", 1)
        OAuth2Request.__init__(self, request.method, "https://" + rest, headers=request.headers)
        self.uri = request.url
        self._request = request
        self.payload = FlaskOAuth2Payload(request)


class DevAuthorizationCodeGrant(AuthorizationCodeGrant):
    """Authorization code grant storing codes in the app's :class:`DevIdpStore`."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    server: DevAuthorizationServer

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        now = time.time()
        self.server.idp.store.save_code(
            AuthorizationCode(
                code=code,
                client_id=request.client.client_id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                sub=request.user.sub,
                nonce=data.get("nonce"),
                code_challenge=data["code_challenge"],
                code_challenge_method=data["code_challenge_method"],
                auth_time=int(now),
                expires_at=now + CODE_LIFETIME_SECONDS,
            )
        )

    def query_authorization_code(self, code: str, client: DevClient) -> AuthorizationCode | None:
        return self.server.idp.store.take_code(code, client.client_id)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Nothing left to do: :meth:`query_authorization_code` already took the code."""

    def authenticate_user(self, authorization_code: AuthorizationCode) -> SamplePerson | None:
        return find_person(authorization_code.sub)


class RequireS256CodeChallenge(CodeChallenge):
    """PKCE for every client, S256 only."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    CODE_CHALLENGE_METHODS = {"S256": compare_s256_code_challenge}
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: missing 'code_challenge'.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be 'S256'.")
        super().validate_code_challenge(grant, redirect_uri)


class DevOpenIDCode(OpenIDCode):
    """Adds the ID token: RS256, our issuer, the client as audience, the person's claims."""

    def __init__(self, idp: DevIdp) -> None:
        super().__init__(require_nonce=False)
        self.idp = idp

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return self.idp.store.nonce_used(request.payload.client_id, nonce)

    def resolve_client_private_key(self, client: DevClient) -> RSAKey:
        return self.idp.signing_key

    def get_client_algorithm(self, client: DevClient) -> str:
        return SIGNING_ALGORITHM

    def get_encode_header(self, client: DevClient) -> dict[str, str]:
        return {"alg": SIGNING_ALGORITHM, "typ": "JWT", "kid": self.idp.signing_key.kid}

    def get_client_claims(self, client: DevClient) -> dict[str, Any]:
        now = int(time.time())
        return {"iss": issuer(), "aud": client.client_id, "iat": now, "exp": now + ID_TOKEN_LIFETIME_SECONDS}

    def generate_user_info(self, user: SamplePerson, scope: str) -> UserInfo:
        # The relying party reads every claim from the ID token, so scope does not filter them.
        return UserInfo(user.claims())


class DevUserInfoEndpoint(UserInfoEndpoint):
    """Userinfo for a bearer access token: the same claims as the ID token."""

    def __init__(self, idp: DevIdp) -> None:
        super().__init__(resource_protector=idp.resource_protector)
        self.idp = idp

    def get_issuer(self) -> str:
        return issuer()

    def generate_user_info(self, user: SamplePerson, scope: str) -> UserInfo:
        return UserInfo(user.claims())

    def resolve_private_key(self) -> RSAKey:
        return self.idp.signing_key


class DevEndSessionEndpoint(EndSessionEndpoint):
    """RP-initiated logout. The provider keeps no session, so logging out is only the redirect."""

    def __init__(self, idp: DevIdp) -> None:
        super().__init__()
        self.idp = idp

    def get_server_jwks(self) -> KeySet:
        return KeySet.import_key_set(self.idp.public_jwks())

    def get_algorithms(self) -> list[str]:
        return [SIGNING_ALGORITHM]

    # Authlib matches post_logout_redirect_uri exactly against registered URIs; here any path on
    # the client's own origin will do. Overrides a private method: the tests pin the behaviour.
    def _is_valid_post_logout_redirect_uri(self, client: DevClient, post_logout_redirect_uri: str) -> bool:
        return is_path_on_origin(post_logout_redirect_uri, client.post_logout_origin)

    def is_post_logout_redirect_uri_legitimate(
        self, request: Any, post_logout_redirect_uri: str, client: Any, logout_hint: str | None
    ) -> bool:
        # Without id_token_hint, the origin rule above is what keeps this from being an open redirect.
        return True

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        """No provider session exists to end."""


class _BearerTokenValidator(BearerTokenValidator):
    def __init__(self, store: DevIdpStore) -> None:
        super().__init__()
        self._store = store

    def authenticate_token(self, token_string: str) -> AccessToken | None:
        return self._store.find_token(token_string)


def provider_metadata() -> dict[str, Any]:
    """The discovery document (OpenID Connect Discovery 1.0), for the current request's host."""
    return {
        "issuer": issuer(),
        "authorization_endpoint": url_for("devidp.authorize", _external=True),
        "token_endpoint": url_for("devidp.token", _external=True),
        "userinfo_endpoint": url_for("devidp.userinfo", _external=True),
        "jwks_uri": url_for("devidp.jwks", _external=True),
        "end_session_endpoint": url_for("devidp.logout", _external=True),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [SIGNING_ALGORITHM],
        "scopes_supported": CLIENT_SCOPE.split(),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "claims_supported": [*RELEASED_CLAIMS, "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
    }
