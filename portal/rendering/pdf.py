"""HTML → PDF for certificates, with WeasyPrint.

This is the only module of the portal that imports WeasyPrint, and it does so lazily (on the
first render or :meth:`PdfRenderer.warm`), so importing :mod:`portal.rendering` for its date
filters costs the web process nothing.

Performance: building a :class:`weasyprint.text.fonts.FontConfiguration` and parsing the
stylesheet cost tens of milliseconds and font discovery more on first use, so
:class:`PdfRenderer` builds them once and reuses them; make one renderer per process. The
FIELD-NOTES figure of about 64 ms warm is for a small document; the full bilingual DLT
certificate (about 120 elements, a records table, the QR code, the sample watermark) takes
about 175 ms at best on the 2-core development machine (about 186 ms before the changes listed
below; medians on the noisy machine are higher). Nearly all of it is WeasyPrint's Python
code, and it grows with the number of elements and text runs, about evenly over the page
(each element or run costs roughly 0.5 % of the certificate; the records table is a quarter,
the verification box a fifth). Layout choices (floats, fixed tables, absolute positioning)
and fonts barely matter; what helps, measured:

* the QR as a small PNG drawn with ``image-rendering: pixelated`` rather than an SVG, which
  WeasyPrint parses and paints segment by segment on every render (about 4 %);
* no ``lang`` attribute on the English spans (each is parsed as a style declaration on every
  render, about 5 % for some 30 of them; the PDF is untagged, so it changed nothing visible);
* no wrapper elements that carry no style, and column widths on the header cells rather than
  a ``colgroup`` (about 0.5 % per element saved);
* no cyclic garbage collection during the render (:func:`_gc_paused`): the collector's time
  per render fell from about 25-35 ms to about 10 ms (more with a bigger process heap).

Keep new certificate templates lean in elements for the same reason.

PDF/A-3b (``render(..., data=...)``): WeasyPrint writes the XMP identification (part 3,
conformance B), an sRGB output intent, embeds every font, and attaches the JSON as an
associated file (``/AFRelationship /Data``, MIME type ``application/json``). Three changes are
applied before the file is written (:func:`_single_associated_file_entries`): WeasyPrint's
duplicate ``/AF`` entry goes, so does the ``/Producer`` entry that pyHanko would later make
disagree with the XMP, and the 3 KB sRGB profile becomes a 588-byte one (:func:`srgb_profile`).
Level B needs no tagging, so the ``lang`` attributes removed for speed stay removed. Measured on
the DLT certificate, 40 interleaved renders on the loaded 2-core machine: median 218 ms plain,
226 ms PDF/A-3b with data (best 145 vs 157 ms); 26.0 KB vs 31.0 KB (the ICC profile, XMP and
JSON; with the small profile the difference is about 3 KB). No PDF/A validator runs here:
``tests/rendering/test_pdfa.py`` checks the structure piece by piece and runs ``qpdf --check``.

Thread safety: a ``FontConfiguration`` used from two threads at once crashes the process
(segfault in Pango line breaking, with no Python exception). :class:`PdfRenderer` therefore
serialises its renders with a lock. Threads give no speed-up anyway; to render in parallel use
several *processes*, each with its own renderer (build it in the worker, or in a
single-threaded parent before forking).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

if TYPE_CHECKING:  # pragma: no cover - typing only; WeasyPrint is imported lazily
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcher

__all__ = [
    "CERTIFICATE_CSS_PATH",
    "DATA_FILE_NAME",
    "PDF_VARIANT",
    "PdfRenderer",
    "certificate_json",
    "embedded_data",
]

logger = logging.getLogger(__name__)

#: The shared certificate stylesheet (``static/css/certificate.css`` in the repository).
CERTIFICATE_CSS_PATH = Path(__file__).resolve().parents[2] / "static" / "css" / "certificate.css"

PDF_VARIANT = "pdf/a-3b"
"""The archival profile of a certificate that carries its data (ISO 19005-3, level B)."""

DATA_FILE_NAME = "data.json"
"""Name of the embedded JSON file (the PDF/A-3 associated file with the document's facts)."""

DATA_FILE_DESCRIPTION = "Certificate data (machine-readable) / ข้อมูลของหนังสือรับรองสำหรับโปรแกรม"

# Renderers alive in this process, so that a forked child can replace their locks (a lock
# held by another thread at fork time would otherwise stay locked forever in the child).
_live_renderers: weakref.WeakSet[PdfRenderer] = weakref.WeakSet()
_fork_hook_lock = threading.Lock()
_fork_hook_installed = False


def _reset_locks_in_child() -> None:
    """After ``fork()``, give every renderer a fresh, unlocked lock (only this thread exists)."""
    for renderer in list(_live_renderers):
        renderer._lock = threading.Lock()


def _install_fork_hook() -> None:
    """Register :func:`_reset_locks_in_child` once, when the first renderer is built."""
    global _fork_hook_installed
    with _fork_hook_lock:
        if not _fork_hook_installed and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_reset_locks_in_child)
            _fork_hook_installed = True


