"""The stamp's font engine: pyHanko's glyph accumulator, with the font subset made once per process.

What: :class:`CachedSubsetFactory` is a drop-in for pyHanko's ``GlyphAccumulatorFactory``. Shaping,
glyph widths and the ``ToUnicode`` map are pyHanko's, per signature, as before; only the embedded
font program (the subset of the TrueType font, compressed) comes from a per-process cache.

Why: pyHanko subsets the font with fontTools on every signature and then recompiles and
compresses it: about 20-25 ms of a stamped signature's 25-30 ms (measured in ``bench/issue.py``).
The subset depends only on which glyphs the stamp draws. To make that the same for every
signature of an agency, the subset always includes the ten digits, the only glyphs that change
from one signing time to the next (the month name changes once a month, an agency's name never):
a few hundred bytes more per file, and one subset per agency and month instead of one per
signature. The glyphs drawn are still exactly the ones pyHanko measured, so the appearance is
byte for byte the same drawing.

CFF-flavoured (``.otf``) fonts keep pyHanko's own per-signature subsetting.
"""

from __future__ import annotations

import os
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from fontTools import subset
from fontTools.ttLib import TTFont
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.opentype import CIDFontType2, GlyphAccumulator, GlyphAccumulatorFactory

__all__ = ["CachedSubsetFactory", "subset_cache_info"]

ALWAYS_INCLUDED = "0123456789"
"""Characters whose glyphs every cached subset carries, so that the signing time does not change it."""

_CACHE_SIZE = 64  # distinct (font, glyph set) pairs kept; about 6 KB each
_cache: OrderedDict[tuple[str, frozenset[int]], bytes] = OrderedDict()
_cache_lock = threading.Lock()
_stats = {"hits": 0, "misses": 0}


def _fresh_lock_in_child() -> None:
    """After ``fork()`` only the forking thread exists: a lock another thread held stays held."""
    global _cache_lock
    _cache_lock = threading.Lock()


_fork_hook = {"installed": False}


def _install_fork_hook() -> None:
    """Register :func:`_fresh_lock_in_child` on first use (nothing happens at import time)."""
    with _cache_lock:
        if not _fork_hook["installed"] and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_fresh_lock_in_child)
            _fork_hook["installed"] = True


def subset_cache_info() -> dict[str, int]:
    """Hits, misses and entries of this process's subset cache (for tests and the bench)."""
    with _cache_lock:
        return {**_stats, "entries": len(_cache)}


class _CachedFontFile(CIDFontType2):
    """A CIDFontType2 whose ``/FontFile2`` is given (compressed) rather than compiled here."""

    compressed: bytes = b""

    def set_font_file(self, writer: Any) -> Any:
        stream = generic.StreamObject(
            {generic.pdf_name("/Filter"): generic.pdf_name("/FlateDecode")}, encoded_data=self.compressed
        )
        ref = writer.add_object(stream)
        self._font_descriptor[generic.pdf_name("/FontFile2")] = ref
        return ref


class _CachedSubsetAccumulator(GlyphAccumulator):
    """pyHanko's accumulator; ``_extract_subset`` looks the font program up instead of subsetting."""

    def __init__(self, *args: Any, font_file: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._font_file = font_file
        cmap = self.tt.getBestCmap()
        self._always = frozenset(self.tt.getGlyphID(cmap[ord(c)]) for c in ALWAYS_INCLUDED if ord(c) in cmap)
        if isinstance(self.cidfont_obj, CIDFontType2):
            # Same name (with this signature's random subset prefix) and the same descriptor.
            self.cidfont_obj.__class__ = _CachedFontFile

    def _extract_subset(self, options: subset.Options | None = None) -> None:
        if not isinstance(self.cidfont_obj, _CachedFontFile):
            super()._extract_subset(options)
            return
        if not _fork_hook["installed"]:
            _install_fork_hook()
        gids = frozenset(self._glyphs) | self._always
        key = (self._font_file, gids)
        with _cache_lock:
            compressed = _cache.get(key)
            if compressed is not None:
                _cache.move_to_end(key)
                _stats["hits"] += 1
        if compressed is None:
            compressed = _subset_program(self._font_file, gids)
            with _cache_lock:
                _stats["misses"] += 1
                _cache[key] = compressed
                while len(_cache) > _CACHE_SIZE:
                    _cache.popitem(last=False)
        self.cidfont_obj.compressed = compressed


def _subset_program(font_file: str, gids: frozenset[int]) -> bytes:
    """The font cut down to ``gids``, as pyHanko cuts it (glyph ids kept, no layout tables), compressed."""
    options = subset.Options(layout_closure=False)
    options.drop_tables += ["GPOS", "GDEF", "GSUB"]
    options.retain_gids = True  # the content stream draws by glyph id (CIDToGIDMap /Identity)
    # Names a PDF reader may show, the copyright line and the licence URL; not the 2.5 KB licence
    # text (nameID 13), which fontTools would otherwise keep: about 1 KB less per signed file.
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 14]
    font = TTFont(font_file)
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(gids=sorted(gids))
    subsetter.subset(font)
    buffer = BytesIO()
    font.save(buffer)
    return zlib.compress(buffer.getvalue())


@dataclass(frozen=True)
class CachedSubsetFactory(GlyphAccumulatorFactory):
    """``GlyphAccumulatorFactory`` whose engines take the embedded subset from the process's cache."""

    def create_font_engine(self, writer: Any, obj_stream: Any = None) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        with open(self.font_file, "rb") as handle:
            font_bytes = handle.read()
        return _CachedSubsetAccumulator(
            writer=writer,
            font_handle=BytesIO(font_bytes),
            font_size=self.font_size,
            ot_script_tag=self.ot_script_tag,
            ot_language_tag=self.ot_language_tag,
            writing_direction=self.writing_direction,
            bcp47_lang_code=self.bcp47_lang_code,
            obj_stream=obj_stream,
            font_file=self.font_file,
        )
