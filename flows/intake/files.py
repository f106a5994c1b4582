"""What a submitted file is, before any spreadsheet reader opens it.

A workbook is a zip of XML that anyone can craft, so its kind is told from its bytes (not its
name) and its parts are measured against fixed limits (schemas/limits.yaml) first: a zip bomb,
XML entity declarations, thousands of sheets or a sheet of millions of cells are refused with a
clear reason before they cost memory or time. It also finds what the reader cannot see: macros
(never run) and formulas that were never calculated.
"""

from __future__ import annotations

import hashlib
import html
import io
import os
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from urllib.parse import unquote

import yaml

from flows.format.edition import SCHEMAS
from flows.intake import bounds

OLE = bytes.fromhex("D0CF11E0A1B11AE1")  # legacy .xls, and password-protected .xlsx
ENCRYPTED = "EncryptionInfo".encode("utf-16-le")
DIMENSION = re.compile(rb'<dimension ref="[A-Z]*\d*:?([A-Z]+)(\d+)"')
# A worksheet's cells, as Excel writes them or with a namespace prefix (<x:c>, as the Open XML SDK
# writes them), and what a cell holds besides the value calamine reads.
# A cell's content stops at the next cell's start: "(.*?)</c>" tried from each "<c-x>" of a crafted
# sheet to its end, and 16,000 of them took 16 s (30 MB of them, months).
CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>((?:[^<]|<(?!(?:\w+:)?c\b|/(?:\w+:)?c>))*+)</(?:\w+:)?c>)")
PLAIN_CELL = re.compile(
    rb"<c\b([^>]*?)(?:/>|>((?:[^<]|<(?!c\b|/c>))*+)</c>)"
)  # the same without a prefix: a fifth faster
REF = re.compile(rb"""\br=["']([A-Z]+\d+)["']""")
FORMULA = re.compile(  # not <formula1> of a validation
    rb"<(?:\w+:)?f\b([^>]*?)(?:/>|>((?:[^<]|<(?!(?:\w+:)?f\b|/(?:\w+:)?f>))*+)</(?:\w+:)?f>)"
)
VALUE = re.compile(rb"<(?:\w+:)?v>([^<]+)<")  # a cached value; <v/> or <v></v> holds none
ERROR_CELL = re.compile(rb"""\bt=["']e["']""")  # the cell's value is an error: #REF!, #DIV/0! …
SHARED = re.compile(rb"""\bsi=["'](\d+)["']""")  # a formula shared by a range of cells: its index
CALC = re.compile(r"<(?:\w+:)?calcPr\b([^>]*)>")
# A reference into another workbook, as a formula stores it: [1]Sheet1!A1, '[1]Sheet 1'!A1, [1]!Name
# ([n] numbers the workbook's external links); not a table's [column], which follows a name.
EXTERNAL = re.compile(r"""(?<![\w.\]])'?\[(\d+)\][^!\[\]"]*!""")
STRING = re.compile(r'"(?:[^"]|"")*"')  # a text constant in a formula, where brackets mean nothing
ELEMENT = re.compile(r"<(?:\w+:)?(sheet|Relationship|externalReference)\b([^>]*)>")
DEFINED_NAME = re.compile(r"<(?:\w+:)?definedName\b([^>]*)>([^<]*)<")
ATTRIBUTE = re.compile(r'([\w:]+)="([^"]*)"')
# What reading a damaged zip raises: zipfile's own error, and those of the layers beneath it (a
# version it does not know, a truncated part, a bad header or deflate stream).
BROKEN_ZIP = (zipfile.BadZipFile, NotImplementedError, EOFError, struct.error, zlib.error)


class Refused(Exception):
    """The file is no workbook nianbao will read; the message says why, in Chinese."""


@cache
def limits() -> dict:
    return yaml.safe_load((SCHEMAS / "limits.yaml").read_text("utf-8"))


@dataclass(frozen=True, slots=True)
class XmlCell:
    """What a worksheet's XML says of a cell besides the value calamine reads from it (calamine
    gives a formula's saved value as if typed, and an error value as a blank)."""

    formula: str | None = None  # as stored, without "="; a cell sharing another's formula has that one's
    master: str | None = None  # the cell whose formula it shares, if it does
    cached: bool = False  # a value was saved with the formula
    error: str | None = None  # the error value it holds: "#REF!", "#DIV/0!" …
    links: tuple[int, ...] = ()  # the other workbooks its formula refers to, by their number ([1]Sheet1!A1)


