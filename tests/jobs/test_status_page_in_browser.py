"""The live status page in Chromium while the agency's registry is down, then back: it explains the
wait by itself (no reload by the person) and reaches "ready" when a retry gets through."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.jobs.test_issuance_jobs import state


def test_status_page_shows_the_wait_then_the_document(
    jobs_env, jobs_app, workers, registry, page, monkeypatch
):
    # Retries five seconds apart, so that the wait is there to be seen.
    monkeypatch.setitem(jobs_app.config, "ISSUANCE_RETRY_INTERVALS", (5, 5, 5))
    worker = workers.start()
    workers.wait_ready(worker)
    base = jobs_env.base_url

    page.goto(f"{base}/lang/en?next=/login")
    page.locator("button[name=sub][value=dev-somying]").click()
    page.wait_for_url(f"{base}/**")
    page.goto(f"{base}/documents/dlt/driving-licence/request")
    page.locator("input[name=consent]").check()
    registry.stop()
    page.get_by_role("button", name="Agree and request the document").click()
    page.wait_for_url(re.compile(r"/requests/[0-9a-f]{32}$"))
    request_id = page.url.rsplit("/", 1)[1]

    # The page notices the wait by itself and says why and when the next try is.
    expect(page.locator("[data-request-status]")).to_have_attribute(
        "data-request-status", "waiting", timeout=15_000
    )
    expect(page.locator("[data-waiting]")).to_contain_text("did not answer")
    expect(page.locator("[data-waiting]")).to_contain_text("Next try at about")
    assert state(jobs_app, request_id)["certificates"] == 0

    registry.start()
    expect(page.locator("[data-request-status]")).to_have_attribute(
        "data-request-status", "ready", timeout=30_000
    )
    expect(page.locator("a.button--download")).to_be_visible()
    assert state(jobs_app, request_id)["certificates"] == 1
