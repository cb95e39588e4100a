"""A base for issuers that read their agency's registry over HTTP with the shared client.

Every built-in issuer (DLT, DOPA, DBD, BOI) does the same three things around its own parsing:
reads JSON from its registry through :func:`portal.issuing.http.registry_client` (timeouts,
retries, breaker, credentials, errors mapped onto the contract), ships a sample registry the
demo mounts and the tests serve, and refuses a record whose content it cannot build with a plain
:class:`RegistryRejected`. :class:`RegistryIssuer` does them once; an issuer with another way to
reach its agency subclasses :class:`~portal.issuing.contract.Issuer` directly.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Mapping
from typing import Any, ClassVar

from portal.issuing.contract import DocumentInfo, DocumentType, Issuer, Record, RegistryRejected, WsgiApp
from portal.issuing.http import RegistryClient, registry_client

__all__ = ["RegistryIssuer"]


class RegistryIssuer(Issuer):
    """An issuer whose records come from its agency's registry, read with the shared client."""

    #: ``"package.module:function"`` returning the sample registry's WSGI app (imported only
    #: when asked for, so production never loads it); None when the issuer ships none.
    sample_registry_factory: ClassVar[str | None] = None
    #: What :meth:`build_content` calls a record it cannot use, after "<LABEL> registry sent ".
    unusable_record: ClassVar[str] = "a record"

    @property
    def label(self) -> str:
        """How messages and log lines name the agency: its id in capitals ("DLT")."""
        return self.id.upper()

    @classmethod
    def sample_registry(cls) -> WsgiApp | None:
        if cls.sample_registry_factory is None:
            return None
        module, _, function = cls.sample_registry_factory.partition(":")
        return getattr(importlib.import_module(module), function)()

    def registry(self) -> RegistryClient:
        """The process's client for this agency's registry.

        Asked for on each call rather than kept from ``__init__``, so that changed settings (an
        operator's, a test's) apply at once while the connection pool is kept between calls.
        """
        return registry_client(self.id, self.settings, label=self.label)

    def read_registry(self, path: str, params: Mapping[str, str], *, not_found: str) -> Any:
        """The registry's JSON answer at ``path`` (placeholders filled, quoted, from ``params``);
        ``not_found`` is the plain RecordNotFound message for a 404."""
        return self.registry().get_json(path, params, not_found_message=not_found)

    def build_content(
        self, document_type: DocumentType, record: Record, document: DocumentInfo
    ) -> dict[str, Any]:
        try:
            return self.content(document_type, record, document)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # A date that is not a date, a list that is not a list: refused, never a crash.
            message = f"{self.label} registry sent {self.unusable_record} we cannot use"
            raise RegistryRejected(message) from exc

    @abc.abstractmethod
    def content(self, document_type: DocumentType, record: Record, document: DocumentInfo) -> dict[str, Any]:
        """The issuer's part of the template context (see :meth:`Issuer.build_content`); a malformed
        record may raise KeyError, TypeError, ValueError or AttributeError here."""