@dataclass
class Intake:
    kind: str  # xlsx, xlsm, xls or ods
    data: bytes = field(default=b"", repr=False)  # the file as inspected: what the reader reads and the hash is of
    macros: bool = False
    parts: dict[str, zipfile.ZipInfo] = field(default_factory=dict, repr=False)  # a zip's parts, as intake listed them
    # Parts unpacked in full, each once: when the reader asks (Intake.cells), or by intake beforehand.
    unpacked: dict[str, bytes] = field(default_factory=dict, repr=False)
    counted: bounds.Parts | None = field(default=None, repr=False)  # the parts as intake unpacked them
    _looked: dict[tuple[str, frozenset[str]], dict[str, XmlCell]] = field(default_factory=dict, repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def cells(self, sheet: str, wanted: frozenset[str]) -> dict[str, XmlCell]:
        """Those of the cells `wanted` of sheet `sheet` holding a formula or an error value → what
        its XML says of them. Looked for only when asked (the reader asks on meeting a blank, or a
        workbook that asks to be recalculated or links to others), once for each sheet and cells
        wanted: this unpacks the sheet in full, which would double what intake costs an ordinary
        workbook. Only the cells wanted are taken apart: a crafted sheet may hold a million formulas."""
        if (sheet, wanted) not in self._looked:
            data = self._part(self._sheet_parts.get(sheet, ""))
            found = _sheet_cells(data, wanted, self._linked_names) if _marked(data) else {}
            self._looked[(sheet, wanted)] = found
        return self._looked[(sheet, wanted)]

    def holding(self, error: str) -> list[tuple[str, str]]:
        """(sheet name, cell) of each cell holding the error value `error`."""
        stored, found = html.escape(error, quote=False).encode(), []
        for sheet, part in self._sheet_parts.items():
            data = self._part(part)
            if b">" + stored + b"<" not in data:
                continue  # most sheets: calamine stumbled over another's
            for attributes, inner in CELL.findall(data):
                value, ref = VALUE.search(inner or b""), REF.search(attributes)
                if value and value.group(1) == stored and ref and ERROR_CELL.search(attributes):
                    found.append((sheet, ref.group(1).decode()))
        return found

    @cached_property
    def _sheet_parts(self) -> dict[str, str]:
        """Sheet name → its worksheet part, from workbook.xml and its relationships."""
        if self.kind not in ("xlsx", "xlsm"):
            return {}
        workbook, relations = self._part("xl/workbook.xml"), self._part("xl/_rels/workbook.xml.rels")
        return _remembered(("sheets", workbook, relations), lambda: _sheet_parts(workbook, relations))

    @cached_property
    def formulas(self) -> bool:
        """Whether a worksheet may hold a formula: one with a <f> tag, prefixed or not, may (a
        validation's <formula1> aside). Most hold none, and are then not looked into for one."""
        return any(map(self._may_hold_formulas, set(self._sheet_parts.values())))

    def _may_hold_formulas(self, name: str) -> bool:
        info = self.parts.get(name)
        if info is None:
            return False  # no such part: _part gives b""
        known = self.counted.may_hold_formulas(info) if self.counted is not None else None
        return bounds.formula_tag(self._part(name)) if known is None else known

    @cached_property
    def recalculation(self) -> str | None:
        """Whether the formulas' saved values may not be what Excel shows: "on_load" when the workbook
        asks Excel to recalculate every formula on opening it, "stale" when the values may predate
        its last change (its calculation left unfinished, or set to manual and not recalculated on
        saving); None when they are Excel's last word."""
        if self.kind not in ("xlsx", "xlsm"):
            return None
        workbook = self._part("xl/workbook.xml")
        return _remembered(("recalculation", workbook), lambda: _recalculation(workbook))

    @property
    def external_links(self) -> bool:
        """Whether the workbook links to others (Excel keeps a part for each workbook its formulas
        refer to): only then are its formulas looked into for references to them."""
        return any(name.startswith("xl/externalLinks/") for name in self.parts)

    @cached_property
    def linked_workbooks(self) -> dict[int, str]:
        """The file name of each workbook the formulas refer to, by its number ([1]Sheet1!A1)."""
        relations = _targets(self._text("xl/_rels/workbook.xml.rels"), "xl/")
        linked = {}
        for number, attributes in enumerate(_elements(self._text("xl/workbook.xml"), "externalReference"), 1):
            part = relations.get(attributes.get("r:id", ""), "")
            folder, _, name = part.rpartition("/")
            targets = _targets(self._text(f"{folder}/_rels/{name}.rels"), "")
            target = next(iter(targets.values()), "")
            linked[number] = unquote(re.split(r"[/\\]", target)[-1]) or part or f"[{number}]"
        return linked

    @cached_property
    def _linked_names(self) -> dict[str, tuple[int, ...]]:
        """Defined names that stand for a cell of another workbook → the workbooks they refer to."""
        names = {}
        for attributes, text in DEFINED_NAME.findall(self._text("xl/workbook.xml")):
            links = _links(html.unescape(text))
            if links:
                names[dict(ATTRIBUTE.findall(attributes)).get("name", "").lower()] = links
        return names

    def _part(self, name: str) -> bytes:
        """A part unpacked in full (b"" when there is none), once."""
        info = self.parts.get(name)
        if info is None:
            return b""
        if name not in self.unpacked:
            known = self.counted.known(info) if self.counted is not None else None
            try:
                self.unpacked[name] = _unpacked(self.data, info) if known is None else known
            except BROKEN_ZIP as error:
                raise Refused(f"文件已损坏或不完整（{error}）：请重新保存后报送") from None
        return self.unpacked[name]

    def _text(self, name: str) -> str:
        return self._part(name).decode("utf-8", "replace")


def _recalculation(workbook: bytes) -> str | None:
    """Intake.recalculation, from workbook.xml."""
    match = CALC.search(workbook.decode("utf-8", "replace"))
    calc = dict(ATTRIBUTE.findall(match.group(1))) if match else {}
    if _true(calc.get("fullCalcOnLoad", "0")):
        return "on_load"
    manual_unsaved = calc.get("calcMode") == "manual" and not _true(calc.get("calcOnSave", "1"))
    return "stale" if manual_unsaved or not _true(calc.get("calcCompleted", "1")) else None


def _sheet_parts(workbook: bytes, relations: bytes) -> dict[str, str]:
    """Intake._sheet_parts, from workbook.xml and its relationships."""
    sheets = _sheet_names(workbook.decode("utf-8", "replace"), relations.decode("utf-8", "replace"))
    return {name: part for part, name in sheets.items()}


# What was read of a workbook.xml and its relationships, by their bytes: a bureau's workbooks,
# filled in from one template, share them. Only small parts are remembered, a few hundred at most.
_REMEMBERED: dict[tuple, object] = {}
_REMEMBERED_MOST, _REMEMBERED_BYTES = 256, 1 << 16


def _remembered(key: tuple, read):
    if sum(map(len, key[1:])) > _REMEMBERED_BYTES:
        return read()
    if key not in _REMEMBERED:
        if len(_REMEMBERED) >= _REMEMBERED_MOST:
            _REMEMBERED.clear()
        _REMEMBERED[key] = read()
    return _REMEMBERED[key]


def _true(value: str) -> bool:
    """An XML boolean: "1" or "true"."""
    return value.strip().lower() in ("1", "true")


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
        _bounded(bounds.xls, data, limits())
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
    parts = bounds.Parts(data)  # each part unpacked once, for every look into it
    _within_limits(archive, data, everything=kind == "ods", parts=parts)
    _bounded_zip(archive, data, parts)
    parts_by_name = {info.filename: info for info in archive.infolist()}
    return Intake(kind, data, "xl/vbaProject.bin" in names, parts_by_name, counted=parts)


# The parts of an .xlsx the reader parses, besides the worksheets workbook.xml names: only these
# are looked into for entity declarations (a theme or printer settings are never parsed).
READER_PARTS = re.compile(
    r"\[Content_Types\]\.xml|xl/workbook\.xml|xl/_rels/workbook\.xml\.rels|xl/sharedStrings\.xml"
    r"|xl/styles\.xml|xl/(worksheets|chartsheets|tables)/[^/]+\.xml|xl/worksheets/_rels/[^/]+\.rels"
)


def _within_limits(
    archive: zipfile.ZipFile, data: bytes, everything: bool = False, parts: bounds.Parts | None = None
) -> None:
    """Refused unless the parts are within limits. The start of the XML the reader parses (all of
    it with `everything`) is looked into: a declaration stands before the root element. With
    `parts`, those of an .xlsx are unpacked whole there, once, for the count (bounds.xlsx) next."""
    rules, infos = limits(), archive.infolist()
    if len(infos) > rules["zip_entries"]:
        raise Refused(f"工作簿包含的部件过多（{len(infos)} 个，上限 {rules['zip_entries']} 个）")
    unpacked = sum(info.file_size for info in infos)
    if unpacked > rules["unzipped_bytes"]:
        raise Refused(f"工作簿解压后过大（{unpacked} 字节，上限 {rules['unzipped_bytes']} 字节）")
    sheets = 0
    for info in infos:
        name = info.filename
        if name.lower().endswith("sharedstrings.xml") and info.file_size > rules["shared_strings_bytes"]:
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
            if parts is not None and not everything and info.file_size <= bounds.PIECE:
                try:
                    start = parts.whole(info)
                except bounds.Exceeded as error:
                    raise Refused(str(error)) from None
            else:
                start = _unpacked(view, info, 4096)
            if start.find(b"<!DOCTYPE", 0, 4096) >= 0 or start.find(b"<!ENTITY", 0, 4096) >= 0:
                raise Refused(f"部件 {name} 含有 XML 实体声明（DOCTYPE/ENTITY），工作簿不会含有这些内容，拒绝读取")
            match = DIMENSION.search(start, 0, 4096) if _is_sheet(name) else None
            if match and _cells(match) > rules["sheet_cells"]:
                raise Refused(f"{name} 的区域过大（{_cells(match)} 个单元格，上限 {rules['sheet_cells']} 个）")


def _bounded_zip(archive: zipfile.ZipFile, data: bytes, parts: bounds.Parts | None = None) -> None:
    """Refused unless what calamine builds from the zip is within the limits, counted from the parts
    (flows/intake/bounds.py). calamine opens a zip as .xlsx if it can, else as .xlsb, else as .ods,
    whatever it is named: so each way it could be read is counted, and .xlsb (not counted) refused."""
    infos = archive.infolist()
    names = {info.filename.lower() for info in infos}
    if "xl/workbook.bin" in names or "xl/_rels/workbook.bin.rels" in names:
        raise Refused("这是 .xlsb（二进制）工作簿，nianbao 不读取：请在 Excel 中另存为 .xlsx 后报送")
    _bounded(bounds.xlsx, data, infos, limits(), parts)
    content = next((info for info in infos if info.filename == "content.xml"), None)
    if content is not None:
        _bounded(lambda: bounds.ods(bounds.unpacked(data, content), limits()))


def _bounded(count, *arguments) -> None:
    """count(*arguments), its Exceeded refused."""
    try:
        count(*arguments)
    except bounds.Exceeded as error:
        raise Refused(str(error)) from None


def _is_sheet(name: str) -> bool:
    return name.startswith(("xl/worksheets/", "xl/chartsheets/")) and name.endswith(".xml")


def _cells(match: re.Match) -> int:
    column = 0
    for letter in match.group(1).decode():
        column = column * 26 + ord(letter) - 64
    return column * int(match.group(2))


def _marked(data: bytes) -> bool:
    """Whether a worksheet's XML may hold an error value (<v>#REF!</v>) or a formula (</f>, or </x:f>
    where its elements carry a prefix). Most hold neither, and cost two searches of their bytes, the
    first for a byte (memchr-fast), not a regex: a validation's <formula1> is no formula."""
    if b"#" in data and b">#" in data:
        return True
    return b"</f>" in data or (not _plain(data) and b":f>" in data)


def _plain(data: bytes) -> bool:
    """Whether a worksheet's elements carry no prefix: <worksheet xmlns="…">, as Excel writes it."""
    return data.find(b"<worksheet", 0, 1024) >= 0


def _sheet_cells(data: bytes, wanted: frozenset[str], linked_names: dict[str, tuple[int, ...]]) -> dict[str, XmlCell]:
    """Those of the cells `wanted` of a worksheet holding a formula or an error value → what its XML
    says of them. As little as it takes for every other cell: a crafted sheet may hold a million."""
    refs = {ref.encode() for ref in wanted}
    found: dict[str, tuple[re.Match | None, bool, bytes | None]] = {}  # cell → its formula, whether valued, error
    spelled: dict[bytes, tuple[str, bytes]] = {}  # a shared formula's index → the cell spelling it out, its text
    for attributes, inner in (PLAIN_CELL if _plain(data) else CELL).findall(data):
        ref = REF.search(attributes) if inner else None  # <c r="A1" s="1"/> holds nothing
        if ref is None:
            continue
        is_wanted = ref.group(1) in refs
        if not is_wanted and b"si=" not in inner:
            continue
        formula = FORMULA.search(inner)
        if formula is not None and formula.group(2) and b"si=" in formula.group(1):
            index = SHARED.search(formula.group(1))
            if index is not None:
                spelled.setdefault(index.group(1), (ref.group(1).decode(), formula.group(2)))
        is_error = is_wanted and ERROR_CELL.search(attributes) is not None
        if is_wanted and (formula is not None or is_error):
            value = VALUE.search(inner)
            found[ref.group(1).decode()] = (formula, value is not None, value.group(1) if is_error and value else None)
    return {
        cell: _cell(formula, cached, error, spelled, linked_names) for cell, (formula, cached, error) in found.items()
    }


def _cell(
    formula: re.Match | None,
    cached: bool,
    error: bytes | None,
    spelled: dict[bytes, tuple[str, bytes]],
    linked_names: dict[str, tuple[int, ...]],
) -> XmlCell:
    """What the XML says of a cell: its formula (or the one it shares), its saved value and error."""
    text, master = (_xml_text(formula.group(2) or b"") if formula else None), None
    index = SHARED.search(formula.group(1)) if formula is not None and not text else None
    if index is not None and index.group(1) in spelled:
        master, spelled_text = spelled[index.group(1)]
        text = _xml_text(spelled_text)
    links = _links(text, linked_names) if text else ()
    return XmlCell(text, master, cached, _xml_text(error) if error is not None else None, links)


def _xml_text(value: bytes) -> str:
    return html.unescape(value.decode("utf-8", "replace"))


NAME = re.compile(r"(?<![\w.\]])[^\W\d][\w.]*(?![\w.(!\[])")  # a word of a formula that may be a defined name


def _links(formula: str, linked_names: dict[str, tuple[int, ...]] | None = None) -> tuple[int, ...]:
    """The other workbooks a formula refers to, by number: directly ([1]Sheet1!A1) or through a
    defined name that does."""
    code = STRING.sub('""', formula)  # brackets inside a text constant refer to nothing
    numbers = {int(n) for n in EXTERNAL.findall(code)}
    if linked_names:
        for name in NAME.findall(code):
            numbers.update(linked_names.get(name.lower(), ()))
    return tuple(sorted(numbers))


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


def _sheet_names(workbook: str, relations: str) -> dict[str, str]:
    """worksheet part → sheet name, from workbook.xml and its relationships."""
    targets = _targets(relations, "xl/")
    return {targets[a["r:id"]]: a.get("name", "") for a in _elements(workbook, "sheet") if a.get("r:id") in targets}


def _targets(relations: str, folder: str) -> dict[str, str]:
    """Relationship id → its target, a part's name (within `folder` unless absolute) or as written."""
    targets = {}
    for attributes in _elements(relations, "Relationship"):
        target = attributes.get("Target", "")
        if attributes.get("TargetMode") != "External" and folder:
            target = folder + target.lstrip("/").removeprefix(folder)
        targets[attributes.get("Id", "")] = target
    return targets


def _elements(xml: str, tag: str) -> list[dict[str, str]]:
    """The attributes of each <tag …> element, whatever their order."""
    return [dict(ATTRIBUTE.findall(attributes)) for name, attributes in ELEMENT.findall(xml) if name == tag]
