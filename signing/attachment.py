"""The approval chain inside the PDF: ``chain.json`` as a PDF/A-3 associated file.

Every signing increment writes a fresh ``chain.json`` (all records so far, the new one included)
before the signature is computed, so each signature covers the chain as it stood. Later
increments therefore change the catalog's ``/Names`` and ``/AF``; pyHanko's difference analysis
knows no rule for that, so :class:`ChainAttachmentRule` allows exactly this change and nothing
else (no other name trees, no other attachments), and :data:`CHAIN_DIFF_POLICY` is pyHanko's
default policy plus that rule. The file is written by hand rather than with
``pyhanko.pdf_utils.embed.embed_file`` because that bumps the PDF version to 2.0, which would
contradict the PDF/A-3 (PDF 1.7) identity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import cast

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.embed import EmbeddedFileObject, EmbeddedFileParams
from pyhanko.pdf_utils.generic import pdf_name, pdf_string
from pyhanko.pdf_utils.reader import HistoricalResolver
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign.diff_analysis import (
    CatalogModificationRule,
    DocInfoRule,
    DSSCompareRule,
    FormUpdatingRule,
    GenericFieldModificationRule,
    MetadataUpdateRule,
    ModificationLevel,
    ObjectStreamRule,
    QualifiedWhitelistRule,
    ReferenceUpdate,
    SigFieldCreationRule,
    SigFieldModificationRule,
    StandardDiffPolicy,
    SuspiciousModification,
    XrefStreamRule,
)
from pyhanko.sign.diff_analysis.constants import ROOT_EXEMPT_STRICT_COMPARISON

CHAIN_FILE_NAME = "chain.json"


def _deref(obj: object) -> object:
    if isinstance(obj, generic.IndirectObject):
        return obj.get_object()
    return obj


def _pdf_dict(entries: Mapping[str, object] | None = None) -> generic.DictionaryObject:
    """A PDF dictionary of ``entries`` (pyHanko's constructor carries no annotations)."""
    return generic.DictionaryObject(entries)


def _af_array(root: generic.DictionaryObject) -> generic.ArrayObject:
    """The catalog's /AF array (empty when absent)."""
    af = _deref(root.raw_get("/AF")) if "/AF" in root else generic.ArrayObject()
    if not isinstance(af, generic.ArrayObject):
        raise SuspiciousModification("/AF is not an array")
    return af


def _names_pairs(names_dict: object) -> list[tuple[str, object]]:
    """Flat (name, raw value) pairs of the /EmbeddedFiles name tree; [] when absent."""
    names_dict = _deref(names_dict)
    if not isinstance(names_dict, generic.DictionaryObject) or "/EmbeddedFiles" not in names_dict:
        return []
    tree = _deref(names_dict.raw_get("/EmbeddedFiles"))
    if not isinstance(tree, generic.DictionaryObject) or "/Kids" in tree:
        raise SuspiciousModification("embedded-file name tree is not flat")
    arr = _deref(tree.raw_get("/Names")) if "/Names" in tree else generic.ArrayObject()
    if not isinstance(arr, generic.ArrayObject) or len(arr) % 2:
        raise SuspiciousModification("malformed embedded-file name array")
    return [(str(arr[i]), arr.raw_get(i + 1)) for i in range(0, len(arr), 2)]


def attach_chain(writer: BasePdfFileWriter, chain_json: bytes) -> None:
    """Write ``chain.json`` into the writer's next revision, replacing any earlier one."""
    now = datetime.now(UTC).replace(microsecond=0)
    ef = EmbeddedFileObject.from_file_data(
        writer, data=chain_json, compress=True, mime_type="application/json",
        params=EmbeddedFileParams(modification_date=now),
    )
    spec = _pdf_dict({
        pdf_name("/Type"): pdf_name("/Filespec"),
        pdf_name("/F"): pdf_string(CHAIN_FILE_NAME),
        pdf_name("/UF"): pdf_string(CHAIN_FILE_NAME),
        pdf_name("/EF"): _pdf_dict({
            pdf_name("/F"): ef.ef_stream_ref,  # the constructor already added the stream
            pdf_name("/UF"): ef.ef_stream_ref,
        }),
        pdf_name("/Desc"): generic.TextStringObject("审批链 approval chain (doc-service)"),
        pdf_name("/AFRelationship"): pdf_name("/Data"),
    })
    spec_ref = writer.add_object(spec)

    root = writer.root
    old_names = _deref(root.raw_get("/Names")) if "/Names" in root else None
    old_pairs = _names_pairs(old_names) if old_names is not None else []
    old_chain_refs = [v for n, v in old_pairs if n == CHAIN_FILE_NAME]
    arr = generic.ArrayObject()
    for name, value in old_pairs:
        if name != CHAIN_FILE_NAME:
            arr.extend([pdf_string(name), value])
    arr.extend([pdf_string(CHAIN_FILE_NAME), spec_ref])
    # name-tree keys must be sorted (ISO 32000-1 §7.9.6)
    pairs = sorted(((str(arr[i]), arr.raw_get(i + 1)) for i in range(0, len(arr), 2)),
                   key=lambda p: p[0])
    arr = generic.ArrayObject()
    for name, value in pairs:
        arr.extend([pdf_string(name), value])
    tree = _pdf_dict({pdf_name("/Names"): writer.add_object(arr)})
    names = _pdf_dict(
        {k: old_names.raw_get(k) for k in old_names} if isinstance(old_names,
                                                                   generic.DictionaryObject)
        else {})
    names[pdf_name("/EmbeddedFiles")] = writer.add_object(tree)
    root[pdf_name("/Names")] = writer.add_object(names)

    old_af = _af_array(root)
    af = generic.ArrayObject(
        old_af.raw_get(i) for i in range(len(old_af))
        if not any(_same_ref(old_af.raw_get(i), c) for c in old_chain_refs))
    af.append(spec_ref)
    root[pdf_name("/AF")] = writer.add_object(af)
    writer.update_root()


def _same_ref(a: object, b: object) -> bool:
    ra = a.reference if isinstance(a, generic.IndirectObject) else None
    rb = b.reference if isinstance(b, generic.IndirectObject) else None
    return ra is not None and ra == rb


def read_chain(resolver_root: generic.DictionaryObject) -> bytes | None:
    """The ``chain.json`` bytes reachable from a (possibly historical) catalog, or ``None``."""
    if "/Names" not in resolver_root:
        return None
    for name, value in _names_pairs(resolver_root.raw_get("/Names")):
        if name == CHAIN_FILE_NAME:
            spec = cast(generic.DictionaryObject, _deref(value))
            stream = cast(generic.StreamObject, _deref(spec["/EF"].raw_get("/F")))
            return stream.data
    return None


class ChainAttachmentRule(QualifiedWhitelistRule):
    """Allow a revision to replace ``chain.json`` (and only that) in /Names and /AF."""

    def apply_qualified(
        self, old: HistoricalResolver, new: HistoricalResolver
    ) -> Iterable[tuple[ModificationLevel, ReferenceUpdate]]:
        old_root, new_root = old.root, new.root
        if "/Names" not in new_root and "/AF" not in new_root:
            return
        old_names = _deref(old_root.raw_get("/Names")) if "/Names" in old_root else None
        new_names = _deref(new_root.raw_get("/Names")) if "/Names" in new_root else None
        if _refs_equal(old_root, new_root, "/Names") and _refs_equal(old_root, new_root, "/AF"):
            return
        if not isinstance(new_names, generic.DictionaryObject):
            raise SuspiciousModification("/Names removed or malformed")
        old_dict = (old_names if isinstance(old_names, generic.DictionaryObject)
                    else _pdf_dict())
        old_keys = set(old_dict.keys())
        for key in (old_keys | set(new_names.keys())) - {"/EmbeddedFiles"}:
            if key not in old_keys or key not in new_names or \
                    old_dict.raw_get(key) != new_names.raw_get(key):
                raise SuspiciousModification(f"/Names{key} changed after signing")
        old_pairs = dict(_names_pairs(old_names)) if old_names is not None else {}
        new_pairs = dict(_names_pairs(new_names))
        for name in set(old_pairs) | set(new_pairs):
            if name == CHAIN_FILE_NAME:
                continue
            if name not in old_pairs or name not in new_pairs or \
                    not _same_ref(old_pairs[name], new_pairs[name]):
                raise SuspiciousModification(f"embedded file {name!r} added or changed")
        if CHAIN_FILE_NAME not in new_pairs:
            raise SuspiciousModification("chain.json removed")
        spec_raw = new_pairs[CHAIN_FILE_NAME]
        spec = _deref(spec_raw)
        if not isinstance(spec, generic.DictionaryObject) or spec.get("/Type") != "/Filespec":
            raise SuspiciousModification("chain.json file spec malformed")
        stream_raw = spec["/EF"].raw_get("/F")
        old_af, new_af = _af_array(old_root), _af_array(new_root)
        old_chain = old_pairs.get(CHAIN_FILE_NAME)
        kept_old = [old_af.raw_get(i) for i in range(len(old_af))
                    if old_chain is None or not _same_ref(old_af.raw_get(i), old_chain)]
        kept_new = [new_af.raw_get(i) for i in range(len(new_af))
                    if not _same_ref(new_af.raw_get(i), spec_raw)]
        if len(kept_old) != len(kept_new) or not all(
                a == b for a, b in zip(kept_old, kept_new, strict=True)):
            raise SuspiciousModification("/AF changed beyond chain.json")

        level = ModificationLevel.FORM_FILLING
        for key in ("/Names", "/AF"):
            raw = new_root.raw_get(key) if key in new_root else None
            if isinstance(raw, generic.IndirectObject):
                yield level, ReferenceUpdate(raw.reference)
        ef_raw = new_names.raw_get("/EmbeddedFiles")
        if isinstance(ef_raw, generic.IndirectObject):
            yield level, ReferenceUpdate(ef_raw.reference)
        ef_tree = _deref(ef_raw)
        if not isinstance(ef_tree, generic.DictionaryObject):  # _names_pairs checked it
            raise SuspiciousModification("embedded-file name tree is not flat")
        arr_raw = ef_tree.raw_get("/Names")
        for raw in (arr_raw, spec_raw, stream_raw):
            if isinstance(raw, generic.IndirectObject):
                yield level, ReferenceUpdate(raw.reference)


def _refs_equal(a: generic.DictionaryObject, b: generic.DictionaryObject, key: str) -> bool:
    if (key in a) != (key in b):
        return False
    return key not in a or a.raw_get(key) == b.raw_get(key)


CHAIN_DIFF_POLICY = StandardDiffPolicy(
    global_rules=[
        CatalogModificationRule(
            ignored_keys=ROOT_EXEMPT_STRICT_COMPARISON | {"/Names", "/AF"}),
        ChainAttachmentRule(),
        DocInfoRule().as_qualified(ModificationLevel.LTA_UPDATES),
        XrefStreamRule().as_qualified(ModificationLevel.LTA_UPDATES),
        ObjectStreamRule().as_qualified(ModificationLevel.LTA_UPDATES),
        DSSCompareRule().as_qualified(ModificationLevel.LTA_UPDATES),
        MetadataUpdateRule().as_qualified(
            ModificationLevel.LTA_UPDATES),
    ],
    form_rule=FormUpdatingRule(
        field_rules=[
            SigFieldCreationRule(),
            SigFieldModificationRule(),
            GenericFieldModificationRule(),
        ],
    ),
)
"""pyHanko's default difference policy plus :class:`ChainAttachmentRule`."""
