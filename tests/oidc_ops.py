"""Real OpenID Providers for the tests: three npm ``oidc-provider`` processes on loopback.

A pytest plugin (registered in ``tests/conftest.py``). ``test_ops`` starts a citizen (ThaID-like),
a business and an investor provider once per session, each its own issuer, client and accounts;
``idp_config_toml`` turns them into a ``PORTAL_IDP_CONFIG`` body; ``login_via_test_op`` logs a
``requests.Session`` into the portal through one of them. ``tests/oidc_provider/README.md`` describes
the provider process.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from portal.devidp.people import SAMPLE_PEOPLE
from tests.helpers import form_with, forms

__all__ = [
    "CLAIMS",
    "CLIENT_ID",
    "OP_DIR",
    "PROVIDER_NAMES",
    "TestOP",
    "idp_config_toml",
    "login_via_test_op",
    "logout_at_test_op",
    "start_test_ops",
]

OP_DIR = Path(__file__).parent / "oidc_provider"
SERVER_JS = OP_DIR / "server.js"
READY_TIMEOUT = float(os.environ.get("TEST_OP_READY_TIMEOUT", "30"))
CLIENT_ID = "tra-portal"

KINDS = ("citizen", "business", "investor")
PROVIDER_NAMES = {"citizen": "thaid-test", "business": "business-test", "investor": "investor-test"}
"""The portal's provider name for each kind of test OP (the table names in ``idp_config_toml``)."""

CLAIMS = {
    "citizen": ("pid", "name", "name_en", "given_name", "family_name", "email"),
    "business": ("pid", "name", "name_en", "juristic_id", "juristic_name", "role", "email"),
    "investor": ("passport_number", "nationality", "name", "given_name", "family_name", "email"),
}
"""The claims each kind of test OP releases; each is also a scope of the same name."""

_LABELS = {
    "citizen": ("ThaID (ทดสอบ)", "ThaID (test)"),
    "business": ("นิติบุคคล (ทดสอบ)", "Business (test)"),
    "investor": ("นักลงทุนต่างชาติ (ทดสอบ)", "Foreign investor (test)"),
}
# portal field -> claim name at the provider (the portal engineer's TOML contract).
_CLAIM_MAPS = {
    "citizen": {"pid": "pid", "name_th": "name", "name_en": "name_en", "email": "email"},
    "business": {
        "pid": "pid",
        "name_th": "name",
        "name_en": "name_en",
        "email": "email",
        "juristic_id": "juristic_id",
        "juristic_name": "juristic_name",
        "role": "role",
    },
    "investor": {
        "passport_number": "passport_number",
        "nationality": "nationality",
        "name_en": "name",
        "email": "email",
    },
}
_THAI_TITLES = ("นางสาว", "นาง", "นาย")  # longest first: นางสาว starts with นาง


@dataclass(frozen=True)
class TestOP:
    """One running test OpenID Provider and the portal's client registration at it."""

    __test__ = False  # not a test class, despite the name

    kind: str
    """``citizen`` (ThaID-like), ``business`` or ``investor``."""
    issuer: str
    """``http://127.0.0.1:<port>``."""
    discovery_url: str
    """The issuer's ``/.well-known/openid-configuration``."""
    client_id: str
    """The portal's client id (``client_secret_basic`` and ``client_secret_post`` both work)."""
    client_secret: str
    """The portal's client secret, random per test session."""
    accounts: dict[str, dict]
    """Account id (the value of its sign-in button, and its ``sub``) -> the claims it releases."""


def _split_thai_name(name: str) -> tuple[str, str]:
    """``"นายสมชาย ใจดี"`` -> ``("สมชาย", "ใจดี")``: given and family name without the title."""
    for title in _THAI_TITLES:
        if name.startswith(title):
            name = name[len(title) :]
            break
    given, _, family = name.partition(" ")
    return given, family


def _citizen_accounts() -> dict[str, dict]:
    """The embedded dev OP's sample people (portal/devidp/people.py), keyed ``somchai`` etc."""
    accounts = {}
    for person in SAMPLE_PEOPLE:
        if not person.pid:
            continue  # a foreign investor: the investor OP has them
        given, family = _split_thai_name(person.name)
        accounts[person.sub.removeprefix("dev-")] = {
            "pid": person.pid,
            "name": person.name,
            "name_en": person.name_en,
            "given_name": given,
            "family_name": family,
            "email": person.email,
        }
    return accounts