class PdfRenderer:
    """Turns certificate HTML into PDF bytes; one per process (holds a FontConfiguration and parsed CSS).

    ``stylesheet_paths`` are the CSS files applied to every document (normally
    :data:`CERTIFICATE_CSS_PATH`); they are parsed once, on first use. ``base_url`` resolves
    relative URLs in the HTML (e.g. an agency's emblem image); without it, documents may only
    use ``data:`` URIs.

    Resource loading is restricted on purpose: ``data:`` URIs, and ``file:`` URLs under the
    directory of ``base_url`` (when that is a local path) or of a stylesheet. Anything else
    (``http:``, other files) is refused, so text that reaches a template can never make the
    renderer fetch from the network or read arbitrary files. WeasyPrint logs the refusal and
    carries on without the resource.

    Renders are serialised with a lock (see the module docstring for why); the object is
    safe to share between threads, but gives no parallelism.
    """

    def __init__(self, *, stylesheet_paths: Sequence[Path], base_url: str | None = None) -> None:
        paths = [Path(p) for p in stylesheet_paths]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"stylesheet(s) not found: {', '.join(missing)}")
        self._stylesheet_paths: tuple[Path, ...] = tuple(paths)
        self._base_url = base_url
        # Local files may come from the base URL's directory and from the stylesheets'
        # directories (for fonts or images a stylesheet refers to).
        roots = {p.resolve().parent for p in paths}
        base_root = _local_root(base_url)
        if base_root is not None:
            roots.add(base_root)
        self._allowed_roots: frozenset[Path] = frozenset(roots)
        self._lock = threading.Lock()
        self._font_config: FontConfiguration | None = None
        self._stylesheets: list[CSS] | None = None
        self._url_fetcher: URLFetcher | None = None
        _install_fork_hook()
        _live_renderers.add(self)

    @property
    def stylesheet_paths(self) -> tuple[Path, ...]:
        """The stylesheets applied to every document, in cascade order."""
        return self._stylesheet_paths

    def warm(self) -> None:
        """Build the font configuration and parse the stylesheets now, and render once.

        Call it at worker start-up (before forking, if the worker forks) so that the first
        real certificate does not pay for WeasyPrint's import, font discovery and CSS parsing.
        """
        self.render(
            '<!doctype html><html lang="th"><meta charset="utf-8"><p>ตัวอย่าง Sample 0123456789</p></html>'
        )

    def render(
        self,
        html: str,
        *,
        title: str | None = None,
        data: Mapping[str, Any] | None = None,
        data_created: datetime | None = None,
    ) -> bytes:
        """Render ``html`` (a complete HTML document, as ``str``) to PDF bytes.

        ``title`` overrides the PDF's /Title, which otherwise comes from the HTML ``<title>``.
        The HTML must be ``str``: bytes without a declared charset turn Thai into mojibake.

        Without ``data`` the result is a plain PDF. With ``data`` (a JSON-serialisable mapping,
        see :func:`certificate_json`) it is PDF/A-3b carrying ``data`` as the associated file
        :data:`DATA_FILE_NAME` (``/AFRelationship /Data``), so that software can read the
        document's facts without extracting text. ``data_created`` (aware) dates the embedded
        file and the PDF's creation date; it defaults to now.
        """
        if not isinstance(html, str):
            raise TypeError("pass the HTML as str, not bytes (Thai would be decoded wrongly)")
        write_options: dict[str, Any] = {}
        if data is not None:
            payload = certificate_json(data)
        started = time.perf_counter()
        with self._lock:
            from weasyprint import HTML, Attachment

            font_config, stylesheets, url_fetcher = self._ready()
            with _gc_paused():
                document = HTML(string=html, base_url=self._base_url, url_fetcher=url_fetcher).render(
                    stylesheets=stylesheets, font_config=font_config
                )
                if title is not None:
                    document.metadata.title = title
                if data is not None:
                    stamp = (data_created or datetime.now(UTC)).astimezone(UTC)
                    document.metadata.created = document.metadata.modified = stamp.isoformat()
                    write_options = {
                        "pdf_variant": PDF_VARIANT,
                        "attachments": [
                            Attachment(
                                string=payload,
                                name=DATA_FILE_NAME,
                                description=DATA_FILE_DESCRIPTION,
                                relationship="Data",  # exactly "Data": WeasyPrint writes it unchecked
                                created=stamp,
                                modified=stamp,
                            )
                        ],
                        "finisher": _single_associated_file_entries,
                    }
                pdf: bytes = document.write_pdf(**write_options)
                pages = len(document.pages)
                del document
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.debug(
            "rendered %d page(s)%s, %d bytes in %.1f ms",
            pages,
            " as PDF/A-3b" if data is not None else "",
            len(pdf),
            elapsed_ms,
        )
        return pdf

    def _ready(self) -> tuple[FontConfiguration, list[CSS], URLFetcher]:
        """Create the FontConfiguration, URL fetcher and parsed stylesheets once (lock held)."""
        if self._font_config is None or self._stylesheets is None or self._url_fetcher is None:
            from weasyprint import CSS
            from weasyprint.text.fonts import FontConfiguration

            started = time.perf_counter()
            font_config = FontConfiguration()
            url_fetcher = _restricted_url_fetcher(self._allowed_roots)
            stylesheets = [
                CSS(filename=str(path), font_config=font_config, url_fetcher=url_fetcher)
                for path in self._stylesheet_paths
            ]
            self._font_config, self._stylesheets = font_config, stylesheets
            self._url_fetcher = url_fetcher
            logger.info(
                "PDF renderer ready in %.0f ms (pid %d, %d stylesheet(s))",
                (time.perf_counter() - started) * 1000,
                os.getpid(),
                len(stylesheets),
            )
        return self._font_config, self._stylesheets, self._url_fetcher


