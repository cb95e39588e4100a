"""The visible signature block ("stamp") drawn on page 1 of a certificate, in Thai and English.

What: :func:`visible_signature` returns a :class:`VisibleSignature`: the new signature field
(name, page and box), pyHanko's stamp style, and the text parameters of the appearance.
The stamp says, in both languages, that the agency signed the document digitally and when
(Bangkok time; Buddhist Era year in the Thai line).

Why an embedded font: pyHanko's default stamp writes its text in Courier, one of the 14
standard fonts that a PDF does not embed. Courier has no Thai glyphs (the Thai line comes out
as garbage) and PDF/A forbids non-embedded fonts. The stamp here is shaped by HarfBuzz and drawn
with Laksaman (Debian ``fonts-thai-tlwg``, TLWG's free counterpart of TH Sarabun), subset and
embedded in the signature's appearance stream (needs ``pyhanko[opentype]``).

Where: where the certificate's layout reserves it (an element ``id="tra-signature-stamp"``,
see :func:`stamp_place`), else a band across page 1 just above the verification box
(:data:`STAMP_BOX`; a body with more than three records reaches into it).

Wiring it into :func:`portal.signing.signer.sign_pdf` takes a few lines::

    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    stamp = visible_signature(
        agency_th=..., agency_en=..., signed_at=clock.now(), document=writer
    )
    meta = signers.PdfSignatureMetadata(field_name=stamp.field_spec.sig_field_name, ...)
    pdf_signer = signers.PdfSigner(
        meta, identity.signer, stamp_style=stamp.style, new_field_spec=stamp.field_spec
    )
    pdf_signer.sign_pdf(writer, bytes_reserved=..., appearance_text_params=stamp.text_params)

The field name must be the same in ``meta`` and in the field spec (pyHanko creates the field
from the spec when the document has none of that name). The appearance adds about 7 KB (the
font subset) and about 3 ms per signature: the subset is made once per process and agency
(:mod:`portal.signing.stamp_font`); made per signature by pyHanko it cost 20-25 ms of fontTools.
Call :func:`stamp_style` once at worker start-up to build the prepared font before forking.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from pyhanko.pdf_utils.layout import AxisAlignment, InnerScaling, Margins, SimpleBoxLayoutRule
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign.fields import SigFieldSpec
from pyhanko.stamp import TextStamp, TextStampStyle

from portal.clock import BANGKOK
from portal.issuing.thai import english_date_short, thai_date

from .stamp_font import CachedSubsetFactory

__all__ = [
    "STAMP_ANCHOR",
    "STAMP_BOX",
    "STAMP_FIELD",
    "STAMP_FONT_PATHS",
    "STAMP_SIZE",
    "StampFontMissing",
    "VisibleSignature",
    "prepared_font_path",
    "stamp_font_path",
    "stamp_place",
    "stamp_style",
    "stamp_text_params",
    "visible_signature",
]

logger = logging.getLogger(__name__)

STAMP_FIELD = "TraSignature"
"""Name of the visible signature field (the same name as the invisible one in ``signer.py``)."""

STAMP_BOX: tuple[int, int, int, int] = (63, 123, 544, 161)
"""The stamp's box on page 1 in PDF points (x1, y1, x2, y2; origin bottom left; A4 is 595 × 842).

A band across the certificate's text column (margins 22 mm and 18 mm) just above the
verification box, which starts 119 pt from the bottom: the stamp never covers the QR code or
the verification text. 38 pt high: two lines (Thai, English) of 10 pt Laksaman, which looks
like TH Sarabun at about 15 pt. Measured on the DLT certificate, the body ends at 223, 193 and
164 pt from the bottom with one, two and three records, so up to three records stay clear of
the stamp (checked in the tests); a fourth would run under it, unless the template reserves
the area (:data:`STAMP_ANCHOR`). Text too long for the box is shrunk to fit."""

STAMP_SIZE: tuple[int, int] = (STAMP_BOX[2] - STAMP_BOX[0], STAMP_BOX[3] - STAMP_BOX[1])
"""Width and height of the stamp in points (481 × 38 pt, about 170 mm × 13.5 mm)."""

STAMP_ANCHOR = "tra-signature-stamp"
"""HTML ``id`` (PDF named destination) of an element reserving the stamp's area: :func:`stamp_place`."""

