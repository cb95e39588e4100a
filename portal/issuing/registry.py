"""Finds issuer modules through the ``portal.issuers`` entry-point group (built-in ones too)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from importlib.metadata import entry_points
from typing import Any

from portal.issuing.contract import DocumentType, Issuer

__all__ = ["DuplicateIssuer", "IssuerRegistry", "discover_issuer_classes"]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "portal.issuers"


class DuplicateIssuer(RuntimeError):
    """Two installed issuers claim the same identifier; refusing to guess."""


def discover_issuer_classes() -> list[type[Issuer]]:
    """The issuer classes installed in this environment."""
    classes = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Issuer)):
            raise TypeError(f"entry point {ep.name!r} is not an Issuer subclass")
        classes.append(cls)
    return classes


class IssuerRegistry:
    """The enabled issuers of one application, each instantiated once with its settings."""

    def __init__(
        self,
        classes: Iterable[type[Issuer]],
        *,
        settings: Mapping[str, Mapping[str, Any]],
        disabled: Iterable[str] = (),
    ) -> None:
        disabled = set(disabled)
        self._issuers: dict[str, Issuer] = {}
        seen: set[str] = set()
        for cls in classes:
            if cls.id in seen:
                raise DuplicateIssuer(f"more than one issuer is registered as {cls.id!r}")
            seen.add(cls.id)
            if cls.id in disabled:
                log.info("issuer %s disabled by configuration", cls.id)
                continue
            self._issuers[cls.id] = cls(settings.get(cls.id, {}))

    def __iter__(self) -> Iterator[Issuer]:
        return iter(sorted(self._issuers.values(), key=lambda i: i.id))

    def get(self, issuer_id: str) -> Issuer | None:
        return self._issuers.get(issuer_id)

    def find(self, issuer_id: str, type_id: str) -> tuple[Issuer, DocumentType] | None:
        """The issuer and document type, or None when either does not exist here."""
        issuer = self.get(issuer_id)
        if issuer is None:
            return None
        doc_type = issuer.document_type(type_id)
        return (issuer, doc_type) if doc_type else None
