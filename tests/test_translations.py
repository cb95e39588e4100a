"""Every message the portal shows has a Thai translation (Thai is the default language)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "portal" / "translations" / "th" / "LC_MESSAGES" / "messages.po"


def test_every_message_in_the_code_is_translated_into_thai(tmp_path):
    template = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(template),
            "--no-location",
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with template.open("rb") as f:
        wanted = {m.id for m in read_po(f) if m.id}
    with CATALOGUE.open("rb") as f:
        translated = {m.id for m in read_po(f) if m.id and _complete(m.string) and not m.fuzzy}
    assert len(wanted) > 250  # the extraction really found the portal's messages
    missing = sorted(str(m) for m in wanted - translated)
    assert missing == [], f"{len(missing)} messages have no Thai translation: `make messages`, then translate"


def _complete(string) -> bool:
    """A translation, with every plural form filled in (Babel keeps plurals as tuples)."""
    if isinstance(string, (tuple, list)):
        return bool(string) and all(string)
    return bool(string)