def certificate_json(data: Mapping[str, Any]) -> str:
    """Serialise a certificate's facts as the compact UTF-8 JSON embedded in its PDF.

    Dates and datetimes become ISO 8601 strings, ``Decimal`` a string, enums their value,
    tuples and sets lists; Thai stays as is (not ``\\u`` escaped). Keys are sorted so that the
    same facts always give the same bytes. Anything else raises ``TypeError``: an issuer
    must not put objects of unknown shape into a document.
    """
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_json_value)


def _json_value(value: Any) -> Any:
    """``json.dumps`` fallback for the value types certificates carry."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | set | frozenset):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    if hasattr(value, "__html__"):  # markupsafe.Markup and friends: their text
        return str(value)
    raise TypeError(f"{type(value).__name__} is not allowed in certificate data")


def embedded_data(pdf: bytes) -> Any | None:
    """The parsed :data:`DATA_FILE_NAME` embedded in ``pdf`` (its first revision's catalog), or None.

    Returns None when the PDF carries no such file; raises ``ValueError`` when the PDF or the
    JSON cannot be read. Signatures add incremental updates and keep the embedded file, so
    this works on signed certificates too. Reading a file's claims proves nothing by itself:
    trust them only after the signature has been validated.
    """
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        for spec_ref in reader.root.get("/AF", ()):
            spec = spec_ref.get_object()
            if spec.get("/UF", spec.get("/F")) != DATA_FILE_NAME:
                continue
            stream = spec["/EF"]["/F"].get_object()
            return json.loads(stream.data.decode("utf-8"))
    except (PdfError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise ValueError(f"unreadable PDF or embedded data: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"embedded {DATA_FILE_NAME} is not JSON: {exc}") from exc
    return None


def _single_associated_file_entries(document: Any, pdf: Any) -> None:
    """WeasyPrint finisher for PDF/A: one ``/AF`` entry per file, and no ``/Producer`` in /Info.

    WeasyPrint 70 adds an embedded file to ``/AF`` twice (once from the ``/EmbeddedFiles`` name
    tree, once from the file-spec objects). Fixing the array in the pydyf document before it
    is written keeps the file at one revision with one well-formed entry, rather than
    patching it afterwards with an incremental update.

    The document information's ``/Producer`` goes because pyHanko, when it signs, appends its
    name to an existing ``/Producer`` ("WeasyPrint 70.0; pyHanko 0.38.0") but writes only its
    own name into the XMP ``pdf:Producer``; PDF/A requires the two to agree. Without the
    entry, pyHanko writes the same value to both.
    """
    import pydyf

    pdf.info.pop("Producer", None)
    _compact_output_profile(pdf)
    entries = pdf.catalog.get("AF")
    if entries is None:
        return
    unique: list[Any] = []
    for entry in entries:
        if entry not in unique:
            unique.append(entry)
    pdf.catalog["AF"] = pydyf.Array(unique)


def _compact_output_profile(pdf: Any) -> None:
    """Swap WeasyPrint's 3 KB sRGB profile (output intent and ICC colour space) for :func:`srgb_profile`."""
    import pydyf

    intents = pdf.catalog.get("OutputIntents")
    if not intents:
        return
    reference = intents[0].get("DestOutputProfile")
    for obj in pdf.objects:
        if isinstance(obj, pydyf.Stream) and obj.reference == reference:
            obj.stream = [srgb_profile()]
            return


@lru_cache(maxsize=1)
def srgb_profile() -> bytes:
    """A 588-byte ICC sRGB profile (LittleCMS's built-in sRGB, through Pillow), made once per process.

    Why: WeasyPrint embeds ``sRGB2014.icc`` (ICC v2, 3 KB, 2.5 KB compressed) in every PDF/A file,
    a twentieth of a signed B-LTA certificate; this describes the same colour space with parametric
    tone curves in a fifth of the size. The header says version 4.2 (LittleCMS writes 4.4, but uses
    no tag or type newer than 4.2), the version of ISO 15076-1:2005 that PDF/A-2 and -3 cite. The
    profile ID is left zero ("not computed"), which the ICC allows.
    """
    from PIL import ImageCms

    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    if profile[36:40] != b"acsp" or profile[12:24] != b"mntrRGB XYZ " or any(profile[84:100]):
        raise RuntimeError("unexpected sRGB profile from LittleCMS")
    profile[8:12] = bytes((4, 0x20, 0, 0))
    return bytes(profile)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Keep Python's cyclic garbage collector out of a render, then collect its garbage once.

    A render allocates tens of thousands of objects that stay alive until it ends (boxes,
    computed styles with a hundred entries each, Pango layouts). With the collector on, they
    trigger about 20 young and 2 middle-generation collections per render, get promoted, and
    every few renders push a full collection over the whole heap (all of WeasyPrint, Flask and
    pyHanko): together about a sixth of the render time. Paused, the render runs without
    collections; afterwards one young-generation collection frees the render's garbage (about
    12,000 objects in reference cycles: the parsed HTML tree, styles) while it is still young.

    The collector is process-wide, so other threads also run without it while a render lasts;
    that only delays their collections. If it was off already, it stays off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            gc.collect(0)


