"""Every redirect the portal builds from a ``next`` value stays on the site (issue 11, part 1).

``safe_next`` turns a ``next`` value into a same-site path by construction. These tests feed a
corpus of hostile encodings to the function and to every place that takes ``next`` from a
request (``/lang/<code>?next=``, ``/login?next=``, ``POST /acting-for``), and check each
``Location`` the way a browser would read it: relative to the portal's address, its host must
be the portal's.
"""

from __future__ import annotations

from urllib.parse import quote, urljoin, urlsplit

import pytest

from portal.auth.access import MAX_NEXT_LENGTH, safe_next

SITE = "http://tra.example"

#: Values a browser or Werkzeug would turn into another site's address, or that break a header.
HOSTILE = [
    "//evil.example",
    "///evil.example",
    "////evil.example/x",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "/\r/evil.example",
    "/ /evil.example",
    "/\x00/evil.example",
    "/\x0b/evil.example",
    "/\x0c/evil.example",
    "/\x7f/evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "\\\\evil.example",
    "http://evil.example",
    "https://evil.example/",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "evil.example/path",
    ":/evil.example",
    "http:/evil.example",
    "http:evil.example",
    "//evil.example@tra.example",
    "/\u3000/evil.example",  # ideographic space
    "/\uff0f/evil.example",  # fullwidth solidus
    "/\u2215/evil.example",  # division slash
    "/\u00a0/evil.example",
    "/\u200b/evil.example",  # zero-width space
    "/%0a/\r\nSet-Cookie: x=1",
    "/ok\r\nLocation: http://evil.example",
    " /ok",
    "/ok ",
    "\t//evil.example",
    "",
    "/" * (MAX_NEXT_LENGTH + 1),
    "/" + "a" * MAX_NEXT_LENGTH,
]

#: Values that are odd but same-site: they may pass, and must then stay on the site.
ODD_BUT_LOCAL = [
    "/%2F/evil.example",
    "/%5Cevil.example",
    "/%09/evil.example",
    "/..//evil.example",
    "/.%2e//evil.example",
    "/./evil.example",
    "/?next=//evil.example",
    "/#//evil.example",
    "/my/documents?x=http://evil.example",
    "/@evil.example",
    "/:evil.example",
]

#: Ordinary pages: kept as they are.
LOCAL = [
    "/",
    "/my/documents",
    "/documents/dlt/driving-licence?lang=en",
    "/v/ABCD2345#result",
    "/me/reads?tab=2",
]


def assert_same_site(location: str | None) -> None:
    """``location`` (a Location header, or None for "no redirect target") stays on ``SITE``."""
    if location is None:
        return
    assert all("!" <= ch <= "~" for ch in location), repr(location)
    assert "\\" not in location
    resolved = urlsplit(urljoin(SITE + "/here", location))
    assert (resolved.scheme, resolved.netloc) == ("http", "tra.example"), repr(location)
    path = urlsplit(location).path
    assert location.startswith("/") and not location.startswith("//") and path.startswith("/"), repr(location)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_refused(value):
    assert safe_next(value) is None


@pytest.mark.parametrize("value", ODD_BUT_LOCAL)
def test_odd_values_stay_on_the_site(value):
    assert_same_site(safe_next(value))


@pytest.mark.parametrize("value", LOCAL)
def test_ordinary_pages_are_kept(value):
    assert safe_next(value) == value


def test_an_empty_query_is_dropped():
    assert safe_next("/my/documents?") == "/my/documents"


def test_the_checker_itself_catches_an_off_site_location():
    with pytest.raises(AssertionError):
        assert_same_site("//evil.example/")
    with pytest.raises(AssertionError):
        assert_same_site("/\t/evil.example")


def _as_query(value: str) -> str:
    return quote(value, safe="")


@pytest.mark.parametrize("value", HOSTILE + ODD_BUT_LOCAL)
def test_language_switch_never_leaves_the_site(client, value):
    response = client.get(f"/lang/en?next={_as_query(value)}")
    assert response.status_code in (302, 303)
    assert_same_site(response.headers["Location"])


@pytest.mark.parametrize("value", HOSTILE + ODD_BUT_LOCAL)
def test_login_keeps_only_a_same_site_next(client, value):
    response = client.get(f"/login?next={_as_query(value)}")
    assert response.status_code < 500
    with client.session_transaction() as session:
        assert_same_site(session.get("next"))


@pytest.mark.parametrize("value", HOSTILE + ODD_BUT_LOCAL)
def test_switching_who_i_act_for_never_leaves_the_site(client, login, value):
    login()
    response = client.post("/acting-for", data={"acting_for": "myself", "next": value})
    assert response.status_code in (302, 303)
    assert_same_site(response.headers["Location"])


def test_a_page_with_thai_in_its_address_comes_back_after_login(client):
    response = client.get("/my/documents?q=%E0%B8%97%E0%B8%94")
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert session.get("next") == "/my/documents?q=%E0%B8%97%E0%B8%94"
