"""Reading roster files as streams of rows, whatever the academic system exported.

The format is decided by the content, never the file name: a ZIP is XLSX (read with
openpyxl in read-only mode, row by row, every worksheet in workbook order), text is CSV in
UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode 文本") or GBK/GB18030. Anything else
(a PDF renamed .xlsx, an old .xls, random bytes) raises :class:`RosterFileError` whose
message tells staff what to do; :func:`doc_service.roster.parse_roster` turns it into the
report's ``fatal``. Which worksheets hold the roster is for the parser to decide.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from doc_service.errors import DocServiceError

MAX_COLUMNS = 256
"""Columns beyond this are ignored: no roster has more, and a sheet may claim 16384."""
MAX_XML_BYTES = 400 * 1024 * 1024
"""Uncompressed size of one XLSX part; beyond it we suspect a ZIP bomb."""
MAX_TOTAL_XML_BYTES = 256 * 1024 * 1024
"""Uncompressed size of all XLSX parts together (a bomb spreads itself over many parts);
a 50,000-row roster of 30 columns is well under 100 MB."""
MAX_XML_ROWS = 1_000_000
"""``<row>`` elements of all worksheets together: twenty times the rows a roster may have
(blank and formatted rows count here), so a sheet of empty rows is refused unread."""
MAX_CELLS = 2_000_000
"""Cells of all worksheets together, counted in the raw XML before openpyxl parses any:
50,000 rows of 40 columns; a sheet of short rows cannot hide millions of cells."""
MAX_CSV_BYTES = 100 * 1024 * 1024
_CHUNK = 1 << 20
_SNIFF = 64 * 1024


class RosterFileError(DocServiceError):
    """The file as a whole cannot be read as a roster; ``message`` is for staff."""

    code = "roster_file"


@dataclass
class RowStream:
    """One sheet, readable several times (header search, row count, the rows themselves).

    :meth:`rows` yields ``(line, values)`` with ``line`` as the spreadsheet shows it.
    """

    kind: str
    """``xlsx`` or ``csv``."""
    _rows: Callable[[], Iterator[tuple[int, tuple[Any, ...]]]]
    row_upper_bound: int | None = None
    """No more rows than this (cheap count before reading); None when unknown."""
    merged: tuple[str, ...] | None = ()
    """Merged ranges of the sheet (``A1:B1``); None when they could not be read."""
    encoding: str | None = None
    sheet: str | None = None
    """The worksheet's title (XLSX); None for CSV."""
    hidden: bool = False
    """The worksheet is hidden in Excel (``hidden`` or ``veryHidden``)."""

    def rows(self) -> Iterator[tuple[int, tuple[Any, ...]]]:
        """A fresh pass over the sheet from its first row."""
        return self._rows()


@dataclass
class RosterFile:
    """An open roster file: a CSV as its one sheet, or every worksheet of an XLSX in order."""

    kind: str
    """``xlsx`` or ``csv``."""
    sheets: tuple[RowStream, ...]
    """Never empty."""
    _closers: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for c in reversed(self._closers):
            c.close()
        self._closers.clear()


def _not_a_spreadsheet(head: bytes, filename: str) -> str | None:
    """A message when the first bytes show a known non-spreadsheet format."""
    shown = f"「{filename[-60:]}」" if filename else "上传的文件"
    if head.startswith(b"%PDF"):
        return f"{shown}是PDF文件，不是表格：请上传从教务系统导出的 XLSX 或 CSV 文件"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return (f"{shown}是旧版 Excel（.xls）或设置了密码的 Excel 文件："
                "请在 Excel 中“另存为” .xlsx（不设密码）或 CSV 后重新上传")
    if head[:4] in (b"\x89PNG", b"GIF8") or head[:3] == b"\xff\xd8\xff":
        return f"{shown}是图片，不是表格：请上传 XLSX 或 CSV 文件"
    return None


def open_sheets(stream: IO[bytes], filename: str = "") -> RosterFile:
    """Open a roster file for streaming; raises :class:`RosterFileError`."""
    head = stream.read(_SNIFF)
    stream.seek(0)
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise RosterFileError("文件为空：请确认导出时选择了数据后重新上传")
    message = _not_a_spreadsheet(head, filename)
    if message:
        raise RosterFileError(message)
    if head.startswith(b"PK\x03\x04"):
        return _open_xlsx(stream)
    return _open_csv(stream, head)


# -- XLSX -------------------------------------------------------------------------------

_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*?\bref="([A-Z]+\d+(?::[A-Z]+\d+)?)"')
_ROW = re.compile(rb"<(?:\w+:)?row[\s>/]")
_CELL = re.compile(rb"<(?:\w+:)?c[\s>/]")
_TAG_OVERLAP = 32
"""Bytes of the previous chunk to count a ``<row`` or ``<c`` tag split by a chunk edge."""
TOO_MANY_CELLS = (f"表格单元格过多（超过{MAX_CELLS}个），无法读取：请删除多余的列和空行，"
                  "或按院系或班级拆分后分批导入")


