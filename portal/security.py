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
    defaults = (
        ("Content-Security-Policy", content_security_policy(idp_origin)),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
    )

    @app.after_request
    def _headers(response):
        # Each header unless the response set its own: one pass over the response's headers
        # instead of four lookups (each a scan of them), on every response.
        headers = response.headers
        present = {name.lower() for name, _ in headers}
        for name, value in defaults:
            if name.lower() not in present:
                headers.add(name, value)
        return response
