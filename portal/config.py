"""Configuration classes, chosen by one environment variable (``PORTAL_ENV``).

Secrets come from the environment; development defaults are marked as such and
refused in production.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_DEV_SECRET = "development-only-secret-do-not-use-in-production"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    SECRET_KEY = _env("PORTAL_SECRET_KEY", _DEV_SECRET)
    SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL")  # filled in by create_app when unset
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    REDIS_URL = _env("REDIS_URL")
    #: Public address of the portal; QR codes and verification links point here.
    PUBLIC_BASE_URL = _env("PORTAL_BASE_URL", "http://127.0.0.1:5000")
    #: Content-addressed store of signed PDFs (default: instance/blobs).
    BLOB_DIR = _env("PORTAL_BLOB_DIR")
    #: Development PKI directory (default: instance/dev-pki).
    DEV_PKI_DIR = _env("PORTAL_DEV_PKI_DIR")
    #: Extra trust roots (PEM paths, separated by ':') accepted by the file check.
    TRUST_ROOTS = _env("PORTAL_TRUST_ROOTS", "")
    #: Uploads larger than this get a plain 413 answer.
    MAX_CONTENT_LENGTH = 10 * 1024 * 1024
    MAX_FORM_MEMORY_SIZE = 10 * 1024 * 1024

    BABEL_DEFAULT_LOCALE = "th"
    BABEL_DEFAULT_TIMEZONE = "Asia/Bangkok"
    BABEL_TRANSLATION_DIRECTORIES = str(ROOT / "portal" / "translations")
    LANGUAGES = ("th", "en")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_NAME = "tra_session"
    WTF_CSRF_TIME_LIMIT = None

    RATELIMIT_STORAGE_URI = _env("REDIS_URL", "memory://")
    RATELIMIT_VERIFY = "120/minute"
    RATELIMIT_HEADERS_ENABLED = True

    #: The embedded development OpenID Provider (never in production).
    DEV_IDP_ENABLED = False
    DEV_IDP_CLIENT_ID = "tra-portal-dev"
    DEV_IDP_CLIENT_SECRET = _env("DEV_IDP_CLIENT_SECRET", "dev-idp-client-secret")
    #: Where the relying party finds the identity provider's discovery document.
    #: Unset in development: the embedded OP at PUBLIC_BASE_URL/devidp is used.
    OIDC_DISCOVERY_URL = _env("OIDC_DISCOVERY_URL")
    OIDC_CLIENT_ID = _env("OIDC_CLIENT_ID")
    OIDC_CLIENT_SECRET = _env("OIDC_CLIENT_SECRET")
    OIDC_SCOPES = _env("OIDC_SCOPES", "openid profile email pid name_en")

    #: Sample agency registries mounted in-process under /_sample/<agency>.
    SAMPLE_REGISTRIES_MOUNTED = False
    #: Per-issuer settings: base URL of the agency registry, timeouts.
    DLT_REGISTRY_URL = _env("DLT_REGISTRY_URL")
    REGISTRY_TIMEOUT_SECONDS = float(_env("REGISTRY_TIMEOUT_SECONDS", "5"))
    #: Issuer identifiers switched off by configuration (comma separated).
    DISABLED_ISSUERS = tuple(filter(None, (_env("PORTAL_DISABLED_ISSUERS", "") or "").split(",")))
    #: Documents issued here carry the SAMPLE mark (development PKI, sample data).
    SAMPLE_DOCUMENTS = True


class DevelopmentConfig(Config):
    """``make demo``: SQLite, embedded OP, sample registries, dev PKI, all in one process."""

    ENV_NAME = "development"
    DEV_IDP_ENABLED = True
    SAMPLE_REGISTRIES_MOUNTED = True


class TestingConfig(DevelopmentConfig):
    """The test suite; fixtures override what they start themselves."""

    ENV_NAME = "testing"
    TESTING = True
    RATELIMIT_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"


class ProductionConfig(Config):
    """``make serve``: everything from the environment, nothing embedded."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    SAMPLE_DOCUMENTS = _env("PORTAL_SAMPLE_DOCUMENTS", "0") == "1"


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_class(name: str | None = None) -> type[Config]:
    """The configuration class named by ``name`` or ``PORTAL_ENV`` (default: development)."""
    key = name or _env("PORTAL_ENV", "development")
    try:
        return CONFIGS[key]
    except KeyError:
        raise RuntimeError(f"PORTAL_ENV={key!r} is not one of {', '.join(CONFIGS)}") from None
