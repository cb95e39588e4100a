"""The one registered client, authorization codes and access tokens, kept in memory.

Memory is enough for a development provider: a restart only logs people out of the portal's
next token exchange. The dev server is threaded, so every read-modify-write holds one lock.
"""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oidc.core import AuthorizationCodeMixin

from portal.devidp.people import SamplePerson, find_person

__all__ = ["CODE_LIFETIME_SECONDS", "AccessToken", "AuthorizationCode", "DevClient", "DevIdpStore"]

#: Authorization codes are single-use and live this long.
CODE_LIFETIME_SECONDS = 60
#: A used code is remembered this long, so that a second use revokes what the first one got.
USED_CODE_MEMORY_SECONDS = 600

_TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


@dataclass(frozen=True, eq=False)
class DevClient(ClientMixin):
    """The portal as a relying party: a confidential client with one exact redirect URI."""

    client_id: str
    """Identifier the portal sends (``DEV_IDP_CLIENT_ID``)."""
    client_secret: str
    """Shared secret for the token endpoint (``DEV_IDP_CLIENT_SECRET``)."""
    redirect_uri: str
    """The only redirect URI accepted, compared exactly."""
    scope: str
    """Every scope the client may get; others asked for are dropped silently."""
    post_logout_origin: str
    """Scheme and authority that post-logout redirects must stay on."""
    client_metadata: dict[str, Any] = field(default_factory=dict)
    """Registration metadata, as Authlib's userinfo and end-session endpoints read it."""

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        allowed = set(self.scope.split())
        return " ".join(dict.fromkeys(s for s in scope.split() if s in allowed))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == self.redirect_uri

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in _TOKEN_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass(frozen=True)
class AuthorizationCode(AuthorizationCodeMixin):
    """A code handed to the client's redirect URI, waiting to be exchanged once."""

    code: str
    client_id: str
    redirect_uri: str | None
    """The authorization request's redirect URI, if it named one (the token request must repeat it)."""
    scope: str
    sub: str
    nonce: str | None
    code_challenge: str
    code_challenge_method: str
    auth_time: int
    expires_at: float

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def is_expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_at


@dataclass
class AccessToken(TokenMixin):
    """A bearer token for the userinfo endpoint."""

    access_token: str
    client: DevClient
    sub: str
    scope: str
    issued_at: float
    expires_in: int
    revoked: bool = False

    def check_client(self, client: ClientMixin) -> bool:
        return client.get_client_id() == self.client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> SamplePerson | None:
        return find_person(self.sub)

    def get_client(self) -> DevClient:
        return self.client


@dataclass
class _UsedCode:
    client_id: str
    nonce: str | None
    forget_at: float
    tokens: list[AccessToken] = field(default_factory=list)


class DevIdpStore:
    """Codes and tokens of one app, safe to use from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, AuthorizationCode] = {}
        self._used_codes: dict[str, _UsedCode] = {}
        self._tokens: dict[str, AccessToken] = {}

    def save_code(self, code: AuthorizationCode) -> None:
        with self._lock:
            self._forget_expired(time.time())
            self._codes[code.code] = code

    def take_code(self, code: str, client_id: str) -> AuthorizationCode | None:
        """Remove and return a live code issued to ``client_id``; ``None`` if there is none.

        Taking the code at lookup (not after the token is made) keeps it single-use even when two
        token requests race. A second use of a code revokes the tokens the first one obtained
        (RFC 6749 section 4.1.2).
        """
        now = time.time()
        with self._lock:
            used = self._used_codes.get(code)
            if used is not None:
                for token in used.tokens:
                    token.revoked = True
                return None
            found = self._codes.get(code)
            if found is None or found.client_id != client_id:
                return None
            del self._codes[code]
            if found.is_expired(now):
                return None
            self._used_codes[code] = _UsedCode(
                client_id=found.client_id, nonce=found.nonce, forget_at=now + USED_CODE_MEMORY_SECONDS
            )
            return found

    def nonce_used(self, client_id: str, nonce: str) -> bool:
        """Whether a live or recently used code of ``client_id`` already carries ``nonce``."""
        with self._lock:
            records = [*self._codes.values(), *self._used_codes.values()]
            return any(r.client_id == client_id and r.nonce == nonce for r in records)

    def save_token(self, token: AccessToken, *, from_code: str | None = None) -> None:
        with self._lock:
            self._forget_expired(time.time())
            self._tokens[token.access_token] = token
            if from_code is not None and from_code in self._used_codes:
                self._used_codes[from_code].tokens.append(token)

    def find_token(self, access_token: str) -> AccessToken | None:
        with self._lock:
            return self._tokens.get(access_token)

    def _forget_expired(self, now: float) -> None:
        for code, record in list(self._codes.items()):
            if record.is_expired(now):
                del self._codes[code]
        for code, used in list(self._used_codes.items()):
            if now >= used.forget_at:
                del self._used_codes[code]
        for value, token in list(self._tokens.items()):
            if token.is_expired(now):
                del self._tokens[value]
