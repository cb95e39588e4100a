"""Issuer plugin contract and registry."""

from portal.issuing.contract import (
    ConsentText,
    DocumentInfo,
    DocumentType,
    Issuer,
    IssuingError,
    Record,
    RecordNotFound,
    RegistryRejected,
    RegistryUnavailable,
    Subject,
)
from portal.issuing.registry import (
    DuplicateIssuer,
    IssuerRegistry,
    discover_issuer_classes,
)

__all__ = [
    "ConsentText",
    "DocumentInfo",
    "DocumentType",
    "DuplicateIssuer",
    "Issuer",
    "IssuerRegistry",
    "IssuingError",
    "Record",
    "RecordNotFound",
    "RegistryRejected",
    "RegistryUnavailable",
    "Subject",
    "discover_issuer_classes",
]