def _restricted_url_fetcher(allowed_roots: frozenset[Path]) -> URLFetcher:
    """Build a WeasyPrint URL fetcher that serves ``data:`` URIs and files under ``allowed_roots``.

    Everything else (``http:``, ``ftp:``, files elsewhere) raises ``ValueError``, which
    WeasyPrint logs as a warning before carrying on without the resource.
    """
    from weasyprint.urls import URLFetcher

    class RestrictedURLFetcher(URLFetcher):
        """URLFetcher limited to ``data:`` URIs and local files under the allowed roots."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme == "file":
                target = Path(url2pathname(parts.path)).resolve()
                if not any(target.is_relative_to(root) for root in allowed_roots):
                    logger.warning("certificate renderer refused file %s", target)
                    raise ValueError(f"file outside the allowed directories: {target}")
            elif scheme != "data":
                logger.warning("certificate renderer refused %s URL %.200s", scheme or "relative", url)
                raise ValueError(f"{scheme or 'relative'} URLs are not fetched when rendering certificates")
            return super().fetch(url, headers)

    return RestrictedURLFetcher(allowed_protocols=("data", "file"), allow_redirects=False)


def _local_root(base_url: str | None) -> Path | None:
    """Directory that ``file:`` resources may come from, derived from ``base_url`` (or None)."""
    if not base_url:
        return None
    parts = urlsplit(base_url)
    if parts.scheme not in ("", "file"):
        return None
    path = Path(url2pathname(parts.path) if parts.scheme == "file" else base_url)
    path = path.resolve()
    return path if base_url.endswith(("/", os.sep)) or path.is_dir() else path.parent
