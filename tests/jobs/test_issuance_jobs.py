"""Issuance as an RQ job, against real Redis, real worker processes and PostgreSQL."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time

import pytest
import requests
from redis import Redis
from rq import Queue
from rq.exceptions import StopRequested
from rq.job import Job
from sqlalchemy import func, select

from portal.extensions import db
from portal.jobs.worker import build_worker
from portal.logs import bind_request_id
from portal.models import AuditEvent, Certificate, DocumentRequest, RequestStatus, User
from portal.services.catalogue import find_document_type
from portal.services.issuance_jobs import enqueue_issuance, issuance_job_id, requeue_stalled
from portal.services.issuance_requests import create_request, request_document
from portal.services.issuance_run import run_issuance
from tests.helpers import form_with, login_via_dev_idp
from tests.jobs.conftest import REDIS_URL, kill_tree, wait_for
from tests.loopback import LoopbackServer, free_port

SOMCHAI = "1101700123456"  # has licences in the sample registry
WICHAI = "5709900124574"  # has none


def _user(pid: str) -> User:
    user = db.session.scalar(select(User).where(User.pid == pid))
    if user is None:
        user = User(pid=pid, name_th="ทดสอบ", name_en="Test Person")
        db.session.add(user)
        db.session.commit()
    return user


def new_request(app, *, pid: str = SOMCHAI, enqueue: bool = True, log_request_id: str | None = None) -> str:
    """A person's request, saved; queued for a worker unless ``enqueue`` is False."""
    with app.app_context(), bind_request_id(log_request_id):
        user = _user(pid)
        if enqueue:
            return request_document(
                user=user, issuer_id="dlt", type_id="driving-licence", consent_given=True
            ).id
        issuer, doc_type = find_document_type("dlt", "driving-licence")
        return create_request(user=user, subject_pid=pid, issuer=issuer, doc_type=doc_type, channel="web").id


def state(app, request_id: str) -> dict:
    with app.app_context():
        request = db.session.get(DocumentRequest, request_id)
        certificates = db.session.scalar(
            select(func.count()).select_from(Certificate).where(Certificate.request_id == request_id)
        )
        result = {
            "status": request.status,
            "failure_code": request.failure_code,
            "attempts": request.attempts,
            "next_attempt_at": request.next_attempt_at,
            "certificates": certificates,
            "can_retry": request.can_retry,
        }
        db.session.remove()
        return result


def audit_actions(app, request_id: str) -> list[str]:
    """Audit events about the request or its certificate."""
    with app.app_context():
        certificate_ids = select(Certificate.id).where(Certificate.request_id == request_id)
        actions = list(
            db.session.scalars(
                select(AuditEvent.action)
                .where((AuditEvent.target == request_id) | AuditEvent.target.in_(certificate_ids))
                .order_by(AuditEvent.occurred_at)
            )
        )
        db.session.remove()
        return actions


def wait_status(app, request_id: str, *statuses: str, timeout: float = 40) -> dict:
    return wait_for(
        lambda: (s := state(app, request_id))["status"] in statuses and s,
        timeout=timeout,
        what=f"request {request_id} to be {'/'.join(statuses)}",
    )


def queue(env) -> Queue:
    return Queue(f"{env.prefix}tra-issuance", connection=Redis.from_url(REDIS_URL))


def test_a_worker_process_issues_the_queued_request_with_the_enqueuers_log_id(
    jobs_env, jobs_app, workers, registry
):
    worker = workers.start()
    workers.wait_ready(worker)
    request_id = new_request(jobs_app, log_request_id="req-from-the-web-1")

    with jobs_app.app_context():
        job = Job.fetch(issuance_job_id(request_id), connection=Redis.from_url(REDIS_URL))
    assert job.args == (request_id, "req-from-the-web-1")
    assert job.retries_left == 3 and job.timeout == 60

    done = wait_status(jobs_app, request_id, "ready", "failed")
    assert done["status"] == "ready", done
    assert done["certificates"] == 1
    assert done["attempts"] == 1
    assert wait_for(lambda: job.get_status(refresh=True) == "finished", timeout=10)
    assert job.return_value() == "ready"


