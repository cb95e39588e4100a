"""The provider's ID-token signing key: RSA-2048, made on first use, kept in the instance folder.

Several worker processes and restarts must sign with the same key, or a relying party that
cached the JWKS would reject fresh tokens; so the key lives in a file, written once.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from joserfc.jwk import RSAKey

__all__ = ["KEY_FILE_NAME", "DevIdpKeyError", "load_or_create_signing_key"]

log = logging.getLogger(__name__)

KEY_FILE_NAME = "devidp-key.json"


class DevIdpKeyError(RuntimeError):
    """The key file exists but cannot be used."""


def load_or_create_signing_key(path: Path) -> RSAKey:
    """Read the private JWK at ``path``, creating it (mode 0600) if it does not exist yet.

    Creation is safe against other processes doing the same at the same moment: the key is
    written to a private temporary file and hard-linked into place, which fails if another
    process got there first; then everybody reads the one that won.
    """
    if not path.exists():
        _create(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        key = RSAKey.import_key(data)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise DevIdpKeyError(
            f"Cannot read the development identity provider key {path}: {exc}. "
            "Delete the file to make a new one."
        ) from exc
    if not key.is_private:
        raise DevIdpKeyError(f"{path} holds no private key; delete it to make a new one.")
    return key


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
    body = json.dumps(key.as_dict(private=True)).encode("utf-8")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.unlink(missing_ok=True)  # a leftover from a crash might have other permissions
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return  # another process made it first; use theirs
        log.info("Created the development identity provider signing key %s (kid %s)", path, key.kid)
    finally:
        temporary.unlink(missing_ok=True)
