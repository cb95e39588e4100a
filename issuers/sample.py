"""What every built-in sample registry shares.

A sample registry stands in for an agency's system: the demo mounts it in the portal's process
under ``/_sample/<id>``; the tests run it as its own server on loopback. The portal only ever
talks to it over HTTP, exactly as it would to the agency. Each registry adds its own routes to
:func:`sample_registry_app`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, abort, jsonify, request

__all__ = ["not_found", "person_identifier", "read_json", "sample_registry_app"]


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
