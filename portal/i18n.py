"""Thai first, English second: the locale comes from the person's choice (a cookie), else Thai."""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from flask_babel import get_locale, get_translations
from jinja2 import pass_context

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


#: The name under which a render's translations are handed to its templates.
_TRANSLATIONS = "tra_translations"


@pass_context
def _template_gettext(context, string: str) -> str:
    """``_()`` in templates: the translations found once per render (Flask-Babel's own finds
    the locale and the catalogue again on every string: a page has about 40)."""
    translations = context.get(_TRANSLATIONS) or get_translations()
    return translations.ugettext(string)


@pass_context
def _template_ngettext(context, singular: str, plural: str, n: int) -> str:
    translations = context.get(_TRANSLATIONS) or get_translations()
    return translations.ungettext(singular, plural, n)


def init_i18n(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    # Templates imported without context (macro files) fall back to Flask-Babel's lookup.
    app.jinja_env.install_gettext_callables(
        gettext=_template_gettext,
        ngettext=_template_ngettext,
        newstyle=True,
        pgettext=lambda c, s: get_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: get_translations().unpgettext(c, s, p, n),
    )

    @app.context_processor
    def _translations():
        return {_TRANSLATIONS: get_translations()}

    @app.context_processor
    def _lang():
        lang = current_language()
        return {"lang": lang, "other_lang": "en" if lang == "th" else "th"}
