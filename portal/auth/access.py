"""Who may reach a blueprint, declared once per blueprint (a test checks every route has it)."""

from __future__ import annotations

from flask import Blueprint, redirect, request, session, url_for
from flask_login import current_user

PUBLIC = "public"
LOGIN = "login"


def public(bp: Blueprint) -> Blueprint:
    """Anyone may use these pages, logged in or not."""
    bp.access = PUBLIC
    return bp


def login_required(bp: Blueprint) -> Blueprint:
    """Every page of ``bp`` needs a logged-in person; others are sent to log in first."""
    bp.access = LOGIN

    @bp.before_request
    def _require_login():
        if not current_user.is_authenticated:
            session["next"] = safe_next(request.full_path if request.method == "GET" else None)
            return redirect(url_for("auth.login"))
        return None

    return bp


def safe_next(target: str | None) -> str | None:
    """Only local paths may be redirect targets (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target.rstrip("?")
