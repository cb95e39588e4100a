"""Content-addressed storage of signed documents."""

from portal.storage.blobstore import BlobNotFound, BlobStore

__all__ = ["BlobNotFound", "BlobStore"]
