"""Guards for the layer picture (docs/architecture.md, "Imports run one way"): each rule reads the
imports of the source tree with ``ast`` and fails when someone adds a violation.

Each rule is also run on a small made-up module that breaks it, so that a rule which can no longer
fail (a typo in a module name, a checker that reads nothing) is noticed too.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: pyHanko's signer side (and the certificate validator): only portal/signing may import these.
#: ``pyhanko.pdf_utils`` (reading and writing PDF structure) is not signing and stays open.
PYHANKO_SIGNER_SIDE = (
    "pyhanko.sign",
    "pyhanko.stamp",
    "pyhanko.keys",
    "pyhanko.config",
    "pyhanko_certvalidator",
)
#: What signing (or verifying) with a private key through ``cryptography`` needs.
CRYPTOGRAPHY_SIGNING = (
    "cryptography.hazmat.primitives.asymmetric",
    "cryptography.hazmat.primitives.serialization",
)


@dataclass(frozen=True)
class Imported:
    """One name an import statement brings in: ``module`` (absolute) and, for ``from``, ``name``."""

    line: int
    module: str
    name: str | None

    def targets(self) -> tuple[str, ...]:
        """What this import may load: the module, and ``module.name`` (``name`` may be a submodule)."""
        return (self.module,) if self.name is None else (self.module, f"{self.module}.{self.name}")

    def reaches(self, prefixes: tuple[str, ...]) -> bool:
        return any(t == p or t.startswith(p + ".") for t in self.targets() for p in prefixes)

    def __str__(self) -> str:
        return f"line {self.line}: " + (
            f"import {self.module}" if self.name is None else f"from {self.module} import {self.name}"
        )


def imports(source: str, module: str, *, is_package: bool = False) -> Iterator[Imported]:
    """Every import in ``source`` (the module called ``module``), relative ones made absolute;
    imports inside functions and ``TYPE_CHECKING`` blocks count too."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Imported(node.lineno, alias.name, None)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                yield Imported(node.lineno, base, alias.name)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


# --- the rules ----------------------------------------------------------------------------------

Check = Callable[[str, str], list[str]]


def jobs_import_no_service(module: str, source: str) -> list[str]:
    """portal/jobs enqueues tasks by dotted name: it imports nothing of portal.services."""
    return [str(i) for i in imports(source, module) if i.reaches(("portal.services",))]


def signing_only_in_signing(module: str, source: str) -> list[str]:
    """Only portal/signing imports pyHanko's signer side or ``cryptography``'s private-key API, or
    calls a key's ``sign`` / ``sign_raw``."""
    found = [str(i) for i in imports(source, module) if i.reaches(PYHANKO_SIGNER_SIDE + CRYPTOGRAPHY_SIGNING)]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("sign", "sign_raw"):
                found.append(f"line {node.lineno}: .{node.func.attr}(…)")
    return found


def views_hold_no_queries(module: str, source: str) -> list[str]:
    """A view neither imports the database (``portal.extensions.db``, SQLAlchemy) nor touches
    ``db.session``: queries and commits belong to services."""
    found = [
        str(i)
        for i in imports(source, module)
        if i.reaches(("portal.extensions.db", "sqlalchemy", "flask_sqlalchemy"))
    ]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "session":
            if isinstance(node.value, ast.Name) and node.value.id == "db":
                found.append(f"line {node.lineno}: db.session")
    return found


def issuers_import_only_the_contract(module: str, source: str) -> list[str]:
    """An issuer imports nothing of ``portal`` but ``portal.issuing`` (its contract and helpers)."""
    return [
        str(i)
        for i in imports(source, module)
        if i.reaches(("portal",))
        and not i.reaches(("portal.issuing",))
        and not (i.module == "portal" and i.name == "issuing")
    ]


def services_import_no_view_nor_auth(module: str, source: str) -> list[str]:
    """Services never import a view nor ``portal.auth`` (which calls them: a login is a use case
    given plain values, e.g. ``accounts.LoginProvider``)."""
    return [str(i) for i in imports(source, module) if i.reaches(("portal.views", "portal.auth"))]


def no_private_names_across_modules(module: str, source: str) -> list[str]:
    """A leading underscore means "this module only": no import of another module's ``_name``,
    nor of a ``_private`` module from outside its package."""
    found = []
    for i in imports(source, module):
        if i.name is not None and _private(i.name):
            found.append(str(i))
            continue
        parts = i.module.split(".")
        for depth, part in enumerate(parts):
            if _private(part) and not module.startswith(".".join(parts[:depth]) + "."):
                found.append(str(i))
                break
    return found


