"""Finds issuer modules through the ``portal.issuers`` entry-point group (built-in ones too),
checks each one's metadata against the contract, and builds the enabled ones with their settings.

Why checks at registration: an issuer with a missing Thai title or a template that is not there
would otherwise fail in front of a person, or only in one language; the portal refuses to start
instead, with a message naming the issuer and each problem.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from portal.issuing.contract import AUDIENCES, ConsentText, DocumentType, Issuer
from portal.issuing.settings import (
    SETTING_KINDS,
    IssuerSettings,
    Setting,
    configured_values,
    merge_specs,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "DuplicateIssuer",
    "InvalidIssuer",
    "IssuerRegistry",
    "discover_issuer_classes",
    "load_issuers",
    "validate_issuer_class",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "portal.issuers"
ISSUER_ID = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
DOCUMENT_TYPE_ID = re.compile(r"^[a-z][a-z0-9_-]{1,63}$")
SETTING_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_THAI = re.compile(r"[\u0e01-\u0e5b]")

#: Per issuer id: its configured values (name -> value or (value, source)).
SettingsSource = Callable[[type[Issuer]], Mapping[str, Any]]


class DuplicateIssuer(RuntimeError):
    """Two installed issuers claim the same identifier; refusing to guess."""


class InvalidIssuer(RuntimeError):
    """An issuer whose metadata does not fulfil the contract; the message lists every problem."""


def discover_issuer_classes(*, skip: Iterable[str] = ()) -> list[type[Issuer]]:
    """The issuer classes installed in this environment.

    The entry point's name must be the issuer's id; entry points named in ``skip`` (disabled
    issuers) are not even imported, so a broken plugin can be switched off.
    """
    skip = set(skip)
    classes = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name, e.value)):
        if ep.name in skip:
            log.info("issuer %s disabled by configuration (not loaded)", ep.name)
            continue
        try:
            cls = ep.load()
        except Exception as exc:  # noqa: BLE001 - any import failure is reported the same way
            raise InvalidIssuer(
                f"issuer entry point {ep.name!r} ({ep.value}) cannot be loaded: {exc}"
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, Issuer)):
            raise InvalidIssuer(f"entry point {ep.name!r} ({ep.value}) is not an Issuer subclass")
        if getattr(cls, "id", None) != ep.name:
            raise InvalidIssuer(
                f"entry point {ep.name!r} ({ep.value}) loads an issuer whose id is "
                f"{getattr(cls, 'id', None)!r}: the entry point must be named after the id"
            )
        classes.append(cls)
    return classes


def _text_problems(owner: str, obj: object, names: Iterable[str]) -> list[str]:
    problems = []
    for name in names:
        value = getattr(obj, name, None)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{owner}: {name} is empty")
        elif name.endswith("_th") and not _THAI.search(value):
            problems.append(f"{owner}: {name} has no Thai letters")
    return problems


def _consent_problems(owner: str, consent: object) -> list[str]:
    if not isinstance(consent, ConsentText):
        return [f"{owner}: consent is not a ConsentText"]
    problems = _text_problems(f"{owner} consent", consent, ("version", "purpose_th", "purpose_en"))
    for lang in ("th", "en"):
        fields = getattr(consent, f"fields_{lang}")
        if (
            not isinstance(fields, tuple)
            or not fields
            or not all(isinstance(f, str) and f.strip() for f in fields)
        ):
            problems.append(f"{owner} consent: fields_{lang} is empty or has an empty entry")
    if isinstance(consent.fields_th, tuple) and len(consent.fields_th) != len(consent.fields_en):
        problems.append(f"{owner} consent: fields_th and fields_en differ in length")
    return problems


def _document_type_problems(cls: type[Issuer], doc_type: object) -> list[str]:
    if not isinstance(doc_type, DocumentType):
        return [f"document type {doc_type!r} is not a DocumentType"]
    owner = f"document type {doc_type.id!r}"
    problems = []
    if not isinstance(doc_type.id, str) or not DOCUMENT_TYPE_ID.match(doc_type.id):
        problems.append(f"{owner}: id must match {DOCUMENT_TYPE_ID.pattern}")
    problems += _text_problems(owner, doc_type, ("title_th", "title_en", "summary_th", "summary_en"))
    if doc_type.audience not in AUDIENCES:
        problems.append(f"{owner}: audience {doc_type.audience!r} is not one of {', '.join(AUDIENCES)}")
    if not isinstance(doc_type.validity_days, int) or isinstance(doc_type.validity_days, bool):
        problems.append(f"{owner}: validity_days is not a whole number")
    elif doc_type.validity_days <= 0:
        problems.append(f"{owner}: validity_days must be more than 0")
    if not isinstance(doc_type.fee_baht, int) or doc_type.fee_baht < 0:
        problems.append(f"{owner}: fee_baht must be a whole number of baht, 0 or more")
    problems += _consent_problems(owner, doc_type.consent)
    template = doc_type.template
    prefix = f"issuers/{getattr(cls, 'id', '?')}/"
    folder = getattr(cls, "template_folder", None)
    if not isinstance(template, str) or not template.startswith(prefix):
        problems.append(f"{owner}: template {template!r} must be named {prefix}…")
    elif isinstance(folder, Path) and not (folder / template).is_file():
        problems.append(f"{owner}: template {template!r} not found in {folder}")
    return problems


def _settings_problems(declared: object) -> list[str]:
    if not isinstance(declared, tuple) or not all(isinstance(s, Setting) for s in declared):
        return ["settings_schema is not a tuple of Setting"]
    problems = []
    names = [s.name for s in declared]
    for setting in declared:
        if not isinstance(setting.name, str) or not SETTING_NAME.match(setting.name):
            problems.append(f"setting {setting.name!r}: name must match {SETTING_NAME.pattern}")
        if setting.kind not in SETTING_KINDS:
            problems.append(
                f"setting {setting.name!r}: unknown kind {setting.kind!r} (one of {', '.join(SETTING_KINDS)})"
            )
        if setting.secret and setting.default is not None:
            problems.append(f"setting {setting.name!r}: a secret cannot have a default")
        if names.count(setting.name) > 1:
            problems.append(f"setting {setting.name!r} is declared more than once")
    return sorted(set(problems), key=problems.index)


def validate_issuer_class(cls: type[Issuer]) -> None:
    """Raise InvalidIssuer listing every way ``cls``'s metadata breaks the contract."""
    issuer_id = getattr(cls, "id", None)
    problems: list[str] = []
    if not isinstance(issuer_id, str) or not ISSUER_ID.match(issuer_id):
        problems.append(f"id {issuer_id!r} must match {ISSUER_ID.pattern}")
    if inspect.isabstract(cls):
        problems.append(f"methods not implemented: {', '.join(sorted(cls.__abstractmethods__))}")
    problems += _text_problems("issuer", cls, ("name_th", "name_en"))
    folder = getattr(cls, "template_folder", None)
    if not isinstance(folder, Path) or not folder.is_dir():
        problems.append(f"template_folder {folder!r} is not a folder")
    doc_types = getattr(cls, "document_types", None)
    if not isinstance(doc_types, tuple) or not doc_types:
        problems.append("document_types is empty (a tuple of DocumentType is needed)")
        doc_types = ()
    ids = [getattr(t, "id", None) for t in doc_types]
    for type_id in sorted({i for i in ids if ids.count(i) > 1}, key=str):
        problems.append(f"document type id {type_id!r} is used more than once")
    for doc_type in doc_types:
        problems += _document_type_problems(cls, doc_type)
    for type_id in getattr(cls, "number_prefixes", None) or {}:
        if type_id not in ids:
            problems.append(f"number_prefixes names {type_id!r}, which is not one of its document types")
    problems += _settings_problems(getattr(cls, "settings_schema", ()))
    if problems:
        name = f"{cls.__module__}.{cls.__qualname__}"
        raise InvalidIssuer(
            f"issuer {issuer_id!r} ({name}) does not fulfil the contract:\n  - " + "\n  - ".join(problems)
        )


