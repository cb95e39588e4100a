"""An issuer installed from its own package, as an agency would ship one: pip installs
tests/sample_issuer into a temporary folder (offline, never into the project's environment), and a
fresh Python process with that folder on its path finds it through the ``portal.issuers`` entry
points: in the registry, in the catalogue page, in the contract suite. A package claiming an id
that is taken stops the portal at start."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_PACKAGE = ROOT / "tests" / "sample_issuer"


def _build_wheel(source: Path, out_dir: Path) -> Path:
    """A wheel of the pure-Python package at ``source``, from its pyproject.toml, with the standard
    library only: the project's setuptools (65) cannot build wheels without the ``wheel`` package,
    which is not a dependency, and the test must work offline."""
    project = tomllib.loads((source / "pyproject.toml").read_text())["project"]
    name, version = project["name"].replace("-", "_"), project["version"]
    dist_info = f"{name}-{version}.dist-info"
    files: dict[str, bytes] = {}
    for package in tomllib.loads((source / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]:
        for path in sorted((source / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files[path.relative_to(source).as_posix()] = path.read_bytes()
    groups = project.get("entry-points", {})
    files[f"{dist_info}/entry_points.txt"] = "".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
        for group, eps in groups.items()
    ).encode()
    files[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {version}\n".encode()
    )
    files[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: tra-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )

    def digest(data: bytes) -> str:
        return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

    record = "".join(f"{path},sha256={digest(data)},{len(data)}\n" for path, data in files.items())
    files[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    wheel = out_dir / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def _pip_install(source: Path, target: Path, tmp_path: Path) -> None:
    """Install ``source`` into ``target`` with pip, without the network (no index) and without
    its dependencies (the portal is already importable): never into the project's environment."""
    wheel = _build_wheel(source, tmp_path)
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
            "--disable-pip-version-check", "--no-cache-dir", "--target", str(target), str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_NO_INPUT": "1"},
    )  # fmt: skip


def _run(
    script: str, *paths: Path, env: dict | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    python_path = os.pathsep.join([*(str(p) for p in paths), str(ROOT)])
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": python_path, "PORTAL_ENV": "testing", **(env or {})},
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("out-of-tree")
    target = tmp / "site"
    _pip_install(SAMPLE_PACKAGE, target, tmp)
    return target


APP = """
    import json
    from flask_migrate import upgrade
    from portal import create_app

    DIR = "__TMP__"
    app = create_app("testing", {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{DIR}/tra.db",
        "DEV_PKI_DIR": f"{DIR}/pki", "BLOB_DIR": f"{DIR}/blobs",
        "SAMPLE_REGISTRIES_MOUNTED": False, "WTF_CSRF_ENABLED": False,
    })
"""


def _app_script(tmp_path: Path, rest: str = "") -> str:
    return textwrap.dedent(APP).replace("__TMP__", str(tmp_path)) + textwrap.dedent(rest)


def test_pip_installs_it_offline_beside_the_portal_not_into_it(installed: Path) -> None:
    assert (installed / "tra_sample_issuer" / "__init__.py").is_file()
    assert list(installed.glob("tra_sample_issuer-*.dist-info/entry_points.txt"))
    import importlib.metadata

    names = [ep.name for ep in importlib.metadata.entry_points(group="portal.issuers")]
    assert "tra_sample_issuer" not in names  # this process (the project's venv) does not see it


def test_installed_issuer_is_in_the_registry_and_the_catalogue(installed: Path, tmp_path: Path) -> None:
    script = _app_script(
        tmp_path,
        """
    with app.app_context():
        upgrade()
    registry = app.extensions["tra.issuers"]
    issuer = registry.get("tra_sample_issuer")
    client = app.test_client()
    catalogue = client.get("/?lang=en").get_data(as_text=True)
    page = client.get("/documents/tra_sample_issuer/membership?lang=th")
    print(json.dumps({
        "ids": [i.id for i in registry],
        "settings": repr(issuer.settings),
        "office_code": issuer.settings["office_code"],
        "in_catalogue": "Membership Certificate (sample)" in catalogue
            and "Sample Registry Office" in catalogue,
        "page_status": page.status_code,
        "page_has_title": "หนังสือรับรองการเป็นสมาชิก" in page.get_data(as_text=True),
    }))
    """,
    )
    result = _run(script, installed, env={"ISSUER_TRA_SAMPLE_ISSUER_OFFICE_CODE": "CNX"})
    assert result.returncode == 0, result.stderr[-3000:]
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"dlt", "tra_sample_issuer"} <= set(facts["ids"])  # besides the other built-in issuers
    assert facts["office_code"] == "CNX"  # its own setting, from ISSUER_<ID>_<SETTING>
    assert facts["in_catalogue"] and facts["page_status"] == 200 and facts["page_has_title"]


def test_installed_issuer_can_be_disabled_and_its_pages_are_gone(installed: Path, tmp_path: Path) -> None:
    script = _app_script(
        tmp_path,
        """
    with app.app_context():
        upgrade()
    client = app.test_client()
    page = client.get("/documents/tra_sample_issuer/membership?lang=en")
    print(json.dumps({
        "ids": [i.id for i in app.extensions["tra.issuers"]],
        "in_catalogue": "Membership Certificate" in client.get("/?lang=en").get_data(as_text=True),
        "status": page.status_code,
        "text": page.get_data(as_text=True),
    }))
    """,
    )
    result = _run(script, installed, env={"PORTAL_DISABLED_ISSUERS": "tra_sample_issuer"})
    assert result.returncode == 0, result.stderr[-3000:]
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert "dlt" in facts["ids"] and "tra_sample_issuer" not in facts["ids"] and not facts["in_catalogue"]
    assert facts["status"] == 404 and "We do not issue a document of this type" in facts["text"]


DUPLICATE_PYPROJECT = """
[project]
name = "tra-duplicate-issuer"
version = "0.1.0"

[project.entry-points."portal.issuers"]
dlt = "tra_duplicate_issuer:DuplicateDlt"

[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[tool.setuptools]
packages = ["tra_duplicate_issuer"]
"""

DUPLICATE_MODULE = """
from tra_sample_issuer import SampleIssuer


class DuplicateDlt(SampleIssuer):
    id = "dlt"
"""


def test_a_package_claiming_a_taken_id_stops_the_portal(installed: Path, tmp_path: Path) -> None:
    source = tmp_path / "duplicate"
    (source / "tra_duplicate_issuer").mkdir(parents=True)
    (source / "pyproject.toml").write_text(DUPLICATE_PYPROJECT)
    (source / "tra_duplicate_issuer" / "__init__.py").write_text(DUPLICATE_MODULE)
    second = tmp_path / "site2"
    _pip_install(source, second, tmp_path)

    result = _run(_app_script(tmp_path), installed, second)
    assert result.returncode != 0
    assert "DuplicateIssuer: more than one issuer is registered as 'dlt'" in result.stderr


def test_the_contract_suite_runs_over_the_installed_issuer(installed: Path) -> None:
    """The shared suite picks the new issuer up from its entry point, with no change to the suite."""
    result = _run(
        "import sys, pytest; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', "
        "'tests/issuing/test_contract.py', '-k', 'tra_sample_issuer']))",
        installed,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "tra_sample_issuer" not in result.stdout.split("passed")[-1]
