"""Identity providers from configuration: the ``PORTAL_IDP_CONFIG`` TOML file, the one-provider
``OIDC_DISCOVERY_URL`` shorthand, or the embedded development OP.

The file is read and checked once, by ``create_app``; any mistake stops the portal with a message
that names the provider and the key (and never the secret).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "AUDIENCES",
    "PORTAL_FIELDS",
    "IdpConfigError",
    "Provider",
    "configured_providers",
    "load_idp_config",
    "parse_idp_config",
]

#: Who a provider's people are; the portal stores it with each identity and session.
AUDIENCES = ("citizen", "business", "investor", "officer")

#: Portal fields a provider's claims can be mapped to.
PORTAL_FIELDS = (
    "pid",
    "name_th",
    "name_en",
    "email",
    "juristic_id",
    "juristic_name",
    "role",
    "passport_number",
    "nationality",
)

#: Fields each audience must have a claim for (checked when the file is read).
REQUIRED_FIELDS = {
    "citizen": ("pid",),
    "business": (),
    "investor": ("passport_number", "nationality"),
    "officer": (),
}

#: The mapping used when a provider has no ``claims`` table: ThaID's claim names.
DEFAULT_CLAIMS = {"pid": "pid", "name_th": "name", "name_en": "name_en", "email": "email"}

_KNOWN_KEYS = {
    "label_th",
    "label_en",
    "discovery_url",
    "client_id",
    "client_secret",
    "client_secret_env",
    "scopes",
    "audience",
    "claims",
}


class IdpConfigError(RuntimeError):
    """The identity-provider configuration is wrong; the message says where."""


@dataclass(frozen=True)
class Provider:
    """One OpenID Provider the portal's people may log in with."""

    name: str
    """Short name used in URLs (``/login/<name>``) and stored with identities and sessions."""
    label_th: str
    """What the login page calls it, in Thai."""
    label_en: str
    """What the login page calls it, in English."""
    discovery_url: str
    """The provider's ``.well-known/openid-configuration`` address."""
    client_id: str
    """The portal's client id at this provider."""
    client_secret: str = field(repr=False)
    """The portal's client secret (from the file or from the environment variable it names)."""
    scopes: tuple[str, ...]
    """Scopes asked for; ``openid`` is always among them."""
    audience: str
    """One of :data:`AUDIENCES`."""
    claims: Mapping[str, str]
    """Portal field → claim name."""

    def label(self, locale: str) -> str:
        """The provider's name in ``locale`` ("th" or anything else for English)."""
        return self.label_th if locale == "th" else self.label_en


