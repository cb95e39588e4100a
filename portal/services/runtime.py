"""Per-process resources: built on first use, then reused (fonts, keys, trust roots, storage).

They live in ``app.extensions`` so that each application (and each forked worker that
builds its own app) has its own; nothing is loaded at import time.
"""

from __future__ import annotations

import threading
from pathlib import Path

from flask import current_app

from portal.issuing import IssuerRegistry
from portal.rendering import CERTIFICATE_CSS_PATH, PdfRenderer
from portal.signing import (
    KeyRing,
    ensure_dev_pki,
    file_identity_loader,
    load_trust_roots,
)
from portal.storage import BlobStore

_lock = threading.RLock()


def _cached(name: str, build):
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
    return _cached("tra.blobs", lambda: BlobStore(Path(current_app.config["BLOB_DIR"])))


def renderer() -> PdfRenderer:
    return _cached(
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
    return _cached("tra.devpki", lambda: ensure_dev_pki(Path(app.config["DEV_PKI_DIR"]), agencies))


def key_ring() -> KeyRing:
    """Each agency's signing identity: configured key files or PKCS#11 key, else the dev PKI."""
    from portal.signing import configured_identity_loader, signing_key_settings

    def build():
        config = current_app.config
        agencies = [issuer.id for issuer in issuers()]
        # A configuration mistake fails here, at first use (the worker warms keys at start-up).
        settings = signing_key_settings(
            agencies, keys_file=config.get("SIGNING_KEYS_FILE"), environ=config.get("SIGNING_KEY_ENV")
        )
        fallback = None
        if any(agency not in settings for agency in agencies):
            pki = dev_pki()
            fallback = file_identity_loader(pki.agency_paths, chain=[pki.root_cert_path])
        return KeyRing(configured_identity_loader(settings, fallback=fallback))

    return _cached("tra.keyring", build)


def trust_roots():
    """Roots a signature must chain to: the dev root plus any configured ones."""

    def build():
        paths = [Path(p) for p in current_app.config["TRUST_ROOTS"].split(":") if p]
        paths.append(dev_pki().root_cert_path)
        return load_trust_roots(paths)

    return _cached("tra.trust_roots", build)
