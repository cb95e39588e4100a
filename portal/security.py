"""Response headers from one place: a strict Content Security Policy and friends."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask


def content_security_policy(idp_origin: str | None = None) -> str:
    """The one policy for every page. Logging out is a form POST that ends at the identity
    provider (RP-initiated logout), so its origin joins ``form-action``."""
    form_action = "'self'" + (f" {idp_origin}" if idp_origin else "")
    return "; ".join(
        [
            "default-src 'self'",
            "img-src 'self' data:",
            "style-src 'self'",
            "script-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            f"form-action {form_action}",
        ]
    )


def init_security(app: Flask) -> None:
    discovery = app.config.get("OIDC_DISCOVERY_URL")
    idp_origin = None
    if discovery:
        parts = urlsplit(discovery)
        idp_origin = f"{parts.scheme}://{parts.netloc}"
    policy = content_security_policy(idp_origin)

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response
