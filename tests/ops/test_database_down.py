"""PostgreSQL unreachable: /readyz says so, pages say "temporarily unavailable", no stack trace;
and everything works again when the database is back. The database is cut away for real, by
closing a TCP proxy in front of the shared server (which itself is never touched)."""

from __future__ import annotations

import html
import re

import pytest

from tests.ops.conftest import TcpProxy, closed_port

UNKNOWN_CODE = "ZZZZZZZZZZZZZZZZZZZZ"


@pytest.fixture
def proxy():
    proxy = TcpProxy(("127.0.0.1", 5432)).start()
    yield proxy
    proxy.stop()


def assert_unavailable_page(response) -> None:
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "temporarily unavailable" in page
    assert "Traceback" not in page and "OperationalError" not in page and "psycopg" not in page
    assert response.headers["Retry-After"] == "30"


def assert_working(client) -> None:
    assert client.get(f"/v/{UNKNOWN_CODE}").status_code == 404  # asked the database
    assert client.get("/readyz").status_code == 200


def test_database_cut_mid_run_then_back(make_app, ops_database, proxy):
    url = ops_database.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    assert url != ops_database
    client = make_app(SQLALCHEMY_DATABASE_URI=url).test_client()
    client.set_cookie("tra_lang", "en")  # English pages
    assert_working(client)

    proxy.stop()
    assert_unavailable_page(client.get(f"/v/{UNKNOWN_CODE}"))
    problem = client.get(f"/api/v1/verify/{UNKNOWN_CODE}")
    assert problem.status_code == 503
    assert problem.mimetype == "application/problem+json"
    assert problem.get_json()["type"] == "unavailable"
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["failing"] == ["database"]
    assert client.get("/healthz").status_code == 200
    # A logged-in person: loading them needs the database, and so does the page's own layout.
    with client.session_transaction() as session:
        session["_user_id"] = "someone"
        session["_fresh"] = True
    assert_unavailable_page(client.get("/my/documents"))

    proxy.start()
    with client.session_transaction() as session:
        session.clear()
    assert_working(client)


def test_database_unreachable_from_the_start(make_app):
    client = make_app(
        SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/x"
    ).test_client()
    client.set_cookie("tra_lang", "en")
    assert_unavailable_page(client.get(f"/v/{UNKNOWN_CODE}"))
    assert client.get("/readyz").get_json()["failing"] == ["database"]
    thai = client.get(f"/v/{UNKNOWN_CODE}?lang=th")
    assert thai.status_code == 503
    assert '<html lang="th">' in thai.get_data(as_text=True)
    # The person can switch to English from there, and the switch itself needs no database.
    switch = re.search(r'href="(/lang/en\?next=[^"]+)"', thai.get_data(as_text=True))
    assert switch, "no link to the English page"
    followed = client.get(html.unescape(switch.group(1)))
    assert followed.status_code == 302
    assert followed.headers["Location"].startswith(f"/v/{UNKNOWN_CODE}")
