"""Thai first, English second: the locale comes from the person's choice (a cookie), else Thai."""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from flask_babel import get_locale

from portal.extensions import babel

LANG_COOKIE = "tra_lang"


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if request.path.startswith("/api/"):
        # API clients say what they want in Accept-Language; without it, English.
        return request.accept_languages.best_match(languages, default="en")
    chosen = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
    if chosen in languages:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def current_language() -> str:
    """ "th" or "en" for the current request."""
    if "lang" not in g:
        g.lang = str(get_locale() or "th").split("_")[0]
    return g.lang


def init_i18n(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)

    @app.context_processor
    def _lang():
        lang = current_language()
        return {"lang": lang, "other_lang": "en" if lang == "th" else "th"}