def test_enqueueing_twice_makes_one_job_and_one_certificate(jobs_env, jobs_app, workers, registry):
    request_id = new_request(jobs_app)  # queued; no worker runs yet
    with jobs_app.app_context():
        assert enqueue_issuance(request_id) is False  # the live job stands
        assert enqueue_issuance(request_id, replace_finished=True) is False  # even when asked to replace
    job_id = issuance_job_id_for(jobs_app, request_id)
    assert queue(jobs_env).get_job_ids().count(job_id) == 1

    burst = workers.start(burst=True, scheduler=False)
    assert burst.wait(timeout=60) == 0
    done = state(jobs_app, request_id)
    assert done["status"] == "ready" and done["certificates"] == 1

    # Running the finished request's job once more changes nothing.
    with jobs_app.app_context():
        assert enqueue_issuance(request_id, replace_finished=True) is True
    burst = workers.start(burst=True, scheduler=False)
    assert burst.wait(timeout=60) == 0
    again = state(jobs_app, request_id)
    assert again["status"] == "ready" and again["certificates"] == 1
    assert audit_actions(jobs_app, request_id).count("issue_certificate") == 1


def issuance_job_id_for(app, request_id: str) -> str:
    with app.app_context():
        return issuance_job_id(request_id)


def test_two_runs_at_once_issue_one_certificate(jobs_app, registry):
    request_id = new_request(jobs_app, enqueue=False)
    registry.delay = 1.0  # both runs are inside the registry call together
    errors: list[BaseException] = []

    def run():
        try:
            with jobs_app.app_context():
                run_issuance(request_id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    done = state(jobs_app, request_id)
    assert done["status"] == "ready", done
    assert done["certificates"] == 1
    assert done["attempts"] == 2
    assert audit_actions(jobs_app, request_id).count("issue_certificate") == 1


def test_a_worker_killed_mid_job_is_replaced_by_another_that_finishes_it(
    jobs_env, jobs_app, workers, registry
):
    # The job sits in the registry call until the worker is killed there, however long the
    # second worker takes to start on a loaded machine: one long read, no retries in the call.
    first = workers.start(scheduler=False, ISSUER_DLT_TIMEOUT="90", ISSUER_DLT_RETRIES="0")
    workers.wait_ready(first)
    registry.delay = 60.0
    request_id = new_request(jobs_app)
    wait_for(lambda: registry.calls and state(jobs_app, request_id)["status"] == "fetching", what="job start")
    job = Job.fetch(issuance_job_id_for(jobs_app, request_id), connection=Redis.from_url(REDIS_URL))
    assert job.get_status() == "started"

    second = workers.start()  # the survivor, with the scheduler that runs the retry
    workers.wait_ready(second)
    killed = kill_tree(first.pid)
    assert first.pid in killed  # the worker, in the middle of the job (it runs jobs in-process)
    first.wait(timeout=10)
    registry.delay = 0

    done = wait_status(jobs_app, request_id, "ready", "failed", timeout=40)
    assert done["status"] == "ready", done
    assert done["certificates"] == 1
    assert done["attempts"] == 2  # the killed try, then the survivor's


def test_registry_down_for_a_while_the_request_waits_retries_and_is_issued(jobs_app, workers, registry):
    worker = workers.start()
    workers.wait_ready(worker)
    registry.stop()
    request_id = new_request(jobs_app)

    waiting = wait_status(jobs_app, request_id, "waiting", "failed", "ready")
    assert waiting["status"] == "waiting", waiting
    assert waiting["failure_code"] == "registry_unavailable" and waiting["next_attempt_at"] is not None
    registry.start()

    done = wait_status(jobs_app, request_id, "ready", "failed")
    assert done["status"] == "ready", done
    assert done["certificates"] == 1 and done["failure_code"] is None
    assert done["attempts"] >= 2
    assert "issuance_deferred" in audit_actions(jobs_app, request_id)


def test_registry_down_past_the_last_retry_fails_then_try_again_issues_it(
    jobs_env, jobs_app, workers, registry
):
    worker = workers.start()
    workers.wait_ready(worker)
    browser = requests.Session()
    login_via_dev_idp(browser, jobs_env.base_url, "dev-somying")
    base = jobs_env.base_url
    consent = browser.get(f"{base}/documents/dlt/driving-licence/request", timeout=10)
    form = form_with(consent.text, action_contains="/documents/dlt/driving-licence/request")
    registry.stop()
    page = browser.post(
        f"{base}/documents/dlt/driving-licence/request", data={**form["fields"], "consent": "yes"}, timeout=30
    )
    assert page.status_code == 200
    request_id = re.search(r"/requests/([0-9a-f]{32})$", page.url).group(1)

    failed = wait_status(jobs_app, request_id, "failed", "ready")
    assert failed["status"] == "failed" and failed["failure_code"] == "registry_unavailable"
    assert failed["attempts"] == 4 and failed["can_retry"]  # the first try and three retries
    assert failed["certificates"] == 0

    status_page = browser.get(page.url, timeout=10)
    retry_form = form_with(status_page.text, action_contains=f"/requests/{request_id}/retry")
    assert retry_form["fields"].get("csrf_token")
    # Without the CSRF token the button does nothing.
    refused = browser.post(base + retry_form["action"], data={}, timeout=10)
    assert refused.status_code == 400
    assert state(jobs_app, request_id)["status"] == "failed"

    registry.start()
    after = browser.post(base + retry_form["action"], data=retry_form["fields"], timeout=10)
    assert after.status_code == 200 and after.url == page.url
    done = wait_status(jobs_app, request_id, "ready", "failed")
    assert done["status"] == "ready", done
    assert done["certificates"] == 1
    assert "retry_request" in audit_actions(jobs_app, request_id)
    assert browser.get(f"{page.url}/status.json", timeout=10).json()["status"] == "ready"


def test_try_again_is_for_the_owner_and_only_when_it_can_help(jobs_env, jobs_app, workers, registry):
    worker = workers.start()
    workers.wait_ready(worker)
    base = jobs_env.base_url
    wichai = requests.Session()
    login_via_dev_idp(wichai, base, "dev-wichai")
    consent = wichai.get(f"{base}/documents/dlt/driving-licence/request", timeout=10)
    form = form_with(consent.text, action_contains="/documents/dlt/driving-licence/request")
    page = wichai.post(
        f"{base}/documents/dlt/driving-licence/request", data={**form["fields"], "consent": "yes"}, timeout=30
    )
    request_id = re.search(r"/requests/([0-9a-f]{32})$", page.url).group(1)
    failed = wait_status(jobs_app, request_id, "failed", "ready")
    assert failed["failure_code"] == "no_record" and not failed["can_retry"]
    assert failed["attempts"] == 1  # a plain answer: no retries

    status_page = wichai.get(page.url, timeout=10)
    assert f"/requests/{request_id}/retry" not in status_page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', status_page.text).group(1)
    refused = wichai.post(f"{base}/requests/{request_id}/retry", data={"csrf_token": csrf}, timeout=10)
    assert refused.status_code == 400

    somchai = requests.Session()
    login_via_dev_idp(somchai, base, "dev-somchai")
    mine = somchai.get(f"{base}/my/documents", timeout=10)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', mine.text)
    data = {"csrf_token": csrf.group(1)} if csrf else {}
    other = somchai.post(f"{base}/requests/{request_id}/retry", data=data, timeout=10)
    assert other.status_code in (400, 403)  # someone else's request (or no token of theirs)
    assert state(jobs_app, request_id)["status"] == "failed"


def test_safety_net_queues_a_saved_request_that_has_no_job(jobs_env, jobs_app, workers, registry):
    # As if Redis had lost the job (or enqueueing failed after the request was saved).
    request_id = new_request(jobs_app, enqueue=False)
    with jobs_app.app_context():
        assert request_id in requeue_stalled(older_than_seconds=0)
        assert request_id not in requeue_stalled(older_than_seconds=0)  # its job is queued now
        assert request_id not in requeue_stalled()  # not stale yet by the configured age
    burst = workers.start(burst=True, scheduler=False)
    assert burst.wait(timeout=60) == 0
    assert state(jobs_app, request_id)["status"] == "ready"

    # And the workers' maintenance does it by itself.
    orphan = new_request(jobs_app, enqueue=False)
    worker = workers.start(REQUEUE_AFTER_SECONDS="0")
    workers.wait_ready(worker)
    done = wait_status(jobs_app, orphan, "ready", "failed")
    assert done["status"] == "ready" and done["certificates"] == 1


def test_redis_unreachable_pauses_requests_but_verification_and_download_work(jobs_env, jobs_app, registry):
    port = free_port()
    closed = free_port()  # nothing listens there
    from portal import create_app

    paused = create_app(
        "testing",
        {
            **{k: jobs_app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "BLOB_DIR", "DEV_PKI_DIR")},
            "DLT_REGISTRY_URL": registry.url,
            "SAMPLE_REGISTRIES_MOUNTED": False,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "REDIS_URL": f"redis://127.0.0.1:{closed}/0",
            "RQ_QUEUE_PREFIX": jobs_env.prefix,
        },
    )
    server = LoopbackServer(paused, port)
    try:
        base = f"http://127.0.0.1:{port}"
        browser = requests.Session()
        login_via_dev_idp(browser, base, "dev-arunee")
        # A document issued earlier (in-process: no queue involved).
        with paused.app_context():
            user = db.session.scalar(select(User).where(User.pid == "1101400555555"))
            issuer, doc_type = find_document_type("dlt", "driving-licence")
            earlier = create_request(
                user=user, subject_pid=user.pid, issuer=issuer, doc_type=doc_type, channel="web"
            )
            run_issuance(earlier.id)
            certificate = db.session.get(DocumentRequest, earlier.id).certificate
            code, certificate_id = certificate.verification_code, certificate.id
            count_before = db.session.scalar(select(func.count()).select_from(DocumentRequest))
            db.session.remove()

        consent = browser.get(f"{base}/documents/dlt/driving-licence/request", timeout=10)
        form = form_with(consent.text, action_contains="/documents/dlt/driving-licence/request")
        answer = browser.post(
            f"{base}/documents/dlt/driving-licence/request",
            data={**form["fields"], "consent": "yes"},
            timeout=30,
        )
        assert answer.status_code == 503
        assert "Issuing documents is paused" in answer.text or "หยุดออกเอกสารชั่วคราว" in answer.text
        assert "Traceback" not in answer.text
        with paused.app_context():
            assert db.session.scalar(select(func.count()).select_from(DocumentRequest)) == count_before
            db.session.remove()

        problem = browser.post(
            f"{base}/documents/dlt/driving-licence/request",
            data={**form["fields"], "consent": "yes"},
            headers={"Accept": "application/json"},
            timeout=30,
        )
        assert problem.status_code == 503 and problem.json()["type"] == "issuing-paused"

        assert browser.get(f"{base}/v/{code}", timeout=10).status_code == 200
        pdf = browser.get(f"{base}/my/documents/{certificate_id}.pdf", timeout=10)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    finally:
        server.close()
        with paused.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("status", [s.value for s in RequestStatus])