def _business_accounts() -> dict[str, dict]:
    """A director (the same person as the citizen ``somchai``) and a staff member of one company."""
    somchai = next(person for person in SAMPLE_PEOPLE if person.sub == "dev-somchai")
    company = {"juristic_id": "0105556012341", "juristic_name": "บริษัท ตราทดสอบ จำกัด"}
    return {
        "director": {
            "pid": somchai.pid,
            "name": somchai.name,
            "name_en": somchai.name_en,
            **company,
            "role": "director",
            "email": "director@company.example.test",
        },
        "staff": {
            "pid": "3101200987652",
            "name": "นางสาวมาลี ทองดี",
            "name_en": "Ms. Malee Thongdee",
            **company,
            "role": "staff",
            "email": "staff@company.example.test",
        },
    }


def _investor_accounts() -> dict[str, dict]:
    return {
        "yamada": {
            "passport_number": "TK1234567",
            "nationality": "JPN",
            "name": "Mr. Taro Yamada",
            "given_name": "Taro",
            "family_name": "Yamada",
            "email": "taro.yamada@investor.example.test",
        },
        "schmidt": {
            "passport_number": "C01X00T47",
            "nationality": "DEU",
            "name": "Ms. Anna Schmidt",
            "given_name": "Anna",
            "family_name": "Schmidt",
            "email": "anna.schmidt@investor.example.test",
        },
    }


_ACCOUNTS = {"citizen": _citizen_accounts, "business": _business_accounts, "investor": _investor_accounts}


def _missing_dependency_message() -> str | None:
    if shutil.which("node") is None:
        return "`node` is not on PATH: the tests need Node.js 20+ for the test OpenID Providers"
    if not (OP_DIR / "node_modules" / "oidc-provider").is_dir():
        return (
            f"{OP_DIR / 'node_modules'} is missing: run `make test` (or `make npm-test-deps`) "
            "to install the test OpenID Provider's npm dependencies"
        )
    return None


class _OPProcess:
    """A started ``server.js`` process, its stderr log, and a way to stop it for good."""

    def __init__(self, kind: str, config: dict, workdir: Path) -> None:
        self.kind = kind
        self.config_path = workdir / f"{kind}-op.json"
        self.config_path.write_text(json.dumps(config, ensure_ascii=False, indent=1), encoding="utf-8")
        self.log_path = workdir / f"{kind}-op.stderr.log"
        with open(self.log_path, "wb") as log:
            # Own process group so stop() reaches everything; stdin stays open as a lifeline: the
            # server exits when it closes, even if this Python process is killed outright.
            self.process = subprocess.Popen(
                ["node", str(SERVER_JS), str(self.config_path)],
                cwd=OP_DIR,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                bufsize=0,
                start_new_session=True,
            )

    def stderr(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]

    def wait_ready(self, deadline: float) -> str:
        """The issuer from the ``READY <issuer>`` line; fails the test run with the OP's stderr."""
        stdout = self.process.stdout
        assert stdout is not None
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while b"\n" not in buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    self.stop()
                    raise RuntimeError(
                        f"the {self.kind} test OP printed no READY line within {READY_TIMEOUT:g} s;"
                        f" its stderr:\n{self.stderr()}"
                    )
                chunk = os.read(stdout.fileno(), 4096)
                if not chunk:
                    code = self.process.wait(timeout=5)
                    raise RuntimeError(
                        f"the {self.kind} test OP exited with status {code} before it was ready;"
                        f" its stderr:\n{self.stderr()}"
                    )
                buffer += chunk
        line = buffer.split(b"\n", 1)[0].decode()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"the {self.kind} test OP said {line!r}, not READY; stderr:\n{self.stderr()}")
        return line.removeprefix("READY ").strip()

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=5)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


def start_test_ops(
    workdir: Path, *, redirect_uris: list[str], post_logout_redirect_uris: list[str]
) -> tuple[dict[str, TestOP], list[_OPProcess]]:
    """Start the three test OPs in parallel and wait until all are ready (or raise, none left running)."""
    problem = _missing_dependency_message()
    if problem:
        raise RuntimeError(problem)
    secret = secrets.token_urlsafe(24)
    accounts = {kind: _ACCOUNTS[kind]() for kind in KINDS}
    processes: list[_OPProcess] = []
    try:
        for kind in KINDS:
            config = {
                "kind": kind,
                "port": 0,  # the OP picks a free port and prints its issuer: no race between runs
                "claims": list(CLAIMS[kind]),
                "cookie_prefix": f"tra_test_{kind}_op",
                "cookie_key": secrets.token_urlsafe(32),
                "clients": [
                    {
                        "client_id": CLIENT_ID,
                        "client_secret": secret,
                        "redirect_uris": redirect_uris,
                        "post_logout_redirect_uris": post_logout_redirect_uris,
                    }
                ],
                "accounts": accounts[kind],
            }
            processes.append(_OPProcess(kind, config, workdir))
        deadline = time.monotonic() + READY_TIMEOUT
        ops = {}
        for process in processes:
            issuer = process.wait_ready(deadline)
            ops[process.kind] = TestOP(
                kind=process.kind,
                issuer=issuer,
                discovery_url=f"{issuer}/.well-known/openid-configuration",
                client_id=CLIENT_ID,
                client_secret=secret,
                accounts=accounts[process.kind],
            )
    except BaseException:
        for process in processes:
            process.stop()
        raise
    return ops, processes


