"""The whole journey in Chromium against the production shape: `scripts/serve.sh` (gunicorn + an RQ
worker) on PostgreSQL and Redis, logging in through a real OpenID Provider (npm oidc-provider).

A citizen logs in, asks for a certificate, watches the status page reach "ready" and downloads the
PDF. Then a verifier renders page 1 to PNG (pdftoppm), reads the QR code from the image (zbarimg),
opens that address and sees "valid"; drops the file and sees "genuine"; drops a changed copy and sees
"altered".
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis
import requests
from playwright.sync_api import expect

from tests.conftest import _create_database, free_port
from tests.oidc_ops import idp_config_toml, start_test_ops

ROOT_DIR = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def served(tmp_path_factory, registry_url, pki_dir):
    """`scripts/serve.sh` on its own port, database, queue prefix and test OPs; stopped afterwards."""
    tmp = tmp_path_factory.mktemp("served")
    database_url, drop = _create_database(tmp, "served")
    if database_url.startswith("sqlite"):
        pytest.skip("the production shape needs PostgreSQL (CI always has it)")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        drop()
        if os.environ.get("CI"):
            pytest.fail("Redis must be reachable on CI (scripts/ensure-services.sh starts it)")
        pytest.skip("Redis is not reachable")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ops, op_processes = start_test_ops(
        tmp, redirect_uris=[f"{base}/auth/callback"], post_logout_redirect_uris=[f"{base}/"]
    )
    idp_file = tmp / "idp.toml"
    idp_file.write_text(idp_config_toml(ops), encoding="utf-8")
    env = {
        **os.environ,
        "PORTAL_ENV": "production",
        "PORT": str(port),
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "RQ_WORKERS": "1",
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "RQ_QUEUE_PREFIX": f"test-{uuid.uuid4().hex[:8]}-",
        "RATELIMIT_KEY_PREFIX": f"test-limits-{uuid.uuid4().hex[:8]}",
        "PORTAL_SECRET_KEY": uuid.uuid4().hex,
        "PORTAL_BASE_URL": base,
        "PORTAL_BLOB_DIR": str(tmp / "blobs"),
        "PORTAL_DEV_PKI_DIR": str(pki_dir),
        "PORTAL_IDP_CONFIG": str(idp_file),
        "PORTAL_SAMPLE_DOCUMENTS": "1",
        "DLT_REGISTRY_URL": registry_url,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prometheus"),
        # Chromium keeps Secure cookies on http://127.0.0.1 (a secure context), as in production.
    }
    log = (tmp / "serve.log").open("wb")
    proc = subprocess.Popen(
        ["scripts/serve.sh"],
        cwd=ROOT_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_ready(base, proc, tmp / "serve.log")
        yield base, tmp
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        for op in op_processes:
            op.stop()
        drop()


def _wait_ready(base: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"scripts/serve.sh exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    pytest.fail(f"the served portal was not ready within 60 s:\n{log.read_text()[-3000:]}")


def test_citizen_journey_then_verifier_checks_qr_and_file(served, page, tmp_path):
    base, _ = served
    # 1. Log in through the ThaID-like provider, choosing the sample citizen.
    page.goto(f"{base}/lang/en?next=/login")
    page.get_by_role("button", name=re.compile("ThaID")).click()
    page.locator("button[name=account][value=somchai]").click()
    page.wait_for_url(f"{base}/**")
    expect(page.locator("body")).to_contain_text("Somchai")

    # 2. Ask for the certificate: document page, consent, agree.
    page.goto(f"{base}/documents/dlt/driving-licence")
    page.locator("a.button--start").click()
    page.locator("input[name=consent]").check()
    page.get_by_role("button", name="Agree and request the document").click()
    page.wait_for_url(re.compile(r"/requests/[0-9a-f]{32}$"))

    # 3. The status page moves on by itself (status.js) until the worker has issued it.
    expect(page.locator("[data-request-status]")).to_have_attribute(
        "data-request-status", "ready", timeout=60_000
    )
    with page.expect_download() as download_info:
        page.locator("a.button--download").click()
    pdf = tmp_path / "certificate.pdf"
    download_info.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF-")

    # 4. A verifier reads the QR code off the printed page.
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")], check=True
    )
    png = next(tmp_path.glob("page*.png"))
    decoded = subprocess.run(["zbarimg", "--raw", "-q", str(png)], capture_output=True, text=True, check=True)
    qr_url = decoded.stdout.strip()
    assert re.fullmatch(rf"{re.escape(base)}/v/[0-9A-Z]{{20}}", qr_url), qr_url

    verifier = page.context.browser.new_context()
    vpage = verifier.new_page()
    vpage.goto(f"{base}/lang/en?next={qr_url.removeprefix(base)}")
    expect(vpage.locator("[data-status]").first).to_have_attribute("data-status", "valid")

    # 5. Dropping the file: checked in the browser, then on the server.
    vpage.set_input_files("input[type=file]", str(pdf))
    expect(vpage.locator("[data-hash-result]")).to_contain_text("exactly the file that was issued")
    vpage.locator("form.file-check button[type=submit]").click()
    vpage.wait_for_load_state()
    assert vpage.locator("[data-verdict]").get_attribute("data-verdict") == "genuine"

    changed = tmp_path / "changed.pdf"
    data = bytearray(pdf.read_bytes())
    data[len(data) // 2] ^= 0x01
    changed.write_bytes(bytes(data))
    vpage.goto(qr_url)
    vpage.set_input_files("input[type=file]", str(changed))
    vpage.locator("form.file-check button[type=submit]").click()
    vpage.wait_for_load_state()
    assert vpage.locator("[data-verdict]").get_attribute("data-verdict") == "altered"
    verifier.close()