def load_idp_config(
    path: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> dict[str, Provider]:
    """Read and check the TOML file at ``path``."""
    try:
        with Path(path).open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise IdpConfigError(f"PORTAL_IDP_CONFIG: the file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise IdpConfigError(f"PORTAL_IDP_CONFIG: {path} is not valid TOML: {exc}") from None
    return parse_idp_config(data, environ=environ)


def parse_idp_config(
    data: Mapping[str, Any], *, environ: Mapping[str, str] | None = None
) -> dict[str, Provider]:
    """Check a parsed configuration and return its providers by name."""
    environ = os.environ if environ is None else environ
    unknown_top = set(data) - {"providers"}
    if unknown_top:
        raise IdpConfigError(
            f"identity provider config: unknown top-level key(s) {', '.join(sorted(unknown_top))}"
        )
    tables = data.get("providers")
    if not isinstance(tables, dict) or not tables:
        raise IdpConfigError("identity provider config: no [providers.<name>] table")
    return {name: _provider(name, table, environ) for name, table in tables.items()}


def _provider(name: str, table: Any, environ: Mapping[str, str]) -> Provider:
    where = f"identity provider {name!r}"
    if not name.replace("-", "").replace("_", "").isalnum() or not name.isascii() or len(name) > 64:
        raise IdpConfigError(f"{where}: the name may only hold letters, digits, '-' and '_' (at most 64)")
    if not isinstance(table, dict):
        raise IdpConfigError(f"{where}: must be a table")
    unknown = set(table) - _KNOWN_KEYS
    if unknown:
        raise IdpConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")

    def text(key: str, *, required: bool = True) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                raise IdpConfigError(f"{where}: missing {key}")
            return None
        if not isinstance(value, str) or not value.strip():
            raise IdpConfigError(f"{where}: {key} must be a non-empty string")
        return value.strip()

    discovery_url = text("discovery_url")
    if not discovery_url.startswith(("https://", "http://")):
        raise IdpConfigError(f"{where}: discovery_url must be an http(s) URL")
    audience = text("audience")
    if audience not in AUDIENCES:
        raise IdpConfigError(f"{where}: audience {audience!r} is not one of {', '.join(AUDIENCES)}")

    secret = text("client_secret", required=False)
    secret_env = text("client_secret_env", required=False)
    if secret and secret_env:
        raise IdpConfigError(f"{where}: give client_secret or client_secret_env, not both")
    if secret_env:
        secret = environ.get(secret_env)
        if not secret:
            raise IdpConfigError(f"{where}: client_secret_env names {secret_env}, which is not set")
    if not secret:
        raise IdpConfigError(f"{where}: missing client_secret or client_secret_env")

    scopes = table.get("scopes", ["openid"])
    if not isinstance(scopes, list) or not all(isinstance(s, str) and s and " " not in s for s in scopes):
        raise IdpConfigError(f"{where}: scopes must be a list of strings without spaces")
    if "openid" not in scopes:
        scopes = ["openid", *scopes]

    claims = table.get("claims", DEFAULT_CLAIMS)
    if not isinstance(claims, dict):
        raise IdpConfigError(f"{where}: claims must be a table of portal field = claim name")
    for portal_field, claim in claims.items():
        if portal_field not in PORTAL_FIELDS:
            raise IdpConfigError(
                f"{where}: claims.{portal_field} is not a portal field (one of {', '.join(PORTAL_FIELDS)})"
            )
        if not isinstance(claim, str) or not claim:
            raise IdpConfigError(f"{where}: claims.{portal_field} must be a claim name (a string)")
    for needed in REQUIRED_FIELDS[audience]:
        if needed not in claims:
            raise IdpConfigError(f"{where}: audience {audience} needs a claim for {needed} (claims.{needed})")

    return Provider(
        name=name,
        label_th=text("label_th"),
        label_en=text("label_en"),
        discovery_url=discovery_url,
        client_id=text("client_id"),
        client_secret=secret,
        scopes=tuple(dict.fromkeys(scopes)),
        audience=audience,
        claims=dict(claims),
    )


def configured_providers(config: Mapping[str, Any]) -> dict[str, Provider]:
    """The providers of an app configuration, in the order they should be offered.

    ``PORTAL_IDP_CONFIG`` (``IDP_CONFIG``) wins; else ``OIDC_DISCOVERY_URL`` gives one provider
    "oidc"; else, in development, the embedded OP is the one provider "dev"; else none.
    """
    if config.get("IDP_CONFIG"):
        return load_idp_config(config["IDP_CONFIG"])
    if config.get("OIDC_DISCOVERY_URL"):
        if not config.get("OIDC_CLIENT_ID") or not config.get("OIDC_CLIENT_SECRET"):
            raise IdpConfigError(
                "OIDC_DISCOVERY_URL is set: OIDC_CLIENT_ID and OIDC_CLIENT_SECRET are needed too"
            )
        return {
            "oidc": Provider(
                name="oidc",
                label_th="ผู้ให้บริการยืนยันตัวตน",
                label_en="Identity provider",
                discovery_url=config["OIDC_DISCOVERY_URL"],
                client_id=config["OIDC_CLIENT_ID"],
                client_secret=config["OIDC_CLIENT_SECRET"],
                scopes=tuple(config["OIDC_SCOPES"].split()),
                audience="citizen",
                claims=dict(DEFAULT_CLAIMS),
            )
        }
    if config.get("DEV_IDP_ENABLED"):
        from portal.devidp.server import CLIENT_SCOPE

        return {
            "dev": Provider(
                name="dev",
                label_th="ผู้ให้บริการทดลอง (คนตัวอย่าง)",
                label_en="Development provider (sample people)",
                discovery_url=config["PUBLIC_BASE_URL"].rstrip("/")
                + "/devidp/.well-known/openid-configuration",
                client_id=config["DEV_IDP_CLIENT_ID"],
                client_secret=config["DEV_IDP_CLIENT_SECRET"],
                scopes=tuple(CLIENT_SCOPE.split()),
                audience="citizen",
                # Its sample people include a foreign investor, known by passport (no pid).
                claims={**DEFAULT_CLAIMS, "passport_number": "passport_number", "nationality": "nationality"},
            )
        }
    return {}