STAMP_FONT_PATHS: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/tlwg/Laksaman.ttf"),
    Path("/usr/share/fonts/opentype/tlwg/Laksaman.otf"),
    Path("/usr/share/fonts/truetype/tlwg/Garuda.ttf"),
    Path("/usr/share/fonts/opentype/tlwg/Garuda.otf"),
)
"""Thai OpenType fonts tried in order (Debian ``fonts-thai-tlwg``); the first that exists is used."""

_FONT_SIZE = 10
_LEADING = 13
_INK = (0.122, 0.227, 0.373)  # #1f3a5f, the certificate's verification-box blue

_STAMP_TEXT = (
    "ลงลายมือชื่อดิจิทัลโดย %(agency_th)s เมื่อวันที่ %(signed_at_th)s\n"
    "Digitally signed by the %(agency_en)s on %(signed_at_en)s"
)


class StampFontMissing(RuntimeError):
    """No Thai OpenType font for the stamp is installed (Debian package ``fonts-thai-tlwg``)."""


@dataclass(frozen=True)
class VisibleSignature:
    """What :meth:`pyhanko.sign.signers.PdfSigner.sign_pdf` needs to draw the visible stamp."""

    field_spec: SigFieldSpec
    """The signature field to create: name, page index and box (see :func:`stamp_place`)."""

    style: TextStampStyle
    """Stamp style (embedded Thai font, thin border, no background); pass as ``stamp_style``."""

    text_params: dict[str, str]
    """Values for the stamp text; pass as ``appearance_text_params``."""


def stamp_font_path() -> Path:
    """The Thai font the stamp is drawn with; raises :class:`StampFontMissing` if none is installed."""
    for path in STAMP_FONT_PATHS:
        if path.is_file():
            return path
    raise StampFontMissing("no Thai font for the signature stamp: install the Debian package fonts-thai-tlwg")


_SUBSET_UNICODES = (
    *range(0x20, 0x7F),  # Basic Latin
    *range(0x0E01, 0x0E5C),  # Thai
    0x00A0,
    0x00B7,
    *range(0x2013, 0x2015),
    *range(0x2018, 0x201E),
    0x2022,
    0x2026,
)


