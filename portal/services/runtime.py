"""Per-process resources: built on first use, then reused (fonts, trust roots, storage, dev PKI).

The signing keys are another: ``portal.services.keys.key_ring`` builds them with ``cached``
(this module imports no other service, so every service may import it).

They live in ``app.extensions`` so that each application (and each forked worker that
builds its own app) has its own; nothing is loaded at import time.
"""

from __future__ import annotations

import threading
from pathlib import Path

from flask import current_app

from portal.issuing import IssuerRegistry
from portal.rendering import CERTIFICATE_CSS_PATH, PdfRenderer
from portal.signing import ensure_dev_pki, load_trust_roots
from portal.storage import BlobStore

_lock = threading.RLock()


def cached(name: str, build):
    """``app.extensions[name]``, built by ``build()`` on first use (once, even across threads)."""
    ext = current_app.extensions
    value = ext.get(name)
    if value is None:
        with _lock:
            value = ext.get(name)
            if value is None:
                value = ext[name] = build()
    return value


def issuers() -> IssuerRegistry:
    return current_app.extensions["tra.issuers"]


def blob_store() -> BlobStore:
    return cached("tra.blobs", lambda: BlobStore(Path(current_app.config["BLOB_DIR"])))


def renderer() -> PdfRenderer:
    return cached(
        "tra.renderer",
        lambda: PdfRenderer(
            stylesheet_paths=[CERTIFICATE_CSS_PATH],
            # Certificates may load files from static/ only (never instance/, where keys live).
            base_url=str(CERTIFICATE_CSS_PATH.parents[1]) + "/",
        ),
    )


def dev_pki():
    """The development PKI under instance/, generated on first use."""
    app = current_app
    agencies = {issuer.id: issuer.name_en for issuer in issuers()}
    return cached("tra.devpki", lambda: ensure_dev_pki(Path(app.config["DEV_PKI_DIR"]), agencies))


def trust_roots():
    """Roots a signature must chain to: the dev root plus any configured ones."""

    def build():
        paths = [Path(p) for p in current_app.config["TRUST_ROOTS"].split(":") if p]
        paths.append(dev_pki().root_cert_path)
        return load_trust_roots(paths)

    return cached("tra.trust_roots", build)

