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


def configured_key_specs() -> dict:
    """Each agency's key as configured by environment (docs/keys.md), else its dev PKI key files.

    Read once per process (verification asks on every page for agencies without a key table)."""
    return dict(_cached("tra.key_specs", _read_key_specs))


def _read_key_specs() -> dict:
    from portal.signing import FileKeySpec, signing_key_settings

    config = current_app.config
    agencies = [issuer.id for issuer in issuers()]
    settings = signing_key_settings(
        agencies, keys_file=config.get("SIGNING_KEYS_FILE"), environ=config.get("SIGNING_KEY_ENV")
    )
    missing = [agency for agency in agencies if agency not in settings]
    if missing:
        pki = dev_pki()
        for agency in missing:
            key_path, cert_path = pki.agency_paths[agency]
            settings[agency] = FileKeySpec(
                agency=agency, key=key_path, cert=cert_path, chain=(pki.root_cert_path,)
            )
    return settings


def key_ring():
    """Each agency's signing identity: its current key in the signing_keys table (rotation), else
    the configured key files or PKCS#11 key, else the dev PKI. A switch of current key is picked up
    within SIGNING_KEY_REFRESH_SECONDS (portal/services/keys/ring.py)."""
    from portal.services.keys import RotatingKeyRing
    from portal.signing import configured_identity_loader

    def build():
        # A configuration mistake fails here, at first use (the worker warms keys at start-up).
        configured = KeyRing(configured_identity_loader(configured_key_specs()))
        refresh = float(current_app.config.get("SIGNING_KEY_REFRESH_SECONDS", 10))
        return RotatingKeyRing(configured, refresh_seconds=refresh)

    return _cached("tra.keyring", build)


def trust_roots():
    """Roots a signature must chain to: the dev root plus any configured ones."""

    def build():
        paths = [Path(p) for p in current_app.config["TRUST_ROOTS"].split(":") if p]
        paths.append(dev_pki().root_cert_path)
        return load_trust_roots(paths)

    return _cached("tra.trust_roots", build)


def warm_up(app) -> None:
    """Build once, before an RQ worker's first job, what every job would otherwise build: the
    issuers, the renderer and its fonts, the blob store, each agency's signing key (jobs run in
    the worker's process, so the keys loaded here are the ones that sign), the stamp's font."""
    from portal.signing.stamp import stamp_style

    with app.app_context():
        registry = issuers()
        renderer().warm()
        blob_store()
        ring = key_ring()
        for issuer in registry:
            ring.get(issuer.id)
    stamp_style()  # the visible signature's font, cut down once
