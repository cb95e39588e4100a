"""The session's signing serializer is kept per key, and follows a change of key."""

from __future__ import annotations

import pytest
from itsdangerous import BadSignature


def test_session_serializer_follows_the_secret_key(make_app):
    app = make_app()
    interface = app.session_interface
    first = interface.get_signing_serializer(app)
    assert interface.get_signing_serializer(app) is first
    cookie = first.dumps({"n": 1})
    old_key = app.secret_key
    app.secret_key = app.config["SECRET_KEY"] = "another-secret-for-this-test"
    second = interface.get_signing_serializer(app)
    with pytest.raises(BadSignature):
        second.loads(cookie)
    app.config["SECRET_KEY_FALLBACKS"] = [old_key]
    assert interface.get_signing_serializer(app).loads(cookie) == {"n": 1}
