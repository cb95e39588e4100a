"""The one way pages choose between Thai and English (portal/i18n.py): pick, |localized and the
local dates, read from the page's ``lang`` as ``if lang == "th" else`` did."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

DOC = SimpleNamespace(title_th="หนังสือรับรอง", title_en="Certificate")
FACTS = {"holder_th": "นาย ส.", "holder_en": "Mr S."}
DAY = date(2020, 1, 31)

TEMPLATE = (
    "{{ pick('ไทย', 'English') }}|{{ doc|localized('title') }}|{{ facts|localized('holder') }}"
    "|{{ day|local_date }}|{{ day|local_date_short }}"
)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("th", "ไทย|หนังสือรับรอง|นาย ส.|31 มกราคม 2563|31 มกราคม 2563"),
        ("en", "English|Certificate|Mr S.|31 January 2020 (B.E. 2563)|31 January 2020"),
    ],
)
def test_each_helper_follows_the_pages_language(app, lang, expected):
    with app.test_request_context("/"):
        text = app.jinja_env.from_string(TEMPLATE).render(lang=lang, doc=DOC, facts=FACTS, day=DAY)
    assert text == expected


def test_without_lang_in_the_context_the_requests_language_decides(app):
    with app.test_request_context("/?lang=en"):
        assert app.jinja_env.from_string("{{ pick('ไทย', 'English') }}").render() == "English"
    with app.test_request_context("/"):
        assert app.jinja_env.from_string("{{ pick('ไทย', 'English') }}").render() == "ไทย"


def test_a_missing_field_is_an_error_not_a_blank(app):
    with app.test_request_context("/"), pytest.raises(AttributeError):
        app.jinja_env.from_string("{{ doc|localized('summary') }}").render(lang="th", doc=DOC)
