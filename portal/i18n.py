"""Thai first, English second: the locale comes from the person's choice (a cookie), else Thai.

Pages choose between a Thai and an English value with one helper each, never with an
``if lang == "th" else`` per line: ``pick(th, en)``, ``obj|localized("title")`` (``title_th`` or
``title_en``), and the dates ``value|local_date`` (Thai B.E. date, or English with the B.E. year)
and ``value|local_date_short`` (Thai B.E. date, or English without it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from flask_babel import get_locale, get_translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from portal.extensions import babel
from portal.issuing.thai import english_date, english_date_short, thai_date

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


def _is_thai(context: Context) -> bool:
    """The page's language: its ``lang`` (what ``if lang == "th"`` read), else the request's."""
    return (context.get("lang") or current_language()) == "th"


@pass_context
def pick(context: Context, th: Any, en: Any) -> Any:
    """``th`` on a Thai page, ``en`` on an English one."""
    return th if _is_thai(context) else en


@pass_context
def localized(context: Context, obj: Any, name: str) -> Any:
    """``obj.<name>_th`` or ``obj.<name>_en`` (a mapping's item of that key) for the page's language."""
    key = f"{name}_th" if _is_thai(context) else f"{name}_en"
    return obj[key] if isinstance(obj, Mapping) else getattr(obj, key)


@pass_context
def local_date(context: Context, value: Any) -> str:
    """``31 มกราคม 2563`` on a Thai page, ``31 January 2020 (B.E. 2563)`` on an English one."""
    return thai_date(value) if _is_thai(context) else english_date(value)


@pass_context
def local_date_short(context: Context, value: Any) -> str:
    """``31 มกราคม 2563`` on a Thai page, ``31 January 2020`` on an English one."""
    return thai_date(value) if _is_thai(context) else english_date_short(value)


#: The name under which a render's translations are handed to its templates.
_TRANSLATIONS = "tra_translations"


@pass_context
def _template_gettext(context: Context, string: str, **variables: Any) -> str:
    """``_()`` and ``gettext()`` in templates: the translations found once per render (Flask-Babel's
    own finds the locale and the catalogue again on every string: a page has about 40).

    What Jinja's newstyle gettext does (``jinja2.ext``: the result is Markup under autoescape and
    always a format string, so ``%%`` and the variables are escaped alike), in one call: Jinja's
    ``_`` → ``gettext`` → our function chain was three ``Context.call``s per string, a tenth of
    the verification page's CPU.
    """
    translations = context.get(_TRANSLATIONS) or get_translations()
    text = translations.ugettext(string)
    if context.eval_ctx.autoescape:
        text = Markup(text)
    return text % variables


@pass_context
def _template_ngettext(context: Context, singular: str, plural: str, num: int, **variables: Any) -> str:
    """``ngettext()`` in templates, as Jinja's newstyle one (``num`` is a variable too)."""
    variables.setdefault("num", num)
    translations = context.get(_TRANSLATIONS) or get_translations()
    text = translations.ungettext(singular, plural, num)
    if context.eval_ctx.autoescape:
        text = Markup(text)
    return text % variables


def init_i18n(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["pick"] = pick
    app.jinja_env.filters.update(
        {"localized": localized, "local_date": local_date, "local_date_short": local_date_short}
    )
    # Newstyle (variables as keywords, autoescaped) for pgettext/npgettext from Jinja; gettext,
    # ngettext and ``_`` are ours, newstyle in one call. Templates imported without context
    # (macro files) fall back to Flask-Babel's lookup.
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: get_translations().ugettext(s),
        ngettext=lambda s, p, n: get_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: get_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: get_translations().unpgettext(c, s, p, n),
    )
    app.jinja_env.globals.update(
        {"_": _template_gettext, "gettext": _template_gettext, "ngettext": _template_ngettext}
    )

    @app.context_processor
    def _translations():
        return {_TRANSLATIONS: get_translations()}

    @app.context_processor
    def _lang():
        lang = current_language()
        return {"lang": lang, "other_lang": "en" if lang == "th" else "th"}
