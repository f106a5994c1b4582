"""What a submitted file is, before any spreadsheet reader opens it.

A workbook is a zip of XML that anyone can craft, so its kind is told from its bytes (not its
name) and its parts are measured against fixed limits (schemas/limits.yaml) first: a zip bomb,
XML entity declarations, thousands of sheets or a sheet of millions of cells are refused with a
clear reason before they cost memory or time. It also finds what the reader cannot see: macros
(never run) and formulas that were never calculated.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

import yaml

from flows.format.edition import SCHEMAS

OLE = bytes.fromhex("D0CF11E0A1B11AE1")  # legacy .xls, and password-protected .xlsx
ENCRYPTED = "EncryptionInfo".encode("utf-16-le")
DIMENSION = re.compile(rb'<dimension ref="[A-Z]*\d*:?([A-Z]+)(\d+)"')
CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
REF = re.compile(rb'\br="([A-Z]+\d+)"')
FORMULA = re.compile(rb"<f[ >/]")  # a formula element, not <formula1> of a data validation
VALUE = re.compile(rb"<v>[^<]")  # a cached value; <v/> or <v></v> holds none
ELEMENT = re.compile(r"<(sheet|Relationship)\b([^>]*)>")
ATTRIBUTE = re.compile(r'([\w:]+)="([^"]*)"')
# What reading a damaged zip raises: zipfile's own error, and those of the layers beneath it (a
# version it does not know, a truncated part, a bad header or deflate stream).
BROKEN_ZIP = (zipfile.BadZipFile, NotImplementedError, EOFError, struct.error, zlib.error)


class Refused(Exception):
    """The file is no workbook nianbao will read; the message says why, in Chinese."""


@cache
def limits() -> dict:
    return yaml.safe_load((SCHEMAS / "limits.yaml").read_text("utf-8"))


@dataclass
class Intake:
    kind: str  # xlsx, xlsm, xls or ods
    data: bytes = field(default=b"", repr=False)  # the file as inspected: what the reader reads and the hash is of
    macros: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @cached_property
    def uncached_formulas(self) -> set[tuple[str, str]]:
        """(sheet name, cell) of each formula saved without its value, which the reader sees as a
        blank. Looked for only when asked (the reader asks on meeting a blank): this unpacks the
        worksheets a second time, which would double what intake costs an ordinary workbook."""
        if self.kind not in ("xlsx", "xlsm"):
            return set()
        try:
            with zipfile.ZipFile(io.BytesIO(self.data)) as archive:
                sheets, names = _sheet_names(archive, self.data), set(archive.namelist())
                return _uncached_formulas({part: archive.read(part) for part in sheets if part in names}, sheets)
        except BROKEN_ZIP as error:
            raise Refused(f"文件已损坏或不完整（{error}）：请重新保存后报送") from None


def inspect(path: Path) -> Intake:
    """The kind of workbook `path` holds, or Refused saying why it will not be read."""
    path = Path(path)
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            raise Refused("文件是空的（0 字节）")
        if size > limits()["file_bytes"]:
            raise Refused(f"文件过大（{size} 字节，上限 {limits()['file_bytes']} 字节）")
        data = handle.read()
    head = data[:8]
    if head.startswith(OLE):
        if ENCRYPTED in data:
            raise Refused("工作簿设有密码保护（已加密），无法读取：请取消密码后重新报送")
        return Intake("xls", data)
    if head.startswith(b"%PDF"):
        raise Refused("这是 PDF 文件，不是工作簿：请报送 Excel 工作簿（.xlsx）")
    if not head.startswith(b"PK"):
        if path.suffix.lower() == ".csv":
            raise Refused("CSV 文件只能容纳一张表：请用模板报送包含三张表的 Excel 工作簿（.xlsx）")
        raise Refused("不是 Excel 工作簿（文件内容既非 .xlsx 也非 .xls）：请报送用模板填写的工作簿")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return _inspect_zip(archive, data)
    except BROKEN_ZIP as error:
        raise Refused(f"文件已损坏或不完整（{error}）：请重新保存后报送") from None


def _inspect_zip(archive: zipfile.ZipFile, data: bytes) -> Intake:
    names = set(archive.namelist())
    if "word/document.xml" in names:
        raise Refused("这是 Word 文档（.docx），不是工作簿：请把表格填入模板工作簿后报送")
    if "mimetype" in names and b"spreadsheet" in archive.read("mimetype")[:100]:
        kind = "ods"
    elif "xl/workbook.xml" in names:
        kind = "xlsm" if "xl/vbaProject.bin" in names else "xlsx"
    else:
        raise Refused("压缩文件中没有工作簿：请报送 Excel 工作簿（.xlsx）")
    _within_limits(archive, data, everything=kind == "ods")
    return Intake(kind, data, "xl/vbaProject.bin" in names)


# The parts of an .xlsx the reader parses, besides the worksheets workbook.xml names: only these
# are looked into for entity declarations (a theme or printer settings are never parsed).
READER_PARTS = re.compile(
    r"\[Content_Types\]\.xml|xl/workbook\.xml|xl/_rels/workbook\.xml\.rels|xl/sharedStrings\.xml"
    r"|xl/styles\.xml|xl/(worksheets|chartsheets|tables)/[^/]+\.xml|xl/worksheets/_rels/[^/]+\.rels"
)


def _within_limits(archive: zipfile.ZipFile, data: bytes, everything: bool = False) -> None:
    """Refused unless the parts are within limits. The start of the XML the reader parses (all of
    it with `everything`) is looked into: a declaration stands before the root element."""
    rules, infos = limits(), archive.infolist()
    if len(infos) > rules["zip_entries"]:
        raise Refused(f"工作簿包含的部件过多（{len(infos)} 个，上限 {rules['zip_entries']} 个）")
    unpacked = sum(info.file_size for info in infos)
    if unpacked > rules["unzipped_bytes"]:
        raise Refused(f"工作簿解压后过大（{unpacked} 字节，上限 {rules['unzipped_bytes']} 字节）")
    sheets = 0
    for info in infos:
        name = info.filename
        if name.endswith("sharedStrings.xml") and info.file_size > rules["shared_strings_bytes"]:
            raise Refused(f"工作簿的共享字符串过大（{info.file_size} 字节，上限 {rules['shared_strings_bytes']} 字节）")
        if info.file_size > 1 << 20 and info.file_size > rules["compression_ratio"] * max(info.compress_size, 1):
            raise Refused(f"部件 {name} 的压缩比异常（{info.file_size} / {info.compress_size}），疑似“压缩炸弹”")
        sheets += _is_sheet(name)
    if sheets > rules["sheets"]:
        raise Refused(f"工作表过多（{sheets} 张，上限 {rules['sheets']} 张）")
    view = memoryview(data)
    for info in infos:
        name = info.filename
        if name.endswith((".xml", ".rels")) and (everything or READER_PARTS.fullmatch(name)):
            start = _unpacked(view, info, 4096)
            if b"<!DOCTYPE" in start or b"<!ENTITY" in start:
                raise Refused(f"部件 {name} 含有 XML 实体声明（DOCTYPE/ENTITY），工作簿不会含有这些内容，拒绝读取")
            match = DIMENSION.search(start) if _is_sheet(name) else None
            if match and _cells(match) > rules["sheet_cells"]:
                raise Refused(f"{name} 的区域过大（{_cells(match)} 个单元格，上限 {rules['sheet_cells']} 个）")


def _is_sheet(name: str) -> bool:
    return name.startswith(("xl/worksheets/", "xl/chartsheets/")) and name.endswith(".xml")


def _cells(match: re.Match) -> int:
    column = 0
    for letter in match.group(1).decode():
        column = column * 26 + ord(letter) - 64
    return column * int(match.group(2))


def _uncached_formulas(parts: dict[str, bytes], sheets: dict[str, str]) -> set[tuple[str, str]]:
    """(sheet name, cell) of each formula saved without its value: the reader would see a blank."""
    found = set()
    for part, sheet in sheets.items():
        data = parts.get(part, b"")
        if not FORMULA.search(data):
            continue  # the common case: no formula at all
        for attributes, inner in CELL.findall(data):
            if inner and FORMULA.search(inner) and not VALUE.search(inner):
                ref = REF.search(attributes)
                if ref:
                    found.add((sheet, ref.group(1).decode()))
    return found


def _unpacked(data: bytes | memoryview, info: zipfile.ZipInfo, size: int | None = None) -> bytes:
    """The first `size` bytes (all with None) of a part, unpacked from the file's bytes `data`.
    zipfile's open() costs about 40 µs a part, which made intake cost more than calamine reading
    the whole workbook; this is the same read without the file object around it."""
    if info.flag_bits & 1:
        raise Refused(f"部件 {info.filename} 已加密，无法读取：请取消密码后重新报送")
    offset = info.header_offset
    signature, name_length, extra_length = struct.unpack_from("<4s22xHH", data, offset)
    if signature != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"部件 {info.filename} 的位置不对")
    start = offset + 30 + name_length + extra_length
    packed = data[start : start + info.compress_size]
    if info.compress_type == zipfile.ZIP_STORED:
        return bytes(packed[:size])
    if info.compress_type == zipfile.ZIP_DEFLATED:
        return zlib.decompressobj(-15).decompress(packed, size or max(info.file_size, 1))
    raise Refused(
        f"部件 {info.filename} 的压缩方式（{info.compress_type}）不是 Excel 工作簿所用的：请用 Excel 重新保存后报送"
    )


def _sheet_names(archive: zipfile.ZipFile, data: bytes) -> dict[str, str]:
    """worksheet part → sheet name, from workbook.xml and its relationships."""
    try:
        workbook = _unpacked(data, archive.getinfo("xl/workbook.xml")).decode("utf-8", "replace")
        relations = _unpacked(data, archive.getinfo("xl/_rels/workbook.xml.rels")).decode("utf-8", "replace")
    except KeyError:
        return {}
    targets = {
        a.get("Id"): a.get("Target", "").lstrip("/").removeprefix("xl/") for a in _elements(relations, "Relationship")
    }
    return {
        f"xl/{targets[a['r:id']]}": a.get("name", "") for a in _elements(workbook, "sheet") if a.get("r:id") in targets
    }


def _elements(xml: str, tag: str) -> list[dict[str, str]]:
    """The attributes of each <tag …> element, whatever their order."""
    return [dict(ATTRIBUTE.findall(attributes)) for name, attributes in ELEMENT.findall(xml) if name == tag]