@dataclass(frozen=True)
class Rule:
    check: Check
    #: Which modules it applies to (dotted names under portal/ and issuers/).
    applies: Callable[[str], bool]
    #: A made-up module (name, source) that breaks the rule, and one that keeps it.
    broken: tuple[str, str]
    kept: tuple[str, str]

    @property
    def name(self) -> str:
        return self.check.__name__


def _under(*packages: str) -> Callable[[str], bool]:
    return lambda module: any(module == p or module.startswith(p + ".") for p in packages)


RULES = (
    Rule(
        jobs_import_no_service,
        _under("portal.jobs"),
        broken=(
            "portal.jobs.tasks",
            "def run(x):\n    from portal.services.issuance_run import run_issuance\n",
        ),
        kept=(
            "portal.jobs.worker",
            "from portal.jobs.queues import queue_name\nfrom . import resolve_task\n",
        ),
    ),
    Rule(
        signing_only_in_signing,
        lambda m: _under("portal", "issuers")(m) and not _under("portal.signing")(m),
        broken=(
            "portal.services.keys.adding",
            "from cryptography.hazmat.primitives.asymmetric import ec\nfrom pyhanko.sign import signers\n"
            "signature = identity.signer.sign_raw(b'probe', 'sha256')\n",
        ),
        kept=("portal.rendering.pdf", "from pyhanko.pdf_utils.reader import PdfFileReader\n"),
    ),
    Rule(
        views_hold_no_queries,
        _under("portal.views"),
        broken=(
            "portal.views.health",
            "from portal.extensions import db\n\ndef ready():\n    db.session.execute('SELECT 1')\n",
        ),
        kept=(
            "portal.views.verify",
            "from portal.extensions import rate_limited\nfrom portal.services import health\n",
        ),
    ),
    Rule(
        issuers_import_only_the_contract,
        _under("issuers"),
        broken=("issuers.dopa", "from portal.rendering.dates import BE_OFFSET\nfrom portal import clock\n"),
        kept=(
            "issuers.dbd",
            "from portal.issuing import Issuer\nfrom portal.issuing.http import registry_client\n",
        ),
    ),
    Rule(
        services_import_no_view_nor_auth,
        _under("portal.services"),
        broken=(
            "portal.services.accounts",
            "from portal.auth import Provider\nfrom portal.views import main\n",
        ),
        kept=("portal.services.accounts", "from portal import clock\nfrom portal.services import mandates\n"),
    ),
    Rule(
        no_private_names_across_modules,
        _under("portal"),
        broken=(
            "portal.services.issuance_run",
            "from portal.services.issuance_status import _fail\nfrom portal.models._types import utcnow\n",
        ),
        kept=(
            "portal.models.user",
            "from portal.models._types import utcnow\nfrom __future__ import annotations\n",
        ),
    ),
)


def source_modules() -> Iterator[tuple[str, str, bool]]:
    """(dotted name, source, is a package) of every module under portal/ and issuers/."""
    for top in ("portal", "issuers"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            is_package = parts[-1] == "__init__"
            name = ".".join(parts[:-1] if is_package else parts)
            yield name, path.read_text(encoding="utf-8"), is_package


def violations(rule: Rule) -> dict[str, list[str]]:
    found = {}
    for module, source, is_package in source_modules():
        if rule.applies(module):
            # Packages resolve relative imports from themselves: give the checker a child name.
            problems = rule.check(f"{module}.__init__" if is_package else module, source)
            if problems:
                found[module] = problems
    return found


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_the_source_tree_keeps_the_rule(rule: Rule) -> None:
    assert sum(rule.applies(m) for m, _, _ in source_modules()) > 0, "the rule applies to no module"
    assert violations(rule) == {}, rule.check.__doc__


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_the_rule_can_fail(rule: Rule) -> None:
    module, source = rule.broken
    assert rule.applies(module)
    assert rule.check(module, source) != []
    module, source = rule.kept
    assert rule.applies(module)
    assert rule.check(module, source) == []


def test_relative_imports_are_read_as_absolute() -> None:
    found = list(imports("from ..queues import queue_name\nfrom . import tasks\n", "portal.jobs.worker.x"))
    assert [(i.module, i.name) for i in found] == [
        ("portal.jobs.queues", "queue_name"),
        ("portal.jobs.worker", "tasks"),
    ]
    assert [str(i) for i in imports("from .. import services\n", "portal.jobs.worker")] == [
        "line 1: from portal import services"
    ]
