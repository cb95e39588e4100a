"""The operators' CLI on the SQLite path: migrate, issue a certificate to a file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def flask(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_issue_from_the_command_line_on_sqlite(tmp_path, pki_dir):
    env = {
        **os.environ,
        "PORTAL_ENV": "development",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "PORTAL_BLOB_DIR": str(tmp_path / "blobs"),
        "PORTAL_DEV_PKI_DIR": str(pki_dir),
    }
    env.pop("DLT_REGISTRY_URL", None)
    upgrade = flask("db", "upgrade", env=env)
    assert upgrade.returncode == 0, upgrade.stderr
    out = tmp_path / "certificate.pdf"
    result = flask(
        "portal", "issue", "dlt", "driving-licence", "--pid", "3100500678905", "--out", str(out), env=env
    )
    assert result.returncode == 0, result.stderr
    assert "Issued ขบ" in result.stdout
    assert out.read_bytes().startswith(b"%PDF")

    none = flask("portal", "issue", "dlt", "driving-licence", "--pid", "5709900124574", env=env)
    assert none.returncode == 1 and "no_record" in none.stderr

    bad = flask("portal", "issue", "dlt", "driving-licence", "--pid", "1234567890123", env=env)
    assert bad.returncode == 2 and "check digit" in bad.stderr

    unknown = flask("portal", "issue", "dlt", "pilot-licence", "--pid", "3100500678905", env=env)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
