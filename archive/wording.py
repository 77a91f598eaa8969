"""The archive's findings and names as people read them, in Chinese: the one place for them.

What the archive reports is typed (:class:`~archive.model.FileRole`,
:class:`~archive.fixity.FixityProblem`, :class:`~archive.backup.FindingKind` and
:class:`~archive.backup.FindingCheck`, :class:`~archive.package.SignatureCheck`,
:class:`~archive.package.TrustRootSource`); this module turns those into Chinese for the
command line and the archive office's pages, so neither words a finding by matching its
text, and a new kind cannot go unworded (the mappings name every member; a test checks it).
The English ``detail`` of a finding stays for logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, assert_never

from .backup import FindingCheck, FindingKind, RestoreFinding
from .fixity import SCHEDULED, FixityProblem
from .model import BEIJING, FileRole, as_utc
from .package import SignatureCheck, TrustRootSource

UNFINISHED = "未完成（可能已中断）"
"""How a fixity run whose end was never recorded is named, on the command line and pages."""

FILE_ROLES: Mapping[FileRole, str] = {
    FileRole.FINAL_PDF: "最终 PDF",
    FileRole.CHAIN_JSON: "签批链",
    FileRole.SUPERSEDED_VERSION_PDF: "被取代的早期版本",
    FileRole.VOID_CHAIN_JSON: "作废签批链",
}
FIXITY_PROBLEMS: Mapping[FixityProblem, str] = {
    FixityProblem.MISSING: "缺失",
    FixityProblem.CHANGED: "已被改动",
    FixityProblem.UNREADABLE: "无法读取",
}
SIGNATURE_CHECKS: Mapping[SignatureCheck, str] = {
    SignatureCheck.VALID: "签名有效",
    SignatureCheck.INVALID: "签名无效",
    SignatureCheck.NOT_CHECKED: "签名未核验",
    SignatureCheck.NO_PDF: "无 PDF（作废记录）",
}
TRUST_ROOT_SOURCES: Mapping[TrustRootSource, str] = {
    TrustRootSource.GIVEN: "使用指定的根证书",
    TrustRootSource.PACKAGE: "使用包内附带的根证书（自称，未经独立确认）",
    TrustRootSource.NONE: "没有根证书，未核验签名",
}


def file_role(role: FileRole | str) -> str:
    """A file's role; one read from a backup row that is no known role is shown as it is."""
    try:
        return FILE_ROLES[FileRole(role)]
    except ValueError:
        return str(role)


def fixity_problem(problem: FixityProblem | str) -> str:
    """What a fixity run found wrong with a file (a value it does not know: as it is)."""
    try:
        return FIXITY_PROBLEMS[FixityProblem(problem)]
    except ValueError:
        return str(problem)


def runner(run_by: str) -> str:
    """Who ran a fixity run."""
    return "定时任务" if run_by == SCHEDULED else f"用户 {run_by}"


def beijing(at: datetime) -> str:
    """A time as the archive office reads it: Beijing time, to the second."""
    return as_utc(at).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def signature_check(check: SignatureCheck) -> str:
    return SIGNATURE_CHECKS[check]


def trust_root_source(source: TrustRootSource) -> str:
    return TRUST_ROOT_SOURCES[source]


# ---------------------------------------------------------------------- restore findings
COLUMNS: Mapping[str, str] = {
    "sha256": "SHA-256", "sm3": "SM3", "size": "大小（字节）",
    "chain_sha256": "签批链 SHA-256", "archival_ref": "档号", "number": "文号",
    "student_no": "学号", "student_name": "姓名", "college": "院系",
    "issued_on": "开具日期", "sealed_at": "盖章时间", "signers": "签批人",
    "kind": "记录类型", "points_to": "指向的记录", "role": "文件用途",
    "version": "版本", "who": "查档人", "why": "事由", "at": "时间", "action": "操作",
    # the fixity trail
    "started_at": "开始时间", "ended_at": "结束时间", "run_by": "执行者",
    "records_checked": "检查的档案记录数", "files_checked": "检查的文件数",
    "bytes_checked": "检查的字节数", "failures": "问题数",
    "covers_through": "覆盖的首次检查编号", "seq": "首次检查编号",
    "run_id": "固定性检查", "record_id": "档案记录", "position": "文件序号",
    "problem": "问题", "expected_sha256": "应有 SHA-256", "expected_sm3": "应有 SM3",
    "expected_size": "应有大小（字节）", "found_sha256": "实际 SHA-256",
    "found_sm3": "实际 SM3", "found_size": "实际大小（字节）", "detail": "说明",
}
"""The index's columns, as a difference names them."""
_SHOWN_VALUES = frozenset({"sha256", "sm3", "size", "chain_sha256"})
"""Columns of records and files whose two values are printed (the others: only named)."""
_TIMES = frozenset({"started_at", "ended_at", "at", "sealed_at", "created_at"})


