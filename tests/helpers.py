"""Small helpers for tests that drive the portal over HTTP like a browser without JavaScript."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

import requests


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._current: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._current = {
                "action": attrs.get("action", ""),
                "method": attrs.get("method", "get"),
                "fields": {},
                "buttons": [],
            }
            self.forms.append(self._current)
        elif self._current is not None and tag == "input" and attrs.get("name"):
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            self._current["fields"][attrs["name"]] = attrs.get("value", "")
        elif self._current is not None and tag == "button" and attrs.get("name"):
            self._current["buttons"].append((attrs["name"], attrs.get("value", "")))

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def forms(html: str) -> list[dict]:
    """The forms on a page: action, method, hidden/checked fields and named buttons."""
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def form_with(html: str, *, action_contains: str) -> dict:
    for form in forms(html):
        if action_contains in form["action"]:
            return form
    raise AssertionError(f"no form posting to *{action_contains}* on the page")


def login_via_dev_idp(session: requests.Session, base_url: str, sub: str) -> requests.Response:
    """Log in through the embedded OP's real endpoints, choosing the sample person ``sub``."""
    page = session.get(f"{base_url}/login", timeout=10)
    assert page.status_code == 200 and "/devidp/authorize" in page.url, page.url
    form = form_with(page.text, action_contains="/devidp/authorize")
    assert ("sub", sub) in form["buttons"], f"{sub} is not offered on the dev OP's login page"
    response = session.post(
        urljoin(page.url, form["action"]), data={**form["fields"], "sub": sub}, timeout=10
    )
    assert response.status_code == 200, response.text[:500]
    return response