def test_every_status_has_a_label_on_the_status_page(status):
    from pathlib import Path

    template = (Path(__file__).resolve().parents[2] / "templates/requests/status.html").read_text()
    assert f'"{status}":' in template


def test_every_queue_has_a_worker(jobs_app):
    from portal.jobs.queues import ALL_QUEUES, queue_name
    from portal.jobs.worker import build_worker

    worker = build_worker(jobs_app)
    with jobs_app.app_context():
        assert sorted(worker.queue_names()) == sorted(queue_name(q) for q in ALL_QUEUES)
    assert worker.get_heartbeat_ttl(Job.create(print, connection=worker.connection, timeout=60)) == 1 + 2


def test_status_page_shows_waiting_and_failed_with_try_again_without_javascript(jobs_env, jobs_app):
    from datetime import timedelta

    from portal import clock

    base = jobs_env.base_url
    browser = requests.Session()
    login_via_dev_idp(browser, base, "dev-somchai")
    request_id = new_request(jobs_app, enqueue=False)

    def set_state(**values):
        with jobs_app.app_context():
            db.session.execute(
                DocumentRequest.__table__.update().where(DocumentRequest.id == request_id).values(**values)
            )
            db.session.commit()

    set_state(
        status="waiting",
        failure_code="registry_unavailable",
        next_attempt_at=clock.now() + timedelta(minutes=3),
    )
    page = browser.get(f"{base}/requests/{request_id}", timeout=10)
    assert page.status_code == 200
    assert "data-waiting" in page.text and 'data-request-status="waiting"' in page.text
    assert f'href="/requests/{request_id}"' in page.text  # the no-JavaScript refresh link
    assert 'data-step="fetching"' in page.text and 'aria-current="step"' in page.text
    assert "/retry" not in page.text
    facts = browser.get(f"{base}/requests/{request_id}/status.json", timeout=10).json()
    assert facts["status"] == "waiting" and not facts["finished"] and facts["next_attempt_at"]

    set_state(status="failed", failure_code="registry_unavailable", next_attempt_at=None)
    page = browser.get(f"{base}/requests/{request_id}", timeout=10)
    assert form_with(page.text, action_contains=f"/requests/{request_id}/retry")["method"] == "post"
    facts = browser.get(f"{base}/requests/{request_id}/status.json", timeout=10).json()
    assert facts == {
        "status": "failed",
        "finished": True,
        "failure_code": "registry_unavailable",
        "can_retry": True,
        "next_attempt_at": None,
    }
    set_state(failure_code="no_record")
    page = browser.get(f"{base}/requests/{request_id}", timeout=10)
    assert "/retry" not in page.text