@dataclass(frozen=True)
class _SheetScan:
    rows: int
    """``<row>`` elements: an upper bound on the rows openpyxl will yield."""
    cells: int
    merged: tuple[str, ...]


def _scan_sheet_xml(archive: zipfile.ZipFile, path: str, max_cells: int) -> _SheetScan:
    """Count ``<row>`` and ``<c>`` elements and collect merged ranges, streaming the part's
    bytes; stop with :class:`RosterFileError` as soon as there are more than ``max_cells``.

    openpyxl's read-only mode does not expose merged cells (``<mergeCells>`` comes after
    the data), and a merged header would otherwise read as silent blanks.
    """
    rows = cells = 0
    merged: set[str] = set()
    tail = b""
    with archive.open(path) as part:
        while chunk := part.read(_CHUNK):
            buf = tail + chunk
            # the matches that end in this chunk, including one split across the boundary
            edge = tail[-_TAG_OVERLAP:]
            rows += len(_ROW.findall(edge + chunk)) - len(_ROW.findall(edge))
            cells += len(_CELL.findall(edge + chunk)) - len(_CELL.findall(edge))
            if cells > max_cells:
                raise RosterFileError(TOO_MANY_CELLS)
            merged.update(m.decode() for m in _MERGE.findall(buf))
            tail = buf[-300:]
    return _SheetScan(rows, cells, tuple(sorted(merged)))


def _open_xlsx(stream: IO[bytes]) -> RosterFile:
    try:
        archive = zipfile.ZipFile(stream)
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise RosterFileError("文件已损坏，或不是有效的 XLSX 表格：请重新导出后上传") from e
    if "xl/workbook.xml" not in {i.filename for i in infos}:
        raise RosterFileError("这是一个压缩文件（如 Word 文档或 ZIP），不是 XLSX 表格："
                              "请上传从教务系统导出的 XLSX 或 CSV 文件")
    if (any(i.file_size > MAX_XML_BYTES for i in infos)
            or sum(i.file_size for i in infos) > MAX_TOTAL_XML_BYTES):
        # before openpyxl reads a byte: it would parse shared strings and styles whole
        raise RosterFileError("文件解压后过大，无法读取：请按院系或班级拆分后分批导入")
    scans = _scan_worksheets(archive, infos)
    try:
        stream.seek(0)
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    # openpyxl raises a zoo of types on malformed packages (KeyError for a missing part,
    # ValueError, TypeError, XML parse errors); all mean the same thing to staff.
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError,
            AttributeError, IndexError, SyntaxError, OSError) as e:
        raise RosterFileError("XLSX 文件已损坏或格式不受支持：请在 Excel 中打开并"
                              "“另存为” .xlsx 后重新上传") from e
    sheets = list(workbook.worksheets)
    if not sheets:
        workbook.close()
        raise RosterFileError("XLSX 文件中没有工作表")
    try:
        budget = [MAX_CELLS - sum(scan.cells for scan in scans.values())]
        streams = tuple(_sheet_stream(archive, sheet, scans, budget) for sheet in sheets)
    except RosterFileError:
        workbook.close()
        archive.close()
        raise
    return RosterFile("xlsx", streams, _closers=[archive, workbook])


_WORKSHEET_PART = re.compile(r"xl/worksheets/[^/]+\.xml")


def _scan_worksheets(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]
                     ) -> dict[str, _SheetScan]:
    """Every worksheet part where Excel puts them, scanned before openpyxl opens the book:
    opening a sheet without a ``<dimension>`` parses all of it, bomb or not."""
    scans: dict[str, _SheetScan] = {}
    left = MAX_CELLS
    for info in infos:
        if _WORKSHEET_PART.fullmatch(info.filename):
            try:
                scan = _scan_sheet_xml(archive, info.filename, left)
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise RosterFileError("XLSX 文件已损坏：请重新导出后上传") from e
            scans[info.filename] = scan
            left -= scan.cells
    if sum(scan.rows for scan in scans.values()) > MAX_XML_ROWS:
        raise RosterFileError(f"表格行数过多（超过{MAX_XML_ROWS}行，含空行），无法读取："
                              "请删除多余的空行，或按院系或班级拆分后分批导入")
    return scans


