"""What may follow a file's last signature or document timestamp: archive data, nothing else.

What: :func:`non_archival_update` reads each incremental update after a given revision and says
why it is more than archive data, or None. An archive update (PAdES' DSS) may change the
catalog's ``/DSS`` (and ``/Extensions``) entry and add the objects the new DSS reaches
(certificates, OCSP responses, CRLs, VRI dictionaries), besides the file's own cross-reference
and object streams, the refreshed XMP packet and the document information's ``/ModDate`` and
``/Producer`` (writers update them on every update); it may not change any other document
information, other catalog entries, free objects, or add objects nothing in the
DSS reaches.

Why: pyHanko's difference analysis classes some updates after the last timestamp as
``LTA_UPDATES`` (a new ``/Info`` with another title and author, an unreferenced object), so a
file changed after its last timestamp read as "not changed after signing". A document
timestamp itself is checked by pyHanko's analysis of the revisions it covers; nothing after the
last one is covered by anything, so here only archive data passes.
"""

from __future__ import annotations

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

__all__ = ["non_archival_update"]

#: Document information entries every writer refreshes on an update, archive updates included.
_REFRESHED_INFO_KEYS = frozenset({"/ModDate", "/Producer"})

#: Catalog entries an archive update may add or change.
_ARCHIVAL_CATALOG_KEYS = frozenset({"/DSS", "/Extensions"})


def non_archival_update(reader: PdfFileReader, after_revision: int) -> str | None:
    """Why an update after revision ``after_revision`` (0-based) is not archive data, or None."""
    total = reader.xrefs.total_revisions
    for revision in range(after_revision + 1, total):
        why = _not_archival(reader, revision)
        if why is not None:
            return f"update {revision + 1} of {total}: {why}"
    return None


def _not_archival(reader: PdfFileReader, revision: int) -> str | None:
    before = reader.get_historical_resolver(revision - 1)
    after = reader.get_historical_resolver(revision)
    if after.root_ref != before.root_ref:
        return "the document catalog was replaced"
    info = _info_ref(after)
    if info != _info_ref(before):
        return "the document information was replaced"
    if reader.xrefs.refs_freed_in_revision(revision):
        return "objects were deleted"
    changed = set(reader.xrefs.explicit_refs_in_revision(revision))
    if info in changed:
        if _changed_entry(before.get_object(info), after.get_object(info), _REFRESHED_INFO_KEYS):
            return "the document information was changed"
        changed.discard(info)
    if after.root_ref in changed:
        key = _changed_entry(before.root, after.root, _ARCHIVAL_CATALOG_KEYS)
        if key is not None:
            return f"the document catalog's {key} was changed"
        changed.discard(after.root_ref)
    if not changed:
        return None
    reached = _reached_from_dss(after)
    metadata = after.root.raw_get("/Metadata") if "/Metadata" in after.root else None
    if isinstance(metadata, generic.IndirectObject):
        # Writers refresh the XMP packet's dates on every update, archive updates included.
        reached.add(metadata.reference)
    stray = {ref for ref in changed - reached if not _structural(after, ref)}
    if stray:
        return f"{len(stray)} object(s) other than archive data were added or changed"
    return None


def _info_ref(resolver) -> generic.Reference | None:
    """The document information dictionary's reference in ``resolver``'s revision, if any."""
    info = resolver.trailer_view.raw_get("/Info") if "/Info" in resolver.trailer_view else None
    return info.reference if isinstance(info, generic.IndirectObject) else None


def _changed_entry(old: generic.DictionaryObject, new: generic.DictionaryObject, allowed) -> str | None:
    """The first key outside ``allowed`` whose value differs between ``old`` and ``new``."""
    for key in (set(old.keys()) | set(new.keys())) - allowed:
        if _entry(old, key) != _entry(new, key):
            return key
    return None


def _entry(dictionary: generic.DictionaryObject, key: str) -> generic.PdfObject | None:
    return dictionary.raw_get(key) if key in dictionary else None


def _structural(resolver, ref: generic.Reference) -> bool:
    """Whether ``ref`` is the file's own bookkeeping (a cross-reference or object stream)."""
    obj = resolver.get_object(ref)
    return isinstance(obj, generic.StreamObject) and obj.get("/Type") in ("/XRef", "/ObjStm")


def _reached_from_dss(resolver) -> set[generic.Reference]:
    """Every indirect object the catalog's ``/DSS`` reaches (the DSS itself included)."""
    root = resolver.root
    if "/DSS" not in root:
        return set()
    dss = root.raw_get("/DSS")
    reached = resolver.collect_dependencies(dss)
    if isinstance(dss, generic.IndirectObject):
        reached.add(dss.reference)
    return reached