@pytest.fixture(scope="session")
def portal_port() -> int:
    """A free loopback port chosen up front for the live portal (the OPs' redirect URIs name it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def test_ops(portal_port, tmp_path_factory) -> Iterator[dict[str, TestOP]]:
    """The three test OPs by kind (``citizen``, ``business``, ``investor``), started once per session.

    The portal's client at each accepts ``http://127.0.0.1:<portal_port>/auth/callback`` and
    ``http://portal.test/auth/callback``, and logs out to ``/`` on either.
    """
    portal_urls = [f"http://127.0.0.1:{portal_port}", "http://portal.test"]
    try:
        ops, processes = start_test_ops(
            tmp_path_factory.mktemp("oidc-ops"),
            redirect_uris=[f"{url}/auth/callback" for url in portal_urls],
            post_logout_redirect_uris=[f"{url}/" for url in portal_urls],
        )
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)

    def stop_all() -> None:
        for process in processes:
            process.stop()

    atexit.register(stop_all)
    yield ops
    stop_all()
    atexit.unregister(stop_all)


def _toml_value(value) -> str:
    # JSON strings and arrays of strings are valid TOML basic strings and arrays.
    return json.dumps(value, ensure_ascii=False)


def idp_config_toml(ops: dict[str, TestOP]) -> str:
    """A ``PORTAL_IDP_CONFIG`` file body: one provider per test OP, named as in ``PROVIDER_NAMES``."""
    lines = []
    for kind, op in ops.items():
        name = PROVIDER_NAMES[kind]
        claim_map = _CLAIM_MAPS[kind]
        label_th, label_en = _LABELS[kind]
        scopes = ["openid", *dict.fromkeys(claim_map.values())]
        lines += [
            f"[providers.{name}]",
            f"label_th = {_toml_value(label_th)}",
            f"label_en = {_toml_value(label_en)}",
            f"discovery_url = {_toml_value(op.discovery_url)}",
            f"client_id = {_toml_value(op.client_id)}",
            f"client_secret = {_toml_value(op.client_secret)}",
            f"scopes = {_toml_value(scopes)}",
            f"audience = {_toml_value(kind)}",
            "",
            f"[providers.{name}.claims]",
            *(f"{field} = {_toml_value(claim)}" for field, claim in claim_map.items()),
            "",
        ]
    return "\n".join(lines)


def login_via_test_op(
    session: requests.Session, base_url: str, provider: str, account: str
) -> requests.Response:
    """Log in to the portal at ``base_url`` through the test OP behind ``provider`` as ``account``.

    Follows the real redirects: portal ``/login/<provider>`` -> the OP's sign-in page -> the
    account's button -> the portal's callback and wherever it sends the person next. Returns that
    final response (asserting it is the portal's).
    """
    page = session.get(f"{base_url}/login/{provider}", timeout=10)
    assert page.status_code == 200 and "/interaction/" in page.url, (page.status_code, page.url)
    form = form_with(page.text, action_contains="/interaction/")
    assert ("account", account) in form["buttons"], f"{account} is not offered on {page.url}"
    response = session.post(
        urljoin(page.url, form["action"]), data={**form["fields"], "account": account}, timeout=10
    )
    assert response.url.startswith(base_url), f"login ended at {response.url}, not at {base_url}"
    return response


def logout_at_test_op(session: requests.Session, response: requests.Response) -> requests.Response:
    """Confirm a test OP's sign-out page (its end_session endpoint shows one small form, which a
    browser submits by itself) and follow the redirects to the ``post_logout_redirect_uri``.

    ``response`` is the page the portal's logout led to; if it is not the OP's sign-out form (the
    OP had no session, or the portal did not go there) it is returned unchanged.
    """
    for form in forms(response.text) if "/session/end" in response.url else []:
        if "/session/end/confirm" in form["action"]:
            return session.post(urljoin(response.url, form["action"]), data=form["fields"], timeout=10)
    return response