def test_sigterm_stops_a_worker_cleanly_and_frees_the_scheduler(jobs_env, workers):
    worker = workers.start()
    workers.wait_ready(worker)
    connection = Redis.from_url(REDIS_URL)
    lock = f"rq:scheduler-lock:{jobs_env.prefix}tra-issuance"
    wait_for(lambda: connection.exists(lock), timeout=10, what="the scheduler lock")
    wait_for(lambda: b"cleaning registries" in open(worker.log_path, "rb").read(), what="a maintenance pass")
    worker.send_signal(signal.SIGTERM)
    try:
        code = worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        code = None
    log_tail = open(worker.log_path, "rb").read()[-2000:].decode(errors="replace")
    assert code == 0, log_tail
    assert not connection.exists(lock), log_tail  # the next worker's scheduler can take over at once


def test_a_stop_request_that_a_library_swallows_still_stops_an_idle_worker(jobs_app, monkeypatch):
    # Seen under load: SIGTERM arrived while the safety net's connection ping ran; psycopg's reset
    # of the connection then raised an error of its own, RQ's StopRequested was lost inside it, and
    # the worker ran on. Here the signal arrives at the same place, every time, and its exception
    # is wrapped the same way.
    def interrupted_mid_query():
        try:
            os.kill(os.getpid(), signal.SIGTERM)  # RQ's handler raises StopRequested in here
            time.sleep(5)
        except StopRequested as stop:
            raise RuntimeError("the connection was reset while it was being checked") from stop
        return requeue_stalled()

    monkeypatch.setattr("portal.services.issuance_jobs.requeue_stalled", interrupted_mid_query)
    worker = build_worker(jobs_app)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    # Without the fix only a second signal (RQ's cold shutdown: SystemExit) would end work().
    watchdog = threading.Timer(20, os.kill, (os.getpid(), signal.SIGTERM))
    watchdog.start()
    started = time.monotonic()
    try:
        worker.work(with_scheduler=False)
    except SystemExit:
        pytest.fail("the worker ran on after SIGTERM: only a second signal stopped it")
    finally:
        watchdog.cancel()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert time.monotonic() - started < 15
    assert worker.get_state() != "busy" and worker.death_date is not None