def has_sample_registry(cls: type[Issuer]) -> bool:
    """Whether ``cls`` ships a sample registry (overrides :meth:`Issuer.sample_registry`)."""
    return cls.sample_registry.__func__ is not Issuer.sample_registry.__func__  # type: ignore[attr-defined]


class IssuerRegistry:
    """The enabled issuers of one application, each checked and instantiated once with its settings."""

    def __init__(
        self,
        classes: Iterable[type[Issuer]],
        *,
        settings: Mapping[str, Mapping[str, Any]] | SettingsSource = {},  # noqa: B006 - never mutated
        disabled: Iterable[str] = (),
    ) -> None:
        """``settings``: per issuer id (or a function of the class), the configured values, checked
        here against the class's declared settings. Issuers in ``disabled``, or whose ``enabled``
        setting is false, are not built (and not validated: switching off a broken one must work)."""
        classes = list(classes)
        self.disabled: set[str] = set(disabled)
        self._issuers: dict[str, Issuer] = {}
        seen: set[str] = set()
        for cls in classes:
            issuer_id = getattr(cls, "id", None)
            if issuer_id in seen:
                raise DuplicateIssuer(f"more than one issuer is registered as {issuer_id!r}")
            seen.add(issuer_id)
        for cls in classes:
            if cls.id in self.disabled:
                log.info("issuer %s disabled by configuration", cls.id)
                continue
            validate_issuer_class(cls)
            configured = settings(cls) if callable(settings) else settings.get(cls.id, {})
            checked = IssuerSettings.build(cls.id, merge_specs(cls.settings_schema), configured)
            if not checked["enabled"]:
                log.info("issuer %s disabled by its enabled setting", cls.id)
                self.disabled.add(cls.id)
                continue
            self._issuers[cls.id] = cls(checked)

    def __iter__(self) -> Iterator[Issuer]:
        return iter(sorted(self._issuers.values(), key=lambda i: i.id))

    def __len__(self) -> int:
        return len(self._issuers)

    def get(self, issuer_id: str) -> Issuer | None:
        return self._issuers.get(issuer_id)

    def find(self, issuer_id: str, type_id: str) -> tuple[Issuer, DocumentType] | None:
        """The issuer and document type, or None when either does not exist here (or is disabled)."""
        issuer = self.get(issuer_id)
        if issuer is None:
            return None
        doc_type = issuer.document_type(type_id)
        return (issuer, doc_type) if doc_type else None


