"""Without REDIS_URL (the shared ``app`` fixture) issuing runs in the web request: no retries,
but "Try again" works the same way."""

from __future__ import annotations

from portal.models import AuditEvent, DocumentRequest
from portal.services import runtime


def test_try_again_inline_reissues_the_same_request(app, client, login, db_session, monkeypatch):
    assert not app.config.get("REDIS_URL")
    user = login()
    with app.app_context():
        dlt = runtime.issuers().get("dlt")
    good = dlt.settings["registry_url"]
    # Nothing listens there. Settings are read-only: the issuer gets a changed copy.
    monkeypatch.setattr(dlt, "settings", dlt.settings.replace(registry_url="http://127.0.0.1:9"))

    response = client.post("/documents/dlt/driving-licence/request", data={"consent": "yes"})
    assert response.status_code == 302
    status_url = response.headers["Location"]
    request_id = status_url.rsplit("/", 1)[1]
    request = db_session.get(DocumentRequest, request_id)
    assert request.status == "failed" and request.failure_code == "registry_unavailable"
    assert request.attempts == 1  # inline: no retries
    assert f"/requests/{request_id}/retry" in client.get(status_url).text

    monkeypatch.setattr(dlt, "settings", dlt.settings.replace(registry_url=good))
    again = client.post(f"/requests/{request_id}/retry")
    assert again.status_code == 302 and again.headers["Location"].endswith(f"/requests/{request_id}")
    db_session.expire_all()
    request = db_session.get(DocumentRequest, request_id)
    assert request.status == "ready" and request.certificate is not None
    assert request.reference and request.user_id == user.id
    actions = [e.action for e in db_session.query(AuditEvent).filter(AuditEvent.target == request_id)]
    assert "retry_request" in actions

    # Once ready, "Try again" changes nothing.
    assert client.post(f"/requests/{request_id}/retry").status_code == 302
    assert db_session.get(DocumentRequest, request_id).status == "ready"