def test_a_request_for_a_document_no_longer_issued_fails_at_once_without_try_again(jobs_app):
    request_id = new_request(jobs_app, enqueue=False)
    with jobs_app.app_context():
        db.session.execute(
            DocumentRequest.__table__.update().where(DocumentRequest.id == request_id).values(issuer="gone")
        )
        db.session.commit()
        run_issuance(request_id, retry_in=1)  # no retry would help: nothing raised
    done = state(jobs_app, request_id)
    assert done["status"] == "failed" and done["failure_code"] == "not_available"
    assert not done["can_retry"] and done["certificates"] == 0


def test_a_long_job_keeps_its_heartbeat_so_no_other_worker_takes_it_over(jobs_app, workers, registry):
    # The job outlives its first heartbeat (monitoring interval 1 s + grace 2 s) twice over while
    # another worker cleans the registries every second: only the heartbeats keep it its own.
    first = workers.start(scheduler=False)
    workers.wait_ready(first)
    registry.delay = 7.0
    request_id = new_request(jobs_app)
    wait_for(lambda: registry.calls, what="the job to reach the registry")
    second = workers.start()
    workers.wait_ready(second)

    done = wait_status(jobs_app, request_id, "ready", "failed", timeout=40)
    assert done["status"] == "ready", done
    assert done["attempts"] == 1  # never re-queued as abandoned
    assert registry.calls == 1
