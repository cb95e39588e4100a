"""Guard: issuers import nothing of the portal but ``portal.issuing`` (DESIGN.md, "Layers").

An issuer is a plugin: what it may rely on is the contract and the domain helpers the issuing
package hands it (national IDs, Thai dates, Bangkok time, the registry client). Reaching into
``portal.rendering``, ``portal.clock`` or a service would tie agencies' code to the portal's
insides, so this test reads every module under ``issuers/`` and fails on such an import.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ISSUERS = ROOT / "issuers"
ALLOWED = "portal.issuing"


def _allowed(module: str) -> bool:
    return module == ALLOWED or module.startswith(ALLOWED + ".")


def forbidden_imports(source: str, filename: str = "<source>") -> list[str]:
    """``line: module`` for each import of ``portal`` (or below) outside ``portal.issuing``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from portal import clock`` imports portal.clock; ``from portal.issuing import X`` is fine.
            if node.module == "portal":
                modules = [f"portal.{alias.name}" for alias in node.names]
            else:
                modules = [node.module]
        else:
            continue
        for module in modules:
            if (module == "portal" or module.startswith("portal.")) and not _allowed(module):
                found.append(f"{filename}:{node.lineno}: {module}")
    return found


def test_issuers_import_only_portal_issuing():
    files = sorted(ISSUERS.rglob("*.py"))
    assert len(files) >= 10, "the issuers package was not found"
    problems = [p for f in files for p in forbidden_imports(f.read_text("utf-8"), str(f.relative_to(ROOT)))]
    assert problems == []


def test_the_checker_finds_each_kind_of_forbidden_import():
    snippet = """
import portal.rendering
from portal import clock
from portal.rendering.dates import format_pid
from portal.services import issuance
from portal import issuing
import portal.issuing.http
from portal.issuing.thai import BE_OFFSET
from .vehicles import vehicle_record
import portalish
"""
    assert forbidden_imports(snippet) == [
        "<source>:2: portal.rendering",
        "<source>:3: portal.clock",
        "<source>:4: portal.rendering.dates",
        "<source>:5: portal.services",
    ]