def prepared_font_path(source: Path | None = None) -> Path:
    """A copy of the stamp font cut down to Latin and Thai, without hinting; built once per machine.

    Why: pyHanko subsets the font with fontTools on every signature, and most of that time
    goes into reading the font's tables: on the full Laksaman (526 glyphs, hinted) the stamp
    adds about 60-70 ms to a signature, on this copy (214 glyphs, unhinted) about 30-35 ms,
    and the embedded subset shrinks from about 15 KB to 9 KB. Hinting only matters on
    low-resolution screens at small sizes. The copy lives in a private directory (mode 0700)
    under the system's temporary directory, named by a hash of the source font and of this
    recipe, written atomically; building it takes about 0.2 s.
    """
    from fontTools import subset
    from fontTools.ttLib import TTFont

    source = source or stamp_font_path()
    font_bytes = source.read_bytes()
    recipe = f"v1:{_SUBSET_UNICODES}".encode()
    digest = hashlib.sha256(font_bytes + recipe).hexdigest()[:16]
    target = _private_cache_dir() / f"{source.stem}-{digest}.ttf"
    if target.is_file():
        return target
    options = subset.Options()
    options.layout_features = ["*"]  # keep Thai shaping (mark positioning, ligatures)
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    options.drop_tables += ["FFTM"]  # FontForge's timestamps: fontTools warns on every subset
    font = TTFont(BytesIO(font_bytes))
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=_SUBSET_UNICODES)
    subsetter.subset(font)
    fd, partial = tempfile.mkstemp(prefix=target.stem, suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            font.save(out)
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    logger.info("prepared stamp font %s from %s", target, source)
    return target


def _private_cache_dir() -> Path:
    """``$TMPDIR/tra-stamp-<uid>``, created 0700; refuses one that another user could have planted."""
    directory = Path(tempfile.gettempdir()) / f"tra-stamp-{os.getuid()}"
    directory.mkdir(mode=0o700, exist_ok=True)
    info = directory.lstat()
    if directory.is_symlink() or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise StampFontMissing(f"unsafe cache directory for the stamp font: {directory}")
    return directory


class _CompressedTextStamp(TextStamp):
    """pyHanko's text stamp with its appearance stream compressed (pyHanko writes it plain).

    The stream is mostly glyph ids and positions of the shaped Thai and English lines: about
    1.8 KB plain, 0.6 KB compressed, in every signed file."""

    def as_form_xobject(self) -> Any:
        xobject = super().as_form_xobject()
        xobject.compress()
        return xobject


@dataclass(frozen=True)
class _CompressedTextStampStyle(TextStampStyle):
    """``TextStampStyle`` whose stamps are :class:`_CompressedTextStamp`."""

    def create_stamp(self, writer: Any, box: Any, text_params: dict) -> TextStamp:
        return _CompressedTextStamp(writer=writer, style=self, box=box, text_params=text_params)


@lru_cache(maxsize=4)
def stamp_style(font_path: Path | None = None) -> TextStampStyle:
    """The stamp style, built once per process (immutable; the font subset is cached, see stamp_font).

    ``font_path`` defaults to :func:`prepared_font_path` of the first installed
    :data:`STAMP_FONT_PATHS`.
    """
    font = CachedSubsetFactory(
        str(font_path or prepared_font_path()),
        font_size=_FONT_SIZE,
        bcp47_lang_code="th",
    )
    return _CompressedTextStampStyle(
        stamp_text=_STAMP_TEXT,
        text_box_style=TextBoxStyle(
            font=font,
            font_size=_FONT_SIZE,
            leading=_LEADING,
            text_color=_INK,
        ),
        inner_content_layout=SimpleBoxLayoutRule(
            x_align=AxisAlignment.ALIGN_MIN,
            y_align=AxisAlignment.ALIGN_MID,
            inner_content_scaling=InnerScaling.SHRINK_TO_FIT,
            margins=Margins(left=6, right=4, top=3, bottom=3),
        ),
        border_width=1,
        border_color=_INK,
        background=None,
    )


def stamp_text_params(*, agency_th: str, agency_en: str, signed_at: datetime) -> dict[str, str]:
    """The stamp's text values: agency names and the signing time in Bangkok time.

    ``signed_at`` must be timezone-aware. Thai: "14 พฤษภาคม 2569 เวลา 10:15 น." (Buddhist Era);
    English: "14 May 2026 at 10:15 Bangkok time (UTC+7)".
    """
    if signed_at.tzinfo is None:
        raise ValueError("signed_at must be timezone-aware")
    local = signed_at.astimezone(BANGKOK)
    return {
        "agency_th": agency_th,
        "agency_en": agency_en,
        "signed_at_th": f"{thai_date(local)} เวลา {local:%H:%M} น.",
        "signed_at_en": f"{english_date_short(local)} at {local:%H:%M} Bangkok time (UTC+7)",
    }


def stamp_place(document: Any) -> tuple[int, tuple[int, int, int, int]]:
    """Where the stamp goes in ``document``: (page index, box), from the layout when it says so.

    ``document`` is a pyHanko ``PdfFileReader`` or ``IncrementalPdfFileWriter`` (anything
    with ``root``). A certificate template can reserve the stamp's area with an empty element
    ``id="tra-signature-stamp"`` of :data:`STAMP_SIZE` (170 mm × 13.5 mm) in the flow, e.g.
    after the signature block: WeasyPrint records every ``id`` as a named destination holding the
    element's top-left corner, so the stamp follows the layout when the body grows. Without
    that destination: page 0 and :data:`STAMP_BOX`.
    """
    try:
        target = _named_destination(document.root, STAMP_ANCHOR)
        if target is None:
            return 0, STAMP_BOX
        page_ref = target.raw_get(0)  # the page's reference, not the dereferenced page
        left, top = float(target[2]), float(target[3])
        page_index = _page_index(document.root["/Pages"], page_ref)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        logger.warning("ignoring unreadable stamp destination: %s", exc)
        return 0, STAMP_BOX
    if page_index is None:
        return 0, STAMP_BOX
    width, height = STAMP_SIZE
    x1, y2 = round(left), round(top)
    return page_index, (x1, y2 - height, x1 + width, y2)


def _named_destination(root: Any, name: str) -> Any:
    """The destination array called ``name`` in the catalog's ``/Names /Dests`` tree, or None."""
    names = root["/Names"] if "/Names" in root else None
    if names is None or "/Dests" not in names:
        return None
    return _search_name_tree(names["/Dests"], name, 0)


def _search_name_tree(node: Any, name: str, depth: int) -> Any:
    """Look ``name`` up in a name tree node and its kids (a linear scan: the trees are small)."""
    node = node.get_object()
    if depth > 8:  # a real name tree is shallow; refuse loops in a crafted file
        return None
    entries = node["/Names"] if "/Names" in node else None
    if entries is not None:
        for i in range(0, len(entries) - 1, 2):
            if str(entries[i]) == name:
                value = entries[i + 1]  # pyHanko dereferences on indexing
                return value["/D"] if isinstance(value, dict) else value
    kids = node["/Kids"] if "/Kids" in node else ()
    for kid in kids:
        found = _search_name_tree(kid, name, depth + 1)
        if found is not None:
            return found
    return None


def _page_index(pages: Any, page_ref: Any) -> int | None:
    """Index of the page ``page_ref`` in the page tree, or None (depth-first, as pages are numbered)."""
    wanted = getattr(page_ref, "idnum", None)
    if wanted is None:
        return None
    index = 0
    kids = pages["/Kids"]
    stack = [kids.raw_get(i) for i in reversed(range(len(kids)))]
    steps = 0
    while stack and steps < 10_000:  # bounded: a crafted page tree may loop
        steps += 1
        ref = stack.pop()
        node = ref.get_object()
        if node.get("/Type") == "/Pages":
            kids = node["/Kids"]
            stack.extend(kids.raw_get(i) for i in reversed(range(len(kids))))
        elif getattr(ref, "idnum", None) == wanted:
            return index
        else:
            index += 1
    return None


def visible_signature(
    *,
    agency_th: str,
    agency_en: str,
    signed_at: datetime,
    document: Any = None,
    field_name: str = STAMP_FIELD,
) -> VisibleSignature:
    """Everything pyHanko needs to add the visible, bilingual signature stamp.

    ``signed_at`` (aware) is printed on the stamp; pass the same clock reading the signature
    uses (``portal.clock.now()``). ``document`` (the ``IncrementalPdfFileWriter`` being signed)
    lets the stamp follow a reserved area in the layout (:func:`stamp_place`); without it the
    stamp goes to :data:`STAMP_BOX` on page 1. Raises :class:`StampFontMissing` without a
    Thai font.
    """
    page, box = stamp_place(document) if document is not None else (0, STAMP_BOX)
    return VisibleSignature(
        field_spec=SigFieldSpec(sig_field_name=field_name, on_page=page, box=box),
        style=stamp_style(),
        text_params=stamp_text_params(agency_th=agency_th, agency_en=agency_en, signed_at=signed_at),
    )