def _sheet_stream(archive: zipfile.ZipFile, sheet: Any, scans: dict[str, _SheetScan],
                  cell_budget: list[int]) -> RowStream:
    """One worksheet of an open read-only workbook, readable several times. A sheet stored
    elsewhere than :func:`_scan_worksheets` looks is scanned here, its cells taken from
    ``cell_budget`` (what the scanned sheets left)."""
    # Exports often carry a wrong <dimension>; openpyxl would stop reading at it.
    sheet.reset_dimensions()
    path = getattr(sheet, "_worksheet_path", None)  # openpyxl internal, read-only mode
    upper: int | None = None
    merged: tuple[str, ...] | None = None
    if isinstance(path, str):
        scan = scans.get(path)
        if scan is None:
            try:
                scan = _scan_sheet_xml(archive, path, cell_budget[0])
            except (KeyError, zipfile.BadZipFile, OSError) as e:
                raise RosterFileError("XLSX 文件已损坏：请重新导出后上传") from e
            cell_budget[0] -= scan.cells
        upper, merged = scan.rows, scan.merged

    def rows() -> Iterator[tuple[int, tuple[Any, ...]]]:
        try:
            for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield line, tuple(values[:MAX_COLUMNS])
        except (KeyError, ValueError, TypeError, IndexError, SyntaxError,
                zipfile.BadZipFile, OSError) as e:
            raise RosterFileError("XLSX 文件中的数据已损坏，无法继续读取：请重新导出后上传") from e

    hidden = getattr(sheet, "sheet_state", "visible") != "visible"
    return RowStream("xlsx", rows, upper, merged, sheet=sheet.title, hidden=hidden)


# -- CSV --------------------------------------------------------------------------------


def _detect_encoding(stream: IO[bytes], head: bytes) -> tuple[str, int]:
    """The text encoding and the number of line breaks, in one streaming pass per guess."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates: tuple[str, ...] = ("utf-16",)
    else:
        if b"\x00" in head:
            raise RosterFileError("文件不是表格（含有二进制数据）：请上传 XLSX 或 CSV 文件")
        candidates = ("utf-8-sig", "gb18030")
    utf16_be = head.startswith(b"\xfe\xff")
    lf, cr = (b"\x00\n", b"\x00\r") if utf16_be else (b"\n", b"\r")
    if candidates == ("utf-16",) and not utf16_be:
        lf, cr = b"\n\x00", b"\r\x00"
    for encoding in candidates:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        stream.seek(0)
        lfs = crs = size = 0
        try:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > MAX_CSV_BYTES:
                    raise RosterFileError("CSV 文件过大：请按院系或班级拆分后分批导入")
                decoder.decode(chunk)
                lfs += chunk.count(lf)
                crs += chunk.count(cr)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        stream.seek(0)
        # An upper bound on records whatever the line ends (LF, CRLF, lone CR, or a mix).
        lines = max(lfs, crs) if lfs == crs or not lfs or not crs else lfs + crs
        return encoding, lines
    raise RosterFileError("无法识别文件编码（支持 UTF-8 和 GBK/GB18030）：请在 Excel 中"
                          "“另存为”CSV UTF-8 或 XLSX 后重新上传")


def _looks_binary(text: str) -> bool:
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\r\n\t")
    return controls > max(2, len(text) // 100)


def _open_csv(stream: IO[bytes], head: bytes) -> RosterFile:
    encoding, lines = _detect_encoding(stream, head)
    text = io.TextIOWrapper(stream, encoding=encoding, errors="strict", newline="")
    sample = text.read(_SNIFF)
    text.seek(0)
    if _looks_binary(sample):
        text.detach()
        raise RosterFileError("文件不是表格（含有大量不可见字符）：请上传 XLSX 或 CSV 文件")
    first_lines = sample.splitlines()[:10]
    delimiter = max(",\t;", key=lambda d: sum(line.count(d) for line in first_lines))

    def rows() -> Iterator[tuple[int, tuple[Any, ...]]]:
        text.seek(0)
        reader = csv.reader(text, delimiter=delimiter)
        line = 0
        try:
            for line, values in enumerate(reader, start=1):
                yield line, tuple(values[:MAX_COLUMNS])
        except csv.Error as e:
            if "field larger than field limit" in str(e):
                raise RosterFileError(f"第{line + 1}行有单元格内容过长（超过13万个字符），"
                                      "文件可能已损坏或引号不配对") from e
            raise RosterFileError(f"第{line + 1}行无法解析（{str(e)[:60]}）："
                                  "请检查引号是否配对") from e

    return RosterFile("csv", (RowStream("csv", rows, lines + 1, encoding=encoding),),
                      _closers=[_Detach(text)])


class _Detach:
    """Closing a CSV stream must not close the caller's file."""

    def __init__(self, wrapper: io.TextIOWrapper) -> None:
        self._wrapper = wrapper

    def close(self) -> None:
        try:
            self._wrapper.detach()
        except ValueError:  # already detached
            pass