def _value(column: str, value: Any) -> str:
    """One side of a difference as people read it: Beijing time, who ran a run, the problem."""
    if value is None or value == "":
        return "（无）"
    if column in _TIMES and isinstance(value, str):
        try:
            return f"{beijing(datetime.fromisoformat(value))}（北京时间）"
        except ValueError:
            return value
    if column == "run_by":
        return runner(str(value))
    if column == "problem":
        return fixity_problem(str(value))
    return str(value)


def _differences(f: RestoreFinding, found: str = "档案库", recorded: str = "备份",
                 shown: frozenset[str] | None = _SHOWN_VALUES) -> str:
    """Each differing column, with both values for those in ``shown`` (``None``: all)."""
    parts = []
    for d in f.differences:
        name = COLUMNS.get(d.column, d.column)
        if shown is None or d.column in shown:
            parts.append(f"{name}：{found}为 {_value(d.column, d.archive)}，"
                         f"{recorded}为 {_value(d.column, d.backup)}")
        else:
            parts.append(f"{name}不同")
    return "；".join(parts)


def _file(f: RestoreFinding) -> str:
    """The file a finding is about: 档号, record id, its ordinal and role."""
    which = f"第 {f.position + 1} 个文件" if f.position is not None else "文件"
    return f"档案 {f.archival_ref}（记录 {f.record_id}）{which}（{file_role(f.role)}）"


def _pair(f: RestoreFinding) -> tuple[str, str, str, str]:
    """(backup's record id, its 档号, the other record's id, its 档号) of a clash."""
    ids, refs = tuple(f.record_ids) + ("", ""), tuple(f.archival_refs) + ("", "")
    return ids[0], refs[0], ids[1], refs[1]


def _index_finding(f: RestoreFinding) -> list[str]:
    """Records, files and log entries the archive holds otherwise than the backup."""
    record = f"档案记录 {f.archival_ref or f.record_id}"
    if f.kind == FindingKind.RECORD_MISMATCH:
        return [f"{record} 已在档案库中，但与备份不一致：{_differences(f)}"]
    if f.kind == FindingKind.LOG_MISMATCH:
        return [f"查档日志（{record}）与备份不一致：{_differences(f)}"]
    if f.check == FindingCheck.ARCHIVE_ONLY:
        return [f"{_file(f)}只在档案库中，备份中没有（SHA-256 {f.sha256}）"]
    if f.check == FindingCheck.BACKUP_ONLY:
        return [f"{_file(f)}只在备份中，档案库中该档案记录没有这个文件（SHA-256 {f.sha256}）"]
    return [f"{_file(f)}与备份不一致：{_differences(f)}"]


def _clash(f: RestoreFinding) -> list[str]:
    """A new record of the backup whose 档号 or document version the archive gave another."""
    mine, my_ref, other, other_ref = _pair(f)
    if f.kind == FindingKind.DEDUPE_KEY_CLASH:
        return [f"文书版本重复：备份中的档案记录 {mine}（档号 {my_ref}）不在档案库中，但档案库"
                f"已将同一文书的同一版本（或同一作废）归档为档案记录 {other}（档号 {other_ref}）"]
    if f.check == FindingCheck.ARCHIVAL_REF_PARTS:
        return [f"档号 {my_ref} 冲突：备份中的档案记录 {mine} 不在档案库中，档案库中的档案记录 "
                f"{other}（档号 {other_ref}）已占用相同的学校代码、年度、保管期限和顺序号"]
    return [f"档号 {my_ref} 冲突：备份中的档案记录 {mine} 不在档案库中，档案库已将该档号给了"
            f"档案记录 {other}"]


_START_SIDES: Mapping[FindingCheck | None, str] = {
    FindingCheck.START_VS_RUN: "备份中的开始记录与档案库中该次检查的完成记录不一致",
    FindingCheck.RUN_VS_START: "备份中的完成记录与档案库中该次检查的开始记录不一致",
}
_FAILURE_SIDES: Mapping[FindingCheck | None, str] = {
    FindingCheck.ARCHIVE_ONLY: "只在档案库中，备份中没有",
    FindingCheck.BACKUP_ONLY: "只在备份中，档案库中没有",
}


def _trail_finding(f: RestoreFinding) -> list[str]:
    """A fixity run, its start, a failure or a first-check number told otherwise."""
    run = f"固定性检查 {f.run_id}"
    diffs = _differences(f, shown=None)
    if f.kind == FindingKind.FIXITY_RUN_MISMATCH:
        return [f"{run} 已在档案库中，但与备份不一致：{diffs}"]
    if f.kind == FindingKind.FIXITY_START_MISMATCH:
        what = _START_SIDES.get(f.check, "开始记录与档案库中的不一致")
        return [f"{run}：{what}：{diffs}"]
    if f.kind == FindingKind.FIXITY_FAILURE_MISMATCH:
        side = _FAILURE_SIDES.get(f.check)
        if side:
            problem = next((d.archive or d.backup for d in f.differences), "")
            return [f"{run} 对{_file(f)}记录的问题（{_value('problem', problem)}）{side}"]
        return [f"{run} 对{_file(f)}记录的问题与备份不一致：{diffs}"]
    record = f"档案 {f.archival_ref or '（备份中没有）'}（记录 {f.record_id}）"
    if f.check == FindingCheck.ARCHIVE_ONLY:
        seq = f.differences[0].archive if f.differences else ""
        return [f"档案库中 {run} 给{record}的首次检查编号 {seq} 在备份中没有"]
    return [f"{record}的首次检查编号与档案库不一致（备份中记为 {run}）：{diffs}"]


