"""Thin blueprints: parse → one service call → render or redirect."""

from __future__ import annotations

from flask import Flask


def register_views(app: Flask) -> None:
    from portal.views import api, health, main, privacy, requests, verify

    for module in (main, requests, privacy, verify, api, health):
        app.register_blueprint(module.bp)
