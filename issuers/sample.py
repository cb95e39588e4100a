"""What every built-in sample registry shares.

A sample registry stands in for an agency's system: the demo mounts it in the portal's process
under ``/_sample/<id>``; the tests run it as its own server on loopback. The portal only ever
talks to it over HTTP, exactly as it would to the agency. Each registry adds its own routes to
:func:`sample_registry_app`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask, abort, jsonify, request

__all__ = [
    "add_companies_of_person",
    "add_lookup",
    "not_found",
    "person_identifier",
    "read_json",
    "sample_registry_app",
]


def sample_registry_app(import_name: str, *, token: str | None, health: Callable[[], dict]) -> Flask:
    """A Flask app that, when ``token`` is set, answers only requests bearing it (401 otherwise),
    and reports ``health()`` (record counts) at ``GET /health``."""
    app = Flask(import_name)

    @app.before_request
    def _check_token():
        if token and request.headers.get("Authorization") != f"Bearer {token}":
            abort(401)

    @app.get("/health")
    def _health():
        return jsonify(status="ok", **health())

    return app


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def not_found(detail: str):
    """The registries' 404 answer."""
    return jsonify(error="not_found", detail=detail), 404


def person_identifier(entry: dict) -> str:
    """How a listed person is named in URLs: the national ID, else ``<NATIONALITY>:<PASSPORT>``
    (as :attr:`portal.issuing.Requester.identifier`)."""
    return entry.get("pid") or f"{entry.get('nationality')}:{entry.get('passport_number')}"


def add_lookup(
    app: Flask,
    rule: str,
    records: Mapping[str, Any],
    *,
    missing: str,
    answer: Callable[[str, Any], Any] | None = None,
) -> None:
    """``GET rule`` (one ``<placeholder>``): the record filed under it, else :func:`not_found`.

    The answer is ``answer(key, record)``, by default the record with the key added under the
    placeholder's name (``/companies/<juristic_id>`` answers ``{"juristic_id": …, **record}``).
    """
    name = rule[rule.index("<") + 1 : rule.index(">")]

    def lookup(**values: str):
        key = values[name]
        record = records.get(key)
        if record is None:
            return not_found(missing)
        return jsonify(answer(key, record) if answer else {name: key, **record})

    app.add_url_rule(rule, endpoint=f"lookup_{name}_{rule}", view_func=lookup, methods=["GET"])


def add_companies_of_person(
    app: Flask, rule: str, companies: Mapping[str, Any], *, lists: tuple[tuple[str, str], ...], key: str
) -> None:
    """``GET rule`` (``<identifier>``): ``{key: [{juristic_id, name_th, name_en, role}]}``, each
    company whose lists of people (``lists``: record key and the role it gives) name the person
    (a national ID, or ``<NATIONALITY>:<PASSPORT>``, any case); an empty list when none."""

    def companies_of(identifier: str):
        wanted = identifier.strip().upper()
        found = [
            {
                "juristic_id": juristic_id,
                "name_th": record["name_th"],
                "name_en": record["name_en"],
                "role": role,
            }
            for juristic_id, record in companies.items()
            for list_key, role in lists
            if any(person_identifier(entry).upper() == wanted for entry in record.get(list_key, []))
        ]
        return jsonify({key: found})

    app.add_url_rule(rule, endpoint=f"companies_of_{key}", view_func=companies_of, methods=["GET"])