_SHARED_KEYS: Mapping[FindingCheck | None, str] = {
    FindingCheck.ARCHIVAL_REF: "使用同一档号 {ref}",
    FindingCheck.ARCHIVAL_REF_PARTS: "的学校代码、年度、保管期限和顺序号相同",
    FindingCheck.DEDUPE_KEY: "归档的是同一文书的同一版本（或同一作废）",
}
"""The UNIQUE keys two records of one backup share (``{ref}``: the first record's 档号)."""


def _inconsistent(f: RestoreFinding) -> list[str]:
    """What the backup says against itself (the backup, not the archive, was changed)."""
    head = "备份自身不一致："
    if f.check in _SHARED_KEYS:
        mine, my_ref, other, other_ref = _pair(f)
        same = _SHARED_KEYS[f.check].format(ref=my_ref)
        return [f"{head}备份中的档案记录 {mine}（档号 {my_ref}）与档案记录 {other}"
                f"（档号 {other_ref}）{same}"]
    run, file = f"固定性检查 {f.run_id}", (_file(f) if f.position is not None else "")
    record = f"档案记录 {f.record_id}"
    match f.check:
        case FindingCheck.FAILURE_WITHOUT_RUN:
            line = f"{run} 对{file}记录了问题，但备份中没有这次检查"
        case FindingCheck.FAILURE_WITHOUT_FILE:
            line = f"{run} 对{file}记录了问题，但备份中没有这个文件"
        case FindingCheck.COVERAGE_WITHOUT_RUN:
            line = f"{record} 的首次检查记为 {run}，但备份中没有这次检查"
        case FindingCheck.COVERAGE_WITHOUT_RECORD:
            line = f"{run} 记有{record} 的首次检查，但备份中没有这条档案记录"
        case FindingCheck.START_VS_RUN:
            line = (f"{run} 的开始记录与完成记录不符："
                    f"{_differences(f, '开始记录', '完成记录', None)}")
        case FindingCheck.RECORD_FILES:
            line = (f"备份中的档案记录 {f.archival_ref}（记录 {f.record_id}）与它自己的"
                    f"文件行不符：{_differences(f, '文件行', '档案记录')}")
        case FindingCheck.FAILURE_COUNT:
            d = f.differences[0]
            held = (f"只有它的 {d.archive} 条问题记录（可能有问题记录被删去）"
                    if d.archive < d.backup
                    else f"却有它的 {d.archive} 条问题记录（可能有问题记录被添加）")
            line = f"{run} 记录了 {d.backup} 处问题，但备份中{held}"
        case _:  # FindingCheck.BLOB: a blob disagrees with the backup's own index
            records = "、".join(f.archival_refs or f.record_ids)
            line = (f"备份中的文件 {f.sha256}（档案记录 {records}）与备份索引不符："
                    f"{_differences(f, '实际', '备份索引记录')}")
    return [f"{head}{line}"]


def restore_finding(f: RestoreFinding) -> list[str]:
    """One finding of a restore: what differs, where (ids and 档号), both values."""
    records = "、".join(f.archival_refs or f.record_ids)
    match f.kind:
        case FindingKind.RECORD_MISMATCH | FindingKind.FILE_MISMATCH | FindingKind.LOG_MISMATCH:
            return _index_finding(f)
        case FindingKind.ARCHIVAL_REF_CLASH | FindingKind.DEDUPE_KEY_CLASH:
            return _clash(f)
        case (FindingKind.FIXITY_RUN_MISMATCH | FindingKind.FIXITY_START_MISMATCH
              | FindingKind.FIXITY_FAILURE_MISMATCH | FindingKind.FIXITY_COVERAGE_MISMATCH):
            return _trail_finding(f)
        case FindingKind.BACKUP_INCONSISTENT:
            return _inconsistent(f)
        case FindingKind.STORED_COPY_MISMATCH:
            return [f"档案库中保存的文件 {f.sha256} 已被改动或损坏（档案记录 {records}）：",
                    f"    {_differences(f)}"]
        case FindingKind.STORED_COPY_UNREADABLE:
            return [f"档案库中保存的文件 {f.sha256} 无法读取（档案记录 {records}）"]
    assert_never(f.kind)
