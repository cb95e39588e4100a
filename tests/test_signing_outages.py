"""Signature levels in the issuing pipeline: a level that needs a time-stamping authority refuses to
start without one, and a TSA that does not answer is a wait-and-retry, like an agency outage."""

from __future__ import annotations

import socket

import pytest

from portal import create_app
from portal.models import RequestStatus
from portal.services.catalogue import find_document_type
from portal.services.issuance_requests import create_request
from portal.services.issuance_run import IssuanceDeferred, run_issuance
from tests.issuer_settings import change_issuer_settings


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/tsa"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"SIGNATURE_LEVEL": "B-LTA", "TSA_URL": None}, "set TSA_URL"),
        ({"SIGNATURE_LEVEL": "B-B", "SIGNATURE_LEVEL_DLT": "B-T", "TSA_URL": None}, "SIGNATURE_LEVEL_DLT"),
        ({"SIGNATURE_LEVEL": "B-Q"}, "unknown signature level"),
    ],
)
def test_a_level_that_cannot_work_stops_the_portal_at_start(settings, message, tmp_path, pki_dir):
    with pytest.raises(RuntimeError, match=message):
        create_app(
            "testing",
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}",
                "DEV_PKI_DIR": str(pki_dir),
                **settings,
            },
        )


def test_a_tsa_that_does_not_answer_makes_the_request_wait_then_fail_with_try_again(
    app, app_ctx, db_session, create_user, monkeypatch, client, login
):
    change_issuer_settings(monkeypatch, app, "dlt", signature_level="B-T")
    monkeypatch.setitem(app.config, "TSA_URL", _closed_port_url())
    monkeypatch.setitem(app.config, "TSA_TIMEOUT_SECONDS", 1)
    user = login()
    issuer, doc_type = find_document_type("dlt", "driving-licence")
    request = create_request(user=user, subject_pid=user.pid, issuer=issuer, doc_type=doc_type, channel="web")

    # A job with retries left: the request waits, and says it is the signing service.
    with pytest.raises(IssuanceDeferred):
        run_issuance(request.id, retry_in=30)
    db_session.refresh(request)
    assert request.status == RequestStatus.WAITING and request.failure_code == "tsa_unavailable"
    assert "http" not in request.failure_reason  # no service address in what is kept
    waiting = client.get(f"/requests/{request.id}?lang=en").get_data(as_text=True)
    assert "service that signs and time-stamps the document did not answer" in waiting

    # The last try: failed, with Try again; nothing issued.
    run_issuance(request.id)
    db_session.refresh(request)
    assert request.status == RequestStatus.FAILED and request.can_retry and request.certificate is None
    failed = client.get(f"/requests/{request.id}?lang=en").get_data(as_text=True)
    assert "could not be signed" in failed and "Try again" in failed
