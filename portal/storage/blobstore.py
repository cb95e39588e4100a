"""Files on disk named by their SHA-256: the same bytes are stored once, and a file's
name proves its content (a changed file no longer matches its key)."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

__all__ = ["BlobNotFound", "BlobStore"]

_KEY = re.compile(r"^[0-9a-f]{64}$")


class BlobNotFound(LookupError):
    """No blob under this key (or the key is not a SHA-256)."""


class BlobStore:
    """A directory of blobs, sharded by the first two bytes of the key."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise BlobNotFound(key)
        return self.root / key[:2] / key[2:4] / key

    def put(self, data: bytes) -> str:
        """Store ``data`` (atomically) and return its key, the hex SHA-256."""
        key = hashlib.sha256(data).hexdigest()
        path = self._path(key)
        if path.exists():
            return key
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return key

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    def path(self, key: str) -> Path:
        """Filesystem path of an existing blob (for streaming downloads)."""
        path = self._path(key)
        if not path.is_file():
            raise BlobNotFound(key)
        return path