def _disabled_by_configuration(config: Mapping[str, Any]) -> set[str]:
    """``DISABLED_ISSUERS`` plus the issuers whose ``enabled`` setting is false.

    Read before any issuer is imported, from the same places as every setting."""
    disabled = {s.strip() for s in config.get("DISABLED_ISSUERS") or () if s.strip()}
    enabled_only = (Setting("enabled", "bool", True),)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in disabled:
            continue
        raw = configured_values(ep.name, ("enabled",), config, strict=False)
        if not IssuerSettings.build(ep.name, enabled_only, raw)["enabled"]:
            disabled.add(ep.name)
    return disabled


def load_issuers(config: Mapping[str, Any]) -> IssuerRegistry:
    """The application's registry, from the installed entry points and the configuration.

    Fails (InvalidIssuer, DuplicateIssuer, IssuerSettingError) with a message naming the issuer.
    Each issuer's settings are parsed here, once; everything else (the registry client, the
    signature level) reads them from ``issuer.settings``.
    """
    disabled = _disabled_by_configuration(config)
    classes = discover_issuer_classes(skip=disabled)
    ids = [cls.id for cls in classes]

    def configured(cls: type[Issuer]) -> dict[str, tuple[Any, str]]:
        names = [s.name for s in merge_specs(cls.settings_schema)]
        return configured_values(
            cls.id, names, config, sample_registry=has_sample_registry(cls), other_ids=ids
        )

    return IssuerRegistry(classes, settings=configured, disabled=disabled)
