"""Configuration classes, chosen by one environment variable (``PORTAL_ENV``).

Secrets come from the environment; development defaults are marked as such and
refused in production.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DEV_SECRET = "development-only-secret-do-not-use-in-production"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    SECRET_KEY = _env("PORTAL_SECRET_KEY", DEV_SECRET)
    SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL")  # filled in by create_app when unset
    #: No ``pool_pre_ping`` (a round trip per request): portal.extensions.init_database pings a
    #: pooled connection only when it has been idle a while.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    REDIS_URL = _env("REDIS_URL")
    #: Background issuance (RQ; only with REDIS_URL). Prefix of the queue names (tests isolate by it).
    RQ_QUEUE_PREFIX = _env("RQ_QUEUE_PREFIX", "")
    #: Seconds between tries when the agency's registry is unreachable; one retry per entry.
    ISSUANCE_RETRY_INTERVALS = tuple(
        int(s) for s in (_env("ISSUANCE_RETRY_INTERVALS", "10,30,60,180,600") or "").split(",") if s.strip()
    )
    ISSUANCE_JOB_TIMEOUT = int(_env("ISSUANCE_JOB_TIMEOUT", "300"))
    RQ_RESULT_TTL = int(_env("RQ_RESULT_TTL", "3600"))
    RQ_FAILURE_TTL = int(_env("RQ_FAILURE_TTL", str(7 * 24 * 3600)))
    #: Worker liveness: a worker (machine) that dies is noticed after about
    #: RQ_JOB_MONITORING_INTERVAL + RQ_HEARTBEAT_GRACE seconds by another worker's maintenance.
    RQ_WORKER_TTL = int(_env("RQ_WORKER_TTL", "60"))
    RQ_JOB_MONITORING_INTERVAL = int(_env("RQ_JOB_MONITORING_INTERVAL", "5"))
    RQ_HEARTBEAT_GRACE = int(_env("RQ_HEARTBEAT_GRACE", "15"))
    RQ_MAINTENANCE_INTERVAL = int(_env("RQ_MAINTENANCE_INTERVAL", "10"))
    #: Unfinished requests untouched this long with no job in Redis are queued again (safety net).
    REQUEUE_AFTER_SECONDS = int(_env("REQUEUE_AFTER_SECONDS", "120"))
    #: A request whose pipeline has started this many times without finishing is failed for good.
    ISSUANCE_MAX_ATTEMPTS = int(_env("ISSUANCE_MAX_ATTEMPTS", "12"))
    #: What an RQ worker runs besides jobs, by dotted name (``portal.jobs`` imports no service):
    #: once before its first job (given the app), and in each maintenance pass (one worker at a time).
    WORKER_WARM_UP = "portal.services.issuance_jobs.warm_up"
    WORKER_MAINTENANCE = ("portal.services.issuance_jobs.requeue_stalled",)
    #: Public address of the portal; QR codes and verification links point here.
    PUBLIC_BASE_URL = _env("PORTAL_BASE_URL", "http://127.0.0.1:5000")
    #: Content-addressed store of signed PDFs (default: instance/blobs).
    BLOB_DIR = _env("PORTAL_BLOB_DIR")
    #: Development PKI directory (default: instance/dev-pki).
    DEV_PKI_DIR = _env("PORTAL_DEV_PKI_DIR")
    #: Extra trust roots (PEM paths, separated by ':') accepted by the file check.
    TRUST_ROOTS = _env("PORTAL_TRUST_ROOTS", "")
    #: PAdES level of new signatures (B-B, B-T, B-LT, B-LTA) for every agency, unless the agency has
    #: its own SIGNATURE_LEVEL_<AGENCY> (e.g. SIGNATURE_LEVEL_DLT). Levels above B-B need TSA_URL.
    SIGNATURE_LEVEL = _env("SIGNATURE_LEVEL", "B-B")
    SIGNATURE_LEVEL_DLT = _env("SIGNATURE_LEVEL_DLT")
    #: RFC 3161 time-stamping authority for B-T and above; OCSP/CRL come from the certificates.
    #: "dev" (DEV_TSA_URL) is the in-process development TSA of the development PKI, and makes
    #: B-LT/B-LTA read the development CRL in-process (no network, nothing else fetched): never
    #: for real documents (create_app refuses it in production unless SAMPLE_DOCUMENTS).
    TSA_URL = _env("TSA_URL")
    TSA_TIMEOUT_SECONDS = float(_env("TSA_TIMEOUT_SECONDS", "5"))
    REVOCATION_FETCH_TIMEOUT_SECONDS = float(_env("REVOCATION_FETCH_TIMEOUT_SECONDS", "5"))
    #: Signing keys per agency (docs/keys.md): a TOML file, and/or <AGENCY>_SIGNING_PKCS11_* variables
    #: (names of the PIN's variable or file, never the PIN). Agencies in neither use the development PKI.
    SIGNING_KEYS_FILE = _env("PORTAL_SIGNING_KEYS")
    SIGNING_KEY_ENV: dict = {k: v for k, v in os.environ.items() if "_SIGNING_PKCS11_" in k and v}
    #: Running processes re-read which key is current (flask portal keys current) at most this often.
    SIGNING_KEY_REFRESH_SECONDS = float(_env("SIGNING_KEY_REFRESH_SECONDS", "10"))
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

    #: Rate limits (portal/extensions.py), counted in Redis when REDIS_URL is set; when Redis is
    #: unreachable each process counts in memory instead and verification keeps answering.
    RATELIMIT_STORAGE_URI = _env("REDIS_URL", "memory://")
    RATELIMIT_STORAGE_OPTIONS: dict = {"socket_connect_timeout": 0.3, "socket_timeout": 0.3}
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_KEY_PREFIX = _env("RATELIMIT_KEY_PREFIX", "tra-limits")
    RATELIMIT_VERIFY = _env("RATELIMIT_VERIFY", "120/minute")
    RATELIMIT_LOGIN = _env("RATELIMIT_LOGIN", "30/minute")
    #: X-RateLimit-* headers cost two more Redis round trips per request (remaining, reset): off.
    #: A refused request still says when to come back (Retry-After, portal/errors.py).
    RATELIMIT_HEADERS_ENABLED = False
    #: Checks of a person's document ("Who read my data") are counted in this Redis and folded
    #: into the database (portal/services/check_counts.py); unset (the embedded default), or
    #: while Redis is unreachable, each check is written to the database at once.
    #: "off": write each check to the database even with Redis.
    CHECK_COUNTS_REDIS_URL = (
        None
        if _env("CHECK_COUNTS_REDIS_URL") == "off"
        else _env("CHECK_COUNTS_REDIS_URL", _env("REDIS_URL"))
    )
    CHECK_COUNTS_PREFIX = _env("CHECK_COUNTS_PREFIX", "tra-checks")
    #: Each web process folds the counts into the database at most this often (seconds; one
    #: process at a time), and "Who read my data" folds before it reads.
    CHECK_COUNTS_FOLD_SECONDS = int(_env("CHECK_COUNTS_FOLD_SECONDS", "30"))
    #: Proxies in front of the portal whose X-Forwarded-For is trusted (0: the socket peer is the client).
    PROXY_FIX_HOPS = int(_env("PROXY_FIX_HOPS", "0"))
    #: Operations: /readyz answers within this many seconds even when a dependency hangs.
    READINESS_TIMEOUT_SECONDS = float(_env("READINESS_TIMEOUT_SECONDS", "0.5"))
    #: When set, /metrics wants "Authorization: Bearer <token>".
    METRICS_TOKEN = _env("METRICS_TOKEN")
    #: "json" (one object per line; the production default) or "text".
    LOG_FORMAT = _env("LOG_FORMAT", "text")
    LOG_LEVEL = _env("LOG_LEVEL", "INFO")

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
    #: TOML file of identity providers (docs/identity-providers.md); wins over OIDC_DISCOVERY_URL.
    IDP_CONFIG = _env("PORTAL_IDP_CONFIG")
    #: Server-side login sessions end after this much inactivity, and at the latest after the second.
    SESSION_IDLE_MINUTES = int(_env("PORTAL_SESSION_IDLE_MINUTES", "30"))
    SESSION_ABSOLUTE_HOURS = int(_env("PORTAL_SESSION_ABSOLUTE_HOURS", "12"))

    #: Sample agency registries mounted in-process under /_sample/<agency>.
    SAMPLE_REGISTRIES_MOUNTED = False
    #: Issuer settings (portal/issuing/settings.py, docs/writing-an-issuer.md): ISSUER_<ID>_<SETTING>
    #: variables, and the older <ID>_REGISTRY_URL, <ID>_REGISTRY_TOKEN and SIGNATURE_LEVEL_<ID>, as the
    #: environment had them at start (issuers are plugins: their names are not known here).
    ISSUER_ENV: dict = {
        k: v
        for k, v in os.environ.items()
        if v
        and (
            k.startswith(("ISSUER_", "SIGNATURE_LEVEL_")) or k.endswith(("_REGISTRY_URL", "_REGISTRY_TOKEN"))
        )
    }
    #: Settings given as data, per issuer id ({"dlt": {"timeout": 3}}); wins over the variables.
    ISSUER_SETTINGS: dict = {}
    DLT_REGISTRY_URL = _env("DLT_REGISTRY_URL")
    DLT_REGISTRY_TOKEN = _env("DLT_REGISTRY_TOKEN")
    #: Default timeout of every agency registry (an issuer's own ISSUER_<ID>_TIMEOUT wins).
    REGISTRY_TIMEOUT_SECONDS = float(_env("REGISTRY_TIMEOUT_SECONDS", "5"))
    #: Issuer identifiers switched off by configuration (comma separated); ISSUER_<ID>_ENABLED=0 too.
    DISABLED_ISSUERS = tuple(
        s.strip() for s in (_env("PORTAL_DISABLED_ISSUERS", "") or "").split(",") if s.strip()
    )
    #: Documents issued here carry the SAMPLE mark (development PKI, sample data).
    SAMPLE_DOCUMENTS = True


DEV_TSA_URL = "dev"
"""``TSA_URL`` value of the development TSA (portal.signing.timestamps.DEV_TSA_URL)."""


class DevelopmentConfig(Config):
    """``make demo``: SQLite, embedded OP, sample registries, dev PKI, all in one process.

    Signs at B-LTA, production's level, without any outside service: the development TSA
    timestamps in-process and the development root's CRL is served in-process too.
    """

    ENV_NAME = "development"
    DEV_IDP_ENABLED = True
    SAMPLE_REGISTRIES_MOUNTED = True
    SIGNATURE_LEVEL = _env("SIGNATURE_LEVEL", "B-LTA")
    TSA_URL = _env("TSA_URL", DEV_TSA_URL)


class TestingConfig(DevelopmentConfig):
    """The test suite; fixtures override what they start themselves.

    Signs at B-B without a TSA (fast, no network), as the tests expect, unless a test or the
    environment says otherwise.
    """

    ENV_NAME = "testing"
    TESTING = True
    SIGNATURE_LEVEL = _env("SIGNATURE_LEVEL", "B-B")
    TSA_URL = _env("TSA_URL")
    RATELIMIT_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"
    CHECK_COUNTS_REDIS_URL = None  # tests that count in Redis say so


class ProductionConfig(Config):
    """``make serve``: everything from the environment, nothing embedded."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    LOG_FORMAT = _env("LOG_FORMAT", "json")
    SAMPLE_DOCUMENTS = _env("PORTAL_SAMPLE_DOCUMENTS", "0") == "1"
    #: Production signs at B-LTA: the level that still validates offline years later. A portal that
    #: issues SAMPLE documents signs with the development PKI: B-T there by default (as the load
    #: benchmark measures it), with the development TSA unless TSA_URL names another; B-LT/B-LTA
    #: work there too (the development CRL, in-process) when SIGNATURE_LEVEL asks for them.
    TSA_URL = _env("TSA_URL", DEV_TSA_URL if SAMPLE_DOCUMENTS else None)
    SIGNATURE_LEVEL = _env("SIGNATURE_LEVEL", "B-T" if SAMPLE_DOCUMENTS else "B-LTA")


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
