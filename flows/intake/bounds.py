"""How much reading a workbook will cost, counted from what is in it, before a reader opens it.

calamine (the reader) builds each sheet as a dense grid, rows × columns, from the first cell holding
a value to the last, whatever the sheet says its size is; it copies a shared string into every cell
that shows it; it reads an .ods or .xls whole when opening it. So one cell at XFD1048576 in a 12 KB
.xlsx, a 666-byte .ods repeating a cell a million times or a 10 KB .xls naming a far cell would each
take gigabytes. Here the cells, text and merged ranges the reader will build are counted from the
file's own bytes, the way calamine reads them (its xlsx/cells_reader.rs, ods.rs, xls.rs and cfb.rs),
and held to schemas/limits.yaml. What is beyond a limit, or cannot be counted with certainty (XML or
an OLE structure that is not well formed), raises Exceeded, its message in Chinese.

Counting errs on the side of more: a cell calamine might keep is counted. A part written the way
Excel, WPS, LibreOffice, openpyxl and xlsxwriter write one is counted by regular expressions over
its bytes; any other is read tag by tag, as calamine's XML parser (quick-xml) would. A sheet written
as the template is (cells in A1:Z999) has its grid bounded, not counted: its cells are counted one
by one only if the bounds pass a limit, so a workbook is refused only as that count says.
"""

from __future__ import annotations

import hashlib
import html
import operator
import re
import string
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, compress, pairwise, zip_longest
from typing import NamedTuple
from zipfile import ZIP_DEFLATED, ZIP_STORED, ZipInfo

EXCEL_ROWS, EXCEL_COLUMNS = 1_048_576, 16_384  # a worksheet's grid in every Excel since 2007
PIECE = 1 << 20  # a part is unpacked and counted a megabyte at a time


class Exceeded(Exception):
    """Reading the workbook would cost more than the limits allow, or cannot be counted; the
    message says what and where, in Chinese."""


@dataclass
class Extent:
    """What a reader builds for one sheet: the grid from the first row and column holding something
    to the last (0-based, inclusive), and the rest."""

    top: int = EXCEL_ROWS
    bottom: int = -1
    left: int = EXCEL_COLUMNS
    right: int = -1
    text: int = 0  # characters it makes for the cells: a shared string once for each cell showing it
    merges: int = 0
    built: int = 0  # cells built besides the grid: an .ods row as written, an .xls formula grid
    formulas: bool = True  # whether it may hold a formula (formula_tag), when that was looked for
    bound: bool = False  # the grid is a bound (_quick), not counted cell by cell

    def add(self, row: int, column: int) -> None:
        self.top, self.bottom = min(self.top, row), max(self.bottom, row)
        self.left, self.right = min(self.left, column), max(self.right, column)

    @property
    def cells(self) -> int:
        return 0 if self.bottom < 0 else (self.bottom - self.top + 1) * (self.right - self.left + 1)

    @property
    def span(self) -> str:
        return f"{cell_name(self.top, self.left)} 到 {cell_name(self.bottom, self.right)}"


class Totals:
    """A workbook's sheets counted together, each checked as it is added."""

    def __init__(self, rules: dict):
        self.rules, self.cells, self.text, self.merges, self.sheets = rules, 0, 0, 0, 0

    def add(self, where: str, extent: Extent, times: int = 1) -> None:
        """`extent` of the sheet `where`, which the reader builds `times` times."""
        rules = self.rules
        if extent.cells > rules["sheet_cells"]:
            raise Exceeded(
                f"{where}的区域过大：从 {extent.span} 共 {extent.cells} 个单元格（上限 {rules['sheet_cells']} 个）"
                "：请删除表格以外远处的单元格后重新报送"
            )
        self.cells += (extent.cells + extent.built) * times
        self.text += extent.text * times
        self.merges += extent.merges * times
        if self.cells > rules["workbook_cells"]:
            raise Exceeded(f"工作簿各工作表的区域合计过大（{self.cells} 个单元格，上限 {rules['workbook_cells']} 个）")
        if self.text > rules["workbook_text_chars"]:
            raise Exceeded(
                f"工作簿读取后的文字过多（{self.text} 个字符以上，上限 {rules['workbook_text_chars']} 个）"
                "：长文字被大量单元格引用或重复"
            )
        if self.merges > rules["merged_ranges"]:
            raise Exceeded(f"合并单元格过多（{self.merges} 处，上限 {rules['merged_ranges']} 处）")

    def count_sheets(self, count: int) -> None:
        self.sheets += count
        if self.sheets > self.rules["sheets"]:
            raise Exceeded(f"工作表过多（{self.sheets} 张，上限 {self.rules['sheets']} 张）")


def cell_name(row: int, column: int) -> str:
    """A1-style, from 0-based row and column."""
    letters, column = "", column + 1
    while column > 0:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return f"{letters}{row + 1}"


def _within_grid(where: str, row: int, column: int) -> None:
    if not (0 <= row < EXCEL_ROWS and 0 <= column < EXCEL_COLUMNS):
        raise Exceeded(f"{where}中有单元格位于第 {row + 1} 行第 {column + 1} 列，超出了 Excel 工作表的范围")


def _malformed(part: str, what: str) -> Exceeded:
    return Exceeded(f"{part}的 XML 不规范（{what}），无法确定读取它要占用多少内存：请用 Excel 重新保存后报送")


# -- a zip's parts, unpacked a piece at a time ------------------------------------------------------
def pieces(data: bytes | memoryview, info: ZipInfo) -> Iterator[bytes]:
    """A part of a zip unpacked a megabyte at a time, and never past the size it states (which the
    other limits were held to and a crafted zip could exceed)."""
    packed = _packed(data, info)
    if info.compress_type == ZIP_STORED:
        for at in range(0, min(len(packed), info.file_size), PIECE):
            yield bytes(packed[at : min(at + PIECE, info.file_size)])
        return
    inflate, rest, size = zlib.decompressobj(-15), bytes(packed), 0
    while rest and not inflate.eof:
        piece = _inflated(inflate, rest, PIECE, info)
        rest, size = inflate.unconsumed_tail, size + len(piece)
        if size > info.file_size:
            raise _bomb(info)
        yield piece


def unpacked(data: bytes | memoryview, info: ZipInfo) -> bytes:
    """A part of a zip unpacked whole, never past the size it states."""
    packed = _packed(data, info)
    if info.compress_type == ZIP_STORED:
        return bytes(packed[: info.file_size])
    whole = _inflated(zlib.decompressobj(-15), packed, info.file_size + 1, info)
    if len(whole) > info.file_size:
        raise _bomb(info)
    return whole


class Parts:
    """A zip's parts, each unpacked and hashed once for all who look into them: intake's first look
    (files.py), the count here and the reader's look into the worksheets (files.Intake.cells). Up
    to KEPT bytes of parts are kept whole; others are unpacked again when
    asked, so that keeping them adds little to what a crafted file can cost. A part is known by
    where it starts and how it is packed, not by its name, which two parts may share."""

    KEPT = 1 << 20  # a department workbook's parts are some 80 KB unpacked

    def __init__(self, data: bytes | memoryview):
        self.data, self.kept = data, 0
        self.wholes: dict[tuple, bytes] = {}
        self.fingerprints: dict[tuple, bytes] = {}
        self.formulas: dict[tuple, bool] = {}  # whether a worksheet may hold a formula, found as it was counted

    def whole(self, info: ZipInfo) -> bytes:
        """unpacked(), once."""
        key = _key(info)
        found = self.wholes.get(key)
        if found is None:
            found = _unpacked_once(self.data, info)
            # (a part stored unpacked is kept only when it is what files._unpacked reads too)
            same = info.compress_type != ZIP_STORED or info.compress_size == info.file_size
            if same and info.file_size <= PIECE and self.kept + len(found) <= self.KEPT:
                self.wholes[key] = found
                self.kept += len(found)
        return found

    def known(self, info: ZipInfo) -> bytes | None:
        """The part unpacked whole, if it was."""
        return self.wholes.get(_key(info))

    def may_hold_formulas(self, info: ZipInfo) -> bool | None:
        """formula_tag() of a part, if it was found as the part was counted."""
        return self.formulas.get(_key(info))

    def fingerprint(self, info: ZipInfo) -> bytes:
        """_fingerprint(), once."""
        key = _key(info)
        found = self.fingerprints.get(key)
        if found is None:
            found = self.fingerprints[key] = _fingerprint(self.data, info)
        return found


# Small parts a bureau's workbooks share byte for byte (the template's workbook.xml, relationships,
# styles, instructions sheet), by their packed bytes: unpacking one cost more than all the checks of
# it. A few hundred of some kilobytes at most.
_SMALL: dict[tuple, bytes] = {}
_SMALL_MOST, SMALL_PART = 256, 1 << 13


def _unpacked_once(data: bytes | memoryview, info: ZipInfo) -> bytes:
    """unpacked(), known from before when the very same small part was unpacked."""
    if info.file_size > SMALL_PART:
        return unpacked(data, info)
    key = (info.compress_type, info.file_size, bytes(_packed(data, info)))
    found = _SMALL.get(key)
    if found is None:
        found = unpacked(data, info)
        if len(_SMALL) >= _SMALL_MOST:
            _SMALL.clear()
        _SMALL[key] = found
    return found


def _key(info: ZipInfo) -> tuple:
    """What a part's bytes, unpacked, follow from (with the file's bytes)."""
    return info.header_offset, info.compress_size, info.compress_type, info.file_size, info.flag_bits & 1


def _packed(data: bytes | memoryview, info: ZipInfo) -> memoryview:
    if info.flag_bits & 1:
        raise Exceeded(f"部件 {info.filename} 已加密，无法读取：请取消密码后重新报送")
    signature, name_length, extra_length = struct.unpack_from("<4s22xHH", data, info.header_offset)
    if signature != b"PK\x03\x04":
        raise Exceeded(f"文件已损坏或不完整（部件 {info.filename} 的位置不对）：请重新保存后报送")
    if info.compress_type not in (ZIP_STORED, ZIP_DEFLATED):
        raise Exceeded(
            f"部件 {info.filename} 的压缩方式（{info.compress_type}）不是 Excel 工作簿所用的：请用 Excel 重新保存后报送"
        )
    start = info.header_offset + 30 + name_length + extra_length
    return memoryview(data)[start : start + info.compress_size]


def _inflated(inflate, packed: bytes | memoryview, most: int, info: ZipInfo) -> bytes:
    try:
        return inflate.decompress(packed, most)
    except zlib.error as error:
        raise Exceeded(f"文件已损坏或不完整（部件 {info.filename}：{error}）：请重新保存后报送") from None


def _bomb(info: ZipInfo) -> Exceeded:
    return Exceeded(f"部件 {info.filename} 解压后超过了它声明的大小（{info.file_size} 字节），疑似“压缩炸弹”")


def _at_cells(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The same bytes in pieces cut just before a "<c" (else just before a "<"): no cell, with the
    value right after its tag, is cut in two, nor anything else the patterns below look for (none
    holds a "<c" but at its start, nor a "<" but at its start, the cell aside). A part of one piece
    (most are) is not cut at all."""
    carry, last = b"", None
    for chunk in chunks:
        if last is not None:
            joined = carry + last
            cut = joined.rfind(b"<c")
            if cut <= 0:
                cut = joined.rfind(b"<")
            carry = joined[max(cut, 0) :] if cut > 0 else joined
            if cut > 0:
                yield joined[:cut]
        last = chunk
    if last is not None or carry:
        yield carry + (last or b"")


# -- XML tag by tag, as quick-xml reads it -------------------------------------------------------------
WHITESPACE = b" \t\r\n"  # quick-xml's: a tag's name ends at the first of these
START_REST = re.compile(rb"""(?:[^>"']|"[^"]*"|'[^']*')*>""")  # a ">" within quotes ends no tag
ATTRIBUTE = re.compile(rb"""[ \t\r\n]*([^ \t\r\n=]+)[ \t\r\n]*=[ \t\r\n]*(?:"([^"]*)"|'([^']*)')""")


class Tag(NamedTuple):
    end: bool  # </name>
    name: bytes  # as written, prefix and all
    attributes: bytes
    empty: bool  # <name …/>: a start and an end at once
    after: int  # where it ends in the part

    @property
    def local(self) -> bytes:
        """The name without its prefix, as quick-xml has it: after the first colon."""
        return self.name.partition(b":")[2] if b":" in self.name else self.name


def tags(data: bytes, part: str) -> Iterator[Tag]:
    """Every start and end tag of an XML part as quick-xml reads them: comments, CDATA and
    processing instructions passed over; a document type declaration (no workbook has one) refused."""
    find, at = data.find, 0
    while (at := find(b"<", at)) != -1:
        if data.startswith(b"<!--", at):
            at = _past(data, b"-->", at, part)
        elif data.startswith(b"<![CDATA[", at):
            at = _past(data, b"]]>", at, part)
        elif data.startswith(b"<!", at):
            raise Exceeded(f"{part}含有 XML 实体声明（DOCTYPE/ENTITY），工作簿不会含有这些内容，拒绝读取")
        elif data.startswith(b"<?", at):
            at = _past(data, b"?>", at, part)
        else:
            tag = tag_at(data, at, part)
            yield tag
            at = tag.after


def _past(data: bytes, closing: bytes, at: int, part: str) -> int:
    end = data.find(closing, at + 2)
    if end < 0:
        raise _malformed(part, f"第 {at} 字节处的标记没有结束")
    return end + len(closing)


def tag_at(data: bytes, at: int, part: str) -> Tag:
    """The start or end tag at `at` (a "<")."""
    if data.startswith(b"</", at):
        end = _past(data, b">", at, part)
        return Tag(True, data[at + 2 : end - 1].strip(WHITESPACE), b"", False, end)
    match = START_REST.match(data, at + 1)
    if match is None:
        raise _malformed(part, f"第 {at} 字节处的标记没有结束")
    inside = data[at + 1 : match.end() - 1]
    empty = inside.endswith(b"/")
    name, rest = _name_and_rest(inside[:-1] if empty else inside)
    return Tag(False, name, rest, empty, match.end())


def _name_and_rest(inside: bytes) -> tuple[bytes, bytes]:
    space = NAME_END.search(inside)
    return (inside, b"") if space is None else (inside[: space.start()], inside[space.start() :])


NAME_END = re.compile(rb"[ \t\r\n]")


def attributes(tag: Tag, part: str) -> dict[bytes, bytes]:
    """A tag's attributes, raw (entities not replaced). One written twice is refused: calamine would
    take one of the two and this count perhaps the other."""
    found: dict[bytes, bytes] = {}
    at, text = 0, tag.attributes
    while text[at:].strip(WHITESPACE):
        match = ATTRIBUTE.match(text, at)
        if match is None:
            raise _malformed(part, f"<{tag.name.decode('utf-8', 'replace')[:40]}> 的属性")
        key = match.group(1)
        if key in found:
            raise _malformed(part, f"属性 {key.decode('utf-8', 'replace')[:40]} 写了两次")
        found[key] = match.group(2) if match.group(2) is not None else match.group(3)
        at = match.end()
    return found


def _text(value: bytes) -> str:
    return html.unescape(value.decode("utf-8", "replace"))


# -- .xlsx ------------------------------------------------------------------------------------------------
def xlsx(data: bytes, infos: list[ZipInfo], rules: dict, unpacked: Parts | None = None) -> None:
    """Exceeded unless every sheet of an .xlsx is within the limits, and all of them together.

    Every part with a sheetData is counted, whatever its name (calamine goes where the workbook's
    relationships point), as many times as the workbook lists it as a sheet. `unpacked`: the parts
    as unpacked so far, to be shared with what looks into them next."""
    unpacked = unpacked or Parts(data)
    parts = {_normal(info.filename): info for info in infos}
    strings = _shared_strings(unpacked, infos)
    listed = _listed_sheets(unpacked, parts)
    totals = Totals(rules)
    totals.count_sheets(len(listed))
    names: dict[str, str] = {}
    for name, part in listed:
        names.setdefault(part, name)
    times = Counter(part for _, part in listed)
    counted: dict[tuple, Extent | None] = {}  # each part's count, but for a bound
    try:
        _add_up(data, infos, names, times, strings, totals, unpacked, counted, quick=True)
    except _Bounded:  # a limit passed with a bound in the totals: counted cell by cell, as it says
        totals = Totals(rules)
        totals.count_sheets(len(listed))
        _add_up(data, infos, names, times, strings, totals, unpacked, counted, quick=False)


class _Bounded(Exception):
    """The totals passed a limit, a sheet's grid in them only bounded (_quick)."""


def _add_up(
    data: bytes,
    infos: list[ZipInfo],
    names: dict[str, str],
    times: Counter,
    strings: list[int],
    totals: Totals,
    parts: Parts,
    counted: dict[tuple, Extent | None],
    quick: bool,
) -> None:
    """Each part's count added to `totals`; `counted`: what the first pass counted (a bound aside)."""
    bounded = False
    for info in infos:
        where = f"工作表“{names[info.filename]}”" if info.filename in names else f"部件 {info.filename} "
        key = _key(info)
        if key in counted:
            extent = counted[key]
        else:
            extent = xlsx_part(data, info, where, strings, totals.rules, parts, quick)
            if extent is None or not extent.bound:
                counted[key] = extent
        if extent is not None:
            bounded = bounded or extent.bound
            try:
                totals.add(where, extent, max(1, times[info.filename]))
            except Exceeded:
                if bounded:
                    raise _Bounded from None
                raise


def _normal(name: str) -> str:
    """A part's name as calamine looks it up: "\\" as "/", ASCII letters in lower case."""
    return _normal_remembered(name) if len(name) <= 256 else name.replace("\\", "/").translate(ASCII_LOWER)


@lru_cache(maxsize=4096)
def _normal_remembered(name: str) -> str:  # a bureau's workbooks' parts have the same few names
    return name.replace("\\", "/").translate(ASCII_LOWER)


ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


SHEET_DATA = re.compile(rb"(?:<|:)sheetData[\s/>]")  # where calamine starts reading a sheet's cells
# A cell as Excel, WPS, LibreOffice, openpyxl and xlsxwriter write one: its reference first, only the
# attributes they give a cell, a shared string's index right after the tag.
CELL = re.compile(  # every unprefixed cell tag; one written otherwise matches with nothing in the groups
    rb'<c(?: r="([A-Z]{1,3}+)([1-9][0-9]{0,6}+)"(?: [stcvmph]{1,2}+="[^"<>]*+")*+(/?)>|(?=[ \t\r\n/>]))'
)  # (s, t, cm, vm, ph are the attributes a cell has: a second "r" is no cell written as Excel writes one;
# possessive, as nothing a quantifier takes could be what follows it: the same matches, found sooner)
SHARED_CELL = re.compile(  # a cell showing a shared string, and the string's index right after its tag
    rb'<c r="[A-Z]{1,3}[1-9][0-9]{0,6}"(?: [stcvmph]{1,2}="[^"<>]*")*? t="s"(?: [stcvmph]{1,2}="[^"<>]*")*>'
    rb"(?:<v>([0-9]{1,10})</v>)?"
)
ANY_CELL = re.compile(rb"<(?:[^\s<>]*:)?c[\s/>]")  # all quick-xml could read as a cell's start tag
ANY_MERGE = re.compile(rb"<(?:[^\s<>]*:)?mergeCell[\s/>]")
SHARED_STRING = re.compile(rb"<(?!/)(?:[^\s<>]*:)?si[\s/>]")
SHARED_STRING_MARK = re.compile(rb"<(/?)(?:[^\s<>/]*:)?si[\s/>]")  # its start or end tag
SHARED_STRING_TEXT = re.compile(r"<(?!/)(?:[^\s<>]*:)?si[\s/>]")
SHARED_STRING_MARK_TEXT = re.compile(r"<(/?)(?:[^\s<>/]*:)?si[\s/>]")
OTHER_TAG = re.compile(r"<(?!/?(?:[^\s<>/]*:)?si[\s/>])[^>]*>")
UNIQUE_COUNT = re.compile(rb"""uniqueCount\s*=\s*["']\s*([0-9]+)""")


def xlsx_part(
    data: bytes,
    info: ZipInfo,
    where: str,
    strings: list[int],
    rules: dict,
    parts: Parts | None = None,
    quick: bool = False,
) -> Extent | None:
    """What calamine builds for a part read as a worksheet; None for a part without sheetData.
    `quick`: a sheet written as the template is may have its grid bounded (_quick), not counted."""
    parts = parts or Parts(data)
    if info.file_size <= PIECE:  # most are: unpacked at once
        whole = parts.known(info)  # a worksheet intake looked into
        if whole is None:
            key = b"no sheet" + parts.fingerprint(info)
            if key in _KNOWN:
                return None
            whole = parts.whole(info)
            if b"sheetData" not in whole:
                _remember(key, True)
                return None
        elif b"sheetData" not in whole:
            return None
        extent = _quick(whole, strings, rules) if quick else None
        if extent is not None:
            parts.formulas[_key(info)] = extent.formulas
            return extent
        chunks: Iterator[bytes] = iter((whole,))
    else:
        chunks = pieces(data, info)
    try:
        extent = xlsx_sheet(chunks, where, strings, rules)
        if extent is not None:
            parts.formulas[_key(info)] = extent.formulas
        return extent
    except _Slowly:
        return xlsx_sheet_slowly(parts.whole(info), where, strings, rules["sheet_cells"])


class _Slowly(Exception):
    """The part is not written as Excel writes one: it is to be read tag by tag."""


def xlsx_sheet(pieces: Iterator[bytes], where: str, strings: list[int], rules: dict) -> Extent | None:
    """What calamine builds for a worksheet part (None for a part without sheetData, from which
    calamine reads no cell), counted over its bytes as Excel writes cells; _Slowly for a part
    written otherwise. `strings`: each shared string's length at most, by index."""
    extent, started, count = Extent(formulas=False), False, 0
    rows: set[bytes] = set()
    columns: set[bytes] = set()
    longest = max(strings, default=0)
    for piece in _at_cells(pieces):
        start = 0  # where the piece's sheet data starts
        if not started:
            found = SHEET_DATA.search(piece) if b"sheetData" in piece else None
            if found is None:
                extent.formulas = extent.formulas or formula_tag(piece)
                continue
            start, started = found.start(), True
        # A comment, CDATA or processing instruction may hold text like a cell: counted, it can only
        # add to the count; and a cell left open makes calamine read what follows as its value.
        # The cells are looked for up to the </sheetData>, what follows it counted once for all the
        # workbooks that share it (_tail), unless a cell starts there.
        end = piece.find(b"</sheetData", start)
        tail = _tail(piece, end) if end >= 0 else NO_TAIL
        if end < 0 or tail.cells:
            end, tail = len(piece), NO_TAIL
        cells = CELL.findall(piece, start, end)
        if (tail.prefixed or piece.find(b":c", start, end) >= 0) and len(ANY_CELL.findall(piece, start)) != len(cells):
            raise _Slowly  # a cell with a prefix (<x:c …>)
        if cells:
            letters, digits, empty = zip(*cells, strict=True)
            if b"" in digits:
                raise _Slowly  # a cell tag not as Excel writes one
            if any(empty):  # <c …/> holds nothing: calamine keeps no cell for it
                held = list(map(operator.not_, empty))
                letters, digits = tuple(compress(letters, held)), tuple(compress(digits, held))
            rows.update(digits)
            columns.update(letters)
            count += len(digits)
            extent.text += _shown(piece, start, end, strings, longest, rules)
        if count > rules["sheet_cells"]:
            raise Exceeded(f"{where}的单元格过多（超过 {rules['sheet_cells']} 个）")
        extent.merges += _merges(piece, start, end) + tail.merges
        extent.formulas = extent.formulas or tail.formulas or formula_tag(piece, 0, end)
    if not started:
        return None
    if rows:
        numbers, indexes = list(map(int, rows)), [_column(letters) for letters in columns]
        for row, column in ((min(numbers) - 1, min(indexes)), (max(numbers) - 1, max(indexes))):
            _within_grid(where, row, column)
            extent.add(row, column)
    return extent


# The sheet data of a sheet written as the template is (by Excel, WPS, openpyxl or xlsxwriter): rows
# of cells in A1:Z999, each cell tag as CELL has it, holding a formula, a value or nothing. Matched
# whole at C speed, with no object a cell: most of what reading a department's workbook cost here.
QUICK_ROWS, QUICK_COLUMNS = 999, 26
QUICK_SHEET = re.compile(
    rb'<sheetData>(?:<row(?: [^<>/]*+)?(?:/>|>(?:<c r="[A-Z][1-9][0-9]{0,2}+"(?: [stcvmph]{1,2}+="[^"<>]*+")*+'
    rb"(?:/>|>(?:<f\b[^<>/]*+(?:/>|>[^<]*+</f>))?+(?:<v>[^<]*+</v>)?+</c>))*+</row>))*+"
)
SMALLEST_CELL = len(b'<c r="A1"/>')


def _quick(whole: bytes, strings: list[int], rules: dict) -> Extent | None:
    """What xlsx_sheet counts of a whole part, its grid bounded by QUICK_ROWS × QUICK_COLUMNS, when
    its sheet data is QUICK_SHEET; else None. Only the cells are not looked at one by one: all else
    is found as xlsx_sheet finds it, and a part it would read otherwise (xlsx_sheet_slowly, or
    cells after the sheet data) is left to it. Within the bound, every "<c" of the sheet data is a
    cell tag as CELL has it; there are no more cells than the part has bytes for one."""
    start = whole.find(b"<sheetData>")
    if start < 0 or whole.find(b"sheetData") != start + 1:  # not where SHEET_DATA finds it first
        return None
    end = whole.find(b"</sheetData", start)
    if end < 0 or len(whole) // SMALLEST_CELL > rules["sheet_cells"]:
        return None
    tail = _tail(whole, end)
    if tail.cells or tail.prefixed or whole.find(b":c", start, end) >= 0:
        return None
    if QUICK_SHEET.fullmatch(whole, start, end) is None:
        return None
    try:
        text = _shown(whole, start, end, strings, max(strings, default=0), rules)
    except _Slowly:
        return None
    return Extent(
        top=0,
        bottom=QUICK_ROWS - 1,
        left=0,
        right=QUICK_COLUMNS - 1,
        text=text,
        merges=_merges(whole, start, end) + tail.merges,
        formulas=tail.formulas or formula_tag(whole, 0, end),
        bound=True,
    )


CELL_STARTS = (b" ", b"/", b">", b"\t", b"\r", b"\n")  # what follows "<c" in a cell's start tag
LOOKED_PAST = 16  # "<c…" other than a cell's start tag after the sheet data, looked at before giving up


class _Tail(NamedTuple):
    """What follows a worksheet's cells, from its </sheetData> on (its merged ranges, validations
    and page setup: most of an ordinary sheet's bytes, and the same in every workbook filled in from
    one template), as counted."""

    cells: bool  # a cell may start there (without a prefix: "<c" and a space, line break, "/" or ">")
    prefixed: bool  # a ":c" is there: perhaps a cell with a prefix
    merges: int
    formulas: bool  # formula_tag()


NO_TAIL = _Tail(False, False, 0, False)
# Tails seen, by their length, then their very bytes: compared in place, as copying and hashing a
# tail cost more than counting the cells before it.
_TAILS: dict[int, list[tuple[bytes, _Tail]]] = {}
_TAILS_MOST, TAIL_KEPT = 64, 1 << 16


def _tail(piece: bytes, end: int) -> _Tail:
    """The tail of a piece from `end`, counted, or known by its bytes (only the very same bytes)."""
    size = len(piece) - end
    kept = size <= TAIL_KEPT
    for known, found in _TAILS.get(size, ()) if kept else ():
        if piece.startswith(known, end):
            return found
    tail = piece[end:]
    found = _Tail(_cell_starts(tail), b":c" in tail, _merges(tail), formula_tag(tail))
    if kept:
        if sum(map(len, _TAILS.values())) >= _TAILS_MOST:
            _TAILS.clear()
        _TAILS.setdefault(size, []).append((tail, found))
    return found


def _cell_starts(data: bytes) -> bool:
    """Whether a cell (without a prefix) may start in `data`: if "<c" is followed by a space, line
    break, "/" or ">" (CELL's and ANY_CELL's starts), or by anything else too often to look at."""
    at = 0
    for _ in range(LOOKED_PAST):
        at = data.find(b"<c", at)
        if at < 0:
            return False
        if data[at + 2 : at + 3] in CELL_STARTS:
            return True
        at += 2
    return True


def _merges(piece: bytes, start: int = 0, end: int | None = None) -> int:
    """The merged ranges (<mergeCell …/>) of a piece from `start` to `end`: counted by their start
    tags, any prefix. Without a prefix, every "<mergeCell" but a "<mergeCells" is counted: no fewer
    than the start tags (followed by a space, line break, "/" or ">"), and as many in any honest
    workbook."""
    end = len(piece) if end is None else end
    if piece.find(b"mergeCell", start, end) < 0:
        return 0
    if piece.find(b":mergeCell", start, end) >= 0:
        return len(ANY_MERGE.findall(piece, start, end))
    return piece.count(b"<mergeCell", start, end) - piece.count(b"<mergeCells", start, end)


FORMULA_TAG = re.compile(rb"<f\b")  # a formula's tag without a prefix, as files.FORMULA finds it: not <formula1>


def formula_tag(data: bytes, start: int = 0, end: int | None = None) -> bool:
    """Whether a worksheet's bytes (from `start` to `end`) may hold a formula, as files.FORMULA finds
    one: a <f> tag without a prefix (<f>, <f …/>; a validation's <formula1> is none) or a ":f" (the
    end of <x:f>'s name)."""
    end = len(data) if end is None else end
    if data.find(b":f", start, end) >= 0:
        return True
    at = data.find(b"<f", start, end)  # FORMULA_TAG's first "<f", found as bytes: a third the cost
    return at >= 0 and FORMULA_TAG.search(data, at, end) is not None


def _shown(piece: bytes, start: int, end: int, strings: list[int], longest: int, rules: dict) -> int:
    """The characters of the shared strings a piece's cells show, at most. Each shows the longest at
    most: bound enough while that is a hundredth of the limit or less (only a workbook of a hundred
    sheets' pieces could add up to the limit so, and none ordinary has more than a few); else each
    cell's own string is looked up (an index past them shows none)."""
    showing = piece.count(b't="s"', start, end)
    if showing * longest <= rules["workbook_text_chars"] // 100:
        return showing * longest
    indexes = SHARED_CELL.findall(piece, start, end)
    if b"" in indexes or len(indexes) != showing:
        raise _Slowly  # a shared string's index not right after the tag, or t="s" elsewhere
    numbers = list(map(int, indexes))
    if numbers and max(numbers) >= len(strings):
        return sum(strings[i] for i in numbers if i < len(strings))
    return sum(map(strings.__getitem__, numbers))


def xlsx_sheet_slowly(data: bytes, where: str, strings: list[int], cells_at_most: int) -> Extent | None:
    """The same count tag by tag, as calamine reads a sheet (xlsx/cells_reader.rs): a row's "r" sets
    the row and its end moves to the next; a cell without "r" takes the next column. A cell within a
    cell or a row within a row is refused, as calamine and this count would read it differently."""
    extent, started, row, column, in_cell, in_row, count = Extent(), False, 0, 0, False, False, 0
    longest = max(strings, default=0)  # a shared string's index is not looked for: the longest is counted
    for tag in tags(data, where):
        local = tag.local
        if not started:
            started = local == b"sheetData" and not tag.end
            if started and tag.empty:
                break
        elif local == b"sheetData" and tag.end:
            break
        elif local == b"mergeCell" and not tag.end:
            extent.merges += 1
        elif local == b"row":
            if not tag.end:
                if in_row or in_cell:
                    raise _malformed(where, "行中套行")
                r = attributes(tag, where).get(b"r")
                row, in_row = (_row_column(r, where, row=True)[0] if r is not None else row), True
            if tag.end or tag.empty:
                row, column, in_row = row + 1, 0, False
        elif local == b"c" and not tag.end:
            if in_cell:
                raise _malformed(where, "单元格中套单元格")
            found = attributes(tag, where)
            r = found.get(b"r")
            at = _row_column(r, where) if r is not None else (row, column)
            column = at[1] + 1
            if not tag.empty:
                in_cell, count = True, count + 1
                _within_grid(where, *at)
                extent.add(*at)
                if found.get(b"t") == b"s":
                    extent.text += longest
                if count > cells_at_most:
                    raise Exceeded(f"{where}的单元格过多（超过 {cells_at_most} 个）")
        elif local == b"c":
            in_cell = False
    return extent if started else None


REFERENCE = re.compile(rb"([A-Za-z]*)([0-9]+)")


def _row_column(reference: bytes, where: str, row: bool = False) -> tuple[int, int]:
    """(row, column), 0-based, of "B7" (of "7" too, for a row: calamine reads letters in a row's "r"
    and ignores them)."""
    match = REFERENCE.fullmatch(reference)
    if match is None or (not row and not match.group(1)) or int(match.group(2)) < 1:
        raise Exceeded(f"{where}中有无效的单元格引用“{reference[:20].decode('utf-8', 'replace')}”")
    return int(match.group(2)) - 1, _column(match.group(1))


def _column(letters: bytes) -> int:
    column = 0
    for letter in letters.upper():
        column = column * 26 + letter - 64
    return column - 1


def _shared_strings(parts: Parts, infos: list[ZipInfo]) -> list[int]:
    """Each shared string's length at most, by index, over every part that may be the workbook's
    shared strings (calamine finds it by name, wherever the workbook is)."""
    lengths: list[int] = []
    for info in infos:
        if _normal(info.filename).endswith("sharedstrings.xml"):
            part = parts.whole(info)
            found = shared_string_lengths(part)
            _honest_count(part, len(found), info.filename)
            lengths = [max(pair) for pair in zip_longest(lengths, found, fillvalue=0)] if lengths else found
    return lengths


def shared_string_lengths(data: bytes) -> list[int]:
    """Each shared string's length at most, by index: what lies between its <si> and the next (its
    text is within), and the longest from there on unless each <si> is closed before the next opens
    and none could hide in a comment or CDATA (an <si> calamine would not count can then only raise
    a bound). An ordinary workbook's are measured in bytes, markup and all: bound enough, and cheap;
    larger ones in characters, tags left out."""
    if len(data) < 1 << 16 and _plain_strings(data):  # as Excel writes them: split at each <si>
        between = data.split(b"<si>")
        spans = list(map(len, between[1:]))
        # <si> and </si> alternate: none before the first <si>, one after each (no more in all)
        clean = (
            b"<!" not in data
            and b"</si>" not in between[0]
            and all(b"</si>" in each for each in between[1:])
            and data.count(b"</si>") == len(spans)
        )
    elif len(data) < 1 << 16:
        spans = [len(between) for between in SHARED_STRING.split(data)[1:]]
        clean = b"<!" not in data and _alternating(SHARED_STRING_MARK.findall(data))
    else:
        text = data.decode("utf-8", "replace")
        clean = "<!" not in text
        text = OTHER_TAG.sub("", text) if clean else text
        clean = clean and _alternating(SHARED_STRING_MARK_TEXT.findall(text))
        spans = [len(between) for between in SHARED_STRING_TEXT.split(text)[1:]]
    return spans if clean else list(accumulate(reversed(spans), max))[::-1]


def _plain_strings(data: bytes) -> bool:
    """Whether every <si> and </si> of a part is written so, without a prefix or attributes: then
    SHARED_STRING finds each <si> and SHARED_STRING_MARK each <si> and </si>, and nothing else."""
    return (
        b":si" not in data and data.count(b"<si") == data.count(b"<si>") and data.count(b"</si") == data.count(b"</si>")
    )


def _alternating(marks: list) -> bool:
    """Whether <si> and </si> alternate, starting with an <si>."""
    return len(marks) % 2 == 0 and not any(marks[::2]) and all(marks[1::2])


def _honest_count(data: bytes, found: int, part: str) -> None:
    """calamine reserves room for as many strings as <sst uniqueCount="…"> says, before reading them."""
    stated = max(map(int, UNIQUE_COUNT.findall(data)), default=0)
    if stated > max(found, len(data)):
        raise Exceeded(f"部件 {part} 声明的字符串数（{stated}）远多于其中实有的（{found}）")


def _listed_sheets(unpacked: Parts, parts: dict[str, ZipInfo]) -> list[tuple[str, str]]:
    """(name, part) of each sheet the workbook lists, found as calamine finds them (xlsx/mod.rs):
    the workbook's folder from _rels/.rels, its relationships, then workbook.xml."""
    where = [
        info for name, info in parts.items() if name.endswith(("_rels/.rels", "workbook.xml.rels", "workbook.xml"))
    ]
    key = b"listing" + b"".join(unpacked.fingerprint(info) for info in where)
    listing: list[tuple[str, str]] = _KNOWN.get(key) or _remember(key, _listing(unpacked, parts))  # type: ignore[assignment]
    found = [(name, parts.get(_normal(path))) for name, path in listing]
    return [(name, info.filename if info else path) for (name, info), (_, path) in zip(found, listing, strict=True)]


def _listing(unpacked: Parts, parts: dict[str, ZipInfo]) -> list[tuple[str, str]]:
    def read(name: str) -> bytes | None:
        info = parts.get(_normal(name))
        return None if info is None else unpacked.whole(info)

    folder, package = "xl/", read("_rels/.rels")
    for found in _elements(package, b"Relationship", "部件 _rels/.rels "):
        if found.get(b"Type", b"").endswith(b"/relationships/officeDocument") and b"Target" in found:
            target = _text(found[b"Target"])
            folder = target[: target.rfind("/") + 1].removeprefix("/") if "/" in target else ""
    relations = {
        found[b"Id"]: _text(found.get(b"Target", b""))
        for found in _elements(read(f"{folder}_rels/workbook.xml.rels"), b"Relationship", "部件 workbook.xml.rels ")
        if b"Id" in found
    }
    listing = []
    for found in _elements(read(f"{folder}workbook.xml"), b"sheet", "部件 workbook.xml "):
        ids = [value for key, value in found.items() if key.partition(b":")[2] == b"id" or key == b"id"]
        target = relations.get(ids[-1], "") if ids else ""
        listing.append((_text(found.get(b"name", b"")), target[1:] if target.startswith("/") else folder + target))
    return listing


# What was found in parts that a bureau's workbooks share byte for byte (the template's workbook.xml,
# relationships, theme, styles): known for the next workbook without unpacking them again. Keyed by a
# hash of the packed bytes, their method and stated size: only the very same bytes are known.
_KNOWN: dict[bytes, object] = {}
_KNOWN_MOST = 4096


def _fingerprint(data: bytes | memoryview, info: ZipInfo) -> bytes:
    return hashlib.blake2b(_packed(data, info), digest_size=16).digest() + struct.pack(
        "<HQ", info.compress_type, info.file_size
    )


def _remember(key: bytes, value):
    if len(_KNOWN) >= _KNOWN_MOST:
        _KNOWN.clear()
    _KNOWN[key] = value
    return value


def _elements(data: bytes | None, local: bytes, part: str) -> Iterator[dict[bytes, bytes]]:
    """The attributes of each start tag named `local` (any prefix), tag by tag as quick-xml reads
    them: a pattern could take what stands in another tag's quoted value for a tag, and miss the
    tags after it."""
    for tag in tags(data or b"", part):
        if not tag.end and tag.local == local:
            yield attributes(tag, part)


# -- .ods ---------------------------------------------------------------------------------------------------
CONTENT = "部件 content.xml "  # an .ods's tables, as messages name it
ODS_MAX_ROWS, ODS_MAX_COLUMNS = 1_048_576, 16_384  # calamine's caps on an .ods sheet's repeats (ods.rs)
# What makes calamine read a cell as holding something (get_datatype in ods.rs): a cell without them
# and without content is empty.
VALUE_ATTRIBUTES = (
    b"office:value",
    b"office:string-value",
    b"office:date-value",
    b"office:time-value",
    b"office:boolean-value",
    b"office:value-type",
    b"table:formula",
)
# What makes calamine make text of a cell, besides office:value-type="string": its value's text, or
# its formula's, which it keeps beside the value.
TEXT_ATTRIBUTES = (b"office:string-value", b"office:date-value", b"office:time-value", b"table:formula")


def ods(content: bytes, rules: dict) -> None:
    """Exceeded unless every table of an .ods (its content.xml) is within the limits, and all of them
    together."""
    totals = Totals(rules)
    for where, extent in ods_tables(content):
        totals.count_sheets(1)
        totals.add(where, extent)


def ods_tables(content: bytes) -> Iterator[tuple[str, Extent]]:
    """What calamine builds for each table of an .ods, as each ends. calamine (ods.rs) builds a cell
    as many times as number-columns-repeated says, a row as many times as number-rows-repeated says
    and as many spaces as <text:s text:c> says: each is counted so. A table, row or cell within
    another is refused: calamine would end the outer one early, and this count might not."""
    table: _OdsTable | None = None
    row: _OdsRow | None = None
    cell: list[int] | None = None  # the cell being read: its repeats, where its text starts (-1: none), its spaces
    for tag in _ods_tags(content):
        name, end = tag.name, tag.end
        if name == b"table:table":
            if not end and table is not None:
                raise _malformed(CONTENT, "表格中套表格")
            if not end and b"table:name" in (found := attributes(tag, CONTENT)):
                table = _OdsTable(f"工作表“{_text(found[b'table:name'])[:40]}”")
            elif end and table is not None:
                yield table.where, table.extent()
                table = None
        elif table is None:
            continue  # calamine reads rows within a named table only
        elif name == b"table:table-row":
            if not end:
                if row is not None:
                    raise _malformed(CONTENT, "行中套行")
                repeats = _number(attributes(tag, CONTENT), b"table:number-rows-repeated", table.where)
                row = _OdsRow(min(repeats, max(0, ODS_MAX_ROWS - table.rows)))
                table.rows += row.repeats
            if (end or tag.empty) and row is not None:
                table.add(row)
                row = None
        elif name == b"text:s":
            if not end and cell is not None:
                cell[2] += _number(attributes(tag, CONTENT), b"text:c", table.where)
        elif row is None:
            continue  # a cell outside a row, which calamine does not read
        elif not end:
            if cell is not None:
                raise _malformed(CONTENT, "单元格中套单元格")
            found = attributes(tag, CONTENT)
            repeats = _number(found, b"table:number-columns-repeated", table.where)
            texty = found.get(b"office:value-type") == b"string" or any(key in found for key in TEXT_ATTRIBUTES)
            start = tag.after - len(tag.name) - len(tag.attributes) - 3 if texty else -1
            if tag.empty:
                row.cell(repeats, any(key in found for key in VALUE_ATTRIBUTES), _chars(content, start, tag.after))
            else:
                cell = [repeats, start, 0]
        elif cell is not None:
            row.cell(cell[0], True, _chars(content, cell[1], tag.after) + cell[2] if cell[1] >= 0 else 0)
            cell = None


def _chars(content: bytes, start: int, end: int) -> int:
    """The characters of a cell, tags and all: at least its text (none for start -1)."""
    return len(content[start:end].decode("utf-8", "replace")) if start >= 0 else 0


def _ods_tags(content: bytes) -> Iterator[Tag]:
    """The tags calamine reads an .ods's tables by, with their exact names (calamine matches them
    prefix and all), tag by tag as quick-xml reads them (see _elements)."""
    wanted = {b"table:table", b"table:table-row", b"table:table-cell", b"table:covered-table-cell", b"text:s"}
    return (tag for tag in tags(content, CONTENT) if tag.name in wanted)


def _number(found: dict[bytes, bytes], key: bytes, where: str) -> int:
    value = found.get(key)
    if value is None:
        return 1
    if not value.strip().isdigit():
        raise Exceeded(f"{where}中 {key.decode()} 的值“{value[:20].decode('utf-8', 'replace')}”不是数字")
    return int(value)


class _OdsRow:
    """A row as calamine's read_row builds it: cells in order, an empty run left unbuilt until a cell
    follows it, at most 16,384 columns."""

    def __init__(self, repeats: int):
        self.repeats, self.width, self.pending = repeats, 0, 0
        self.first, self.last, self.text = -1, -1, 0

    def cell(self, repeats: int, valued: bool, text: int) -> None:
        self.width = min(ODS_MAX_COLUMNS, self.width + self.pending)
        repeats = min(repeats, ODS_MAX_COLUMNS - self.width)
        if not valued:
            self.pending = repeats
            return
        self.pending = 0
        if repeats:
            self.first = self.width if self.first < 0 else self.first
            self.last = self.width + repeats - 1
            self.text += text * repeats
        self.width += repeats


class _OdsTable:
    """A table as calamine's read_table and get_range build it: its rows as written, then the grid
    from the first row holding a value to the last, repeated rows and all."""

    def __init__(self, where: str):
        self.where, self.rows, self.built, self.text = where, 0, 0, 0
        self.top, self.bottom, self.left, self.right, self.since = -1, -1, ODS_MAX_COLUMNS, -1, 0

    def add(self, row: _OdsRow) -> None:
        self.built += row.width
        if row.first >= 0:
            self.top = self.since if self.top < 0 else self.top
            self.bottom = self.since + row.repeats - 1
            self.left, self.right = min(self.left, row.first), max(self.right, row.last)
            self.text += row.text * row.repeats
        self.since += row.repeats

    def extent(self) -> Extent:
        extent = Extent(text=self.text, built=self.built)
        if self.top >= 0:
            extent.add(self.top, self.left)
            extent.add(self.bottom, self.right)
        return extent


# -- .xls -------------------------------------------------------------------------------------------------
ENDOFCHAIN, RESERVED, DIFSECT = 0xFFFFFFFE, 0xFFFFFFFA, 0xFFFFFFFC
WORKBOOK_STREAMS = ("Workbook", "Book", "WORKBOOK", "BOOK")  # calamine's order (xls.rs)
BIFF_RECORD = 8224  # the most a BIFF8 record holds


def xls(data: bytes, rules: dict) -> None:
    """Exceeded unless an .xls is within the limits: its OLE container (cfb.rs) is walked as calamine
    walks it, refusing chains that loop or leave the file, then its workbook stream's records
    (xls.rs) are counted sheet by sheet."""
    try:
        _xls(data, rules)
    except (struct.error, IndexError) as error:
        raise Exceeded(f".xls 文件已损坏（{error}）：请用 Excel 打开后另存为 .xlsx 报送") from None


def _xls(data: bytes, rules: dict) -> None:
    stream = workbook_stream(data)
    strings, sheets = _xls_globals(stream)
    totals = Totals(rules)
    totals.count_sheets(len(sheets))
    ends: list[tuple[int, int]] = []
    for position, name in sheets:
        where = f"工作表“{name[:40]}”"
        if position >= len(stream):
            raise Exceeded(f".xls 文件中{where}的位置（{position}）超出了文件，文件已损坏")
        extent, end = _xls_sheet(stream, position, where, strings, rules)
        ends.append((position, end))
        totals.add(where, extent)
    ends.sort()
    for (_, end), (next_position, _) in pairwise(ends):
        if next_position < end:
            raise Exceeded(".xls 文件中有两张工作表读取同一段数据，文件已损坏或是伪造的")


def _cfb_error(what: str) -> Exceeded:
    return Exceeded(f".xls 文件的内部结构（OLE 复合文档）有误：{what}：请用 Excel 打开后另存为 .xlsx 报送")


def workbook_stream(data: bytes) -> bytes:
    """The workbook stream of an OLE compound file, read as calamine's cfb.rs reads it, with every
    chain followed at most once through each sector (calamine follows a looping chain for ever)."""
    if len(data) < 512:
        raise _cfb_error("文件太短")
    shift = struct.unpack_from("<H", data, 30)[0]
    if shift not in (9, 12) or struct.unpack_from("<H", data, 32)[0] != 6:
        raise _cfb_error("扇区大小无效")
    size = 1 << shift
    body = memoryview(data)[size:]  # sector 0 follows the header, which fills a sector
    count = len(data) // size  # calamine's highest sector number
    fat_sectors, directory, mini_fat_start, mini_fat_sectors, difat_start = struct.unpack_from("<II8xIII", data, 44)
    if fat_sectors > count or mini_fat_sectors > count:
        raise _cfb_error("分配表的长度超出了文件")
    if struct.unpack_from("<I", data, 62)[0] > 1 << 24:  # calamine reserves room for so many entries (cfb.rs)
        raise _cfb_error("文件头中的数值无效")

    def sector(number: int) -> bytes:
        if number > count:
            raise _cfb_error(f"第 {number} 扇区在文件之外")
        return bytes(body[number * size : (number + 1) * size])

    difat = list(struct.unpack_from("<109I", data, 76))
    seen: set[int] = set()
    number = difat_start
    while number < RESERVED:
        if number in seen:
            raise _cfb_error("分配表链成环")
        seen.add(number)
        difat.extend(_u32s(sector(number)))
        number = difat.pop()
    listed = [number for number in difat if number < DIFSECT]
    if len(listed) > count:
        raise _cfb_error("分配表的扇区多于文件中的扇区")
    fat = [entry for number in listed for entry in _u32s(sector(number))]

    def chain(start: int, length: int | None, table: list[int] | tuple[int, ...], read) -> bytes:
        """A stream's sectors in order (calamine's get_chain), each at most once."""
        out, total, seen, number = [], 0, set(), start
        while number != ENDOFCHAIN and (length is None or total < length):
            if number in seen:
                raise _cfb_error("扇区链成环")
            seen.add(number)
            out.append(read(number))
            total += len(out[-1])
            if length is not None and total >= length:
                break
            if number >= len(table):
                raise _cfb_error(f"第 {number} 扇区不在分配表中")
            number = table[number]
        joined = b"".join(out)
        return joined if length is None else joined[:length]

    entries = chain(directory, None, fat, sector)
    names = [_directory(entries[at : at + 128], size) for at in range(0, len(entries) - 127, 128)]
    if not names:
        raise _cfb_error("目录为空")
    mini_stream = mini_fat = b""
    if mini_fat_sectors:
        root_start, root_length = names[0][1], names[0][2]
        mini_stream = chain(root_start, min(root_length, len(data)), fat, sector)
        mini_fat = chain(mini_fat_start, mini_fat_sectors * size, fat, sector)
    mini_table = _u32s(mini_fat)

    def mini_sector(number: int) -> bytes:
        if (number + 1) * 64 > len(mini_stream):
            raise _cfb_error(f"第 {number} 小扇区在文件之外")
        return mini_stream[number * 64 : (number + 1) * 64]

    for wanted in WORKBOOK_STREAMS:
        for name, start, length in names:
            if name == wanted:
                if length > len(data):
                    raise _cfb_error(f"{name} 流声明的长度（{length} 字节）超出了文件")
                if length < 4096:
                    return chain(start, length, mini_table, mini_sector)
                return chain(start, length, fat, sector)
    raise _cfb_error("找不到工作簿数据流（Workbook）")


def _u32s(data: bytes) -> tuple[int, ...]:
    return struct.unpack(f"<{len(data) // 4}I", data[: len(data) // 4 * 4])


def _directory(entry: bytes, size: int) -> tuple[str, int, int]:
    """(name, first sector, length) of a directory entry; the name as calamine decodes it (up to its
    first NUL), the length in 4 bytes for 512-byte sectors and 8 for 4096."""
    name = entry[:64].decode("utf-16-le", "replace").split("\0", 1)[0]
    start = struct.unpack_from("<I", entry, 116)[0]
    length = struct.unpack_from("<I" if size == 512 else "<Q", entry, 120)[0]
    return name, start, length


def _records(stream: bytes, at: int = 0) -> Iterator[tuple[int, int, bytes, list[bytes]]]:
    """(offset, type, data, continuations) of each BIFF record from `at`, as calamine's RecordIter
    splits them (a record's CONTINUE records ride with it)."""
    end = len(stream)
    while at < end:
        if end - at < 4:
            raise Exceeded(".xls 文件的数据在记录中间结束，文件已损坏")
        kind, length = struct.unpack_from("<HH", stream, at)
        start, at = at, at + 4 + length
        if at > end:
            raise Exceeded(".xls 文件的数据在记录中间结束，文件已损坏")
        data, more = stream[start + 4 : at], []
        while end - at > 4 and struct.unpack_from("<H", stream, at)[0] == 0x003C:
            (length,) = struct.unpack_from("<H", stream, at + 2)
            more.append(stream[at + 4 : at + 4 + length])
            at += 4 + length
            if at > end:
                raise Exceeded(".xls 文件的数据在记录中间结束，文件已损坏")
            if len(more) > len(stream) // BIFF_RECORD + 16:
                # calamine takes each part off the front of a list: so many would cost hours.
                raise Exceeded(".xls 文件中一条记录的续接记录过多，文件已损坏或是伪造的")
        yield start, kind, data, more


def _xls_globals(stream: bytes) -> tuple[list[int], list[tuple[int, str]]]:
    """The shared strings' lengths, by index, and (position, name) of each sheet, from the workbook
    globals (the records up to the first EOF)."""
    strings: list[int] = []
    sheets: list[tuple[int, str]] = []
    for _, kind, data, more in _records(stream):
        if kind == 0x0085 and len(data) >= 8:  # BoundSheet8
            position, length, wide = struct.unpack_from("<I", data)[0], data[6], data[7] & 1
            name = data[8 : 8 + length * (1 + wide)].decode("utf-16-le" if wide else "latin-1", "replace")
            sheets.append((position, name))
        elif kind == 0x00FC:  # SST
            strings = _sst_lengths(data, more)
        elif kind == 0x000A:  # EOF
            break
    return strings, sheets


def _sst_lengths(data: bytes, more: list[bytes]) -> list[int]:
    """Each string's length in characters, as calamine's parse_sst reads them (xls.rs)."""
    parts: list[bytes] = [data[8:], *more]
    lengths: list[int] = []
    part, at = 0, 0

    def take(count: int, wide: bool) -> None:
        """A string's characters, continued in the next part (after its own flags byte) as needed."""
        nonlocal part, at
        while count > 0:
            used = min((len(parts[part]) - at) // (2 if wide else 1), count)
            at, count = at + used * (2 if wide else 1), count - used
            if count > 0:
                part += 1
                if part >= len(parts) or not parts[part]:
                    raise Exceeded(".xls 文件的共享字符串表不完整，文件已损坏")
                wide, at = bool(parts[part][0] & 1), 1

    def skip(count: int) -> None:
        nonlocal part, at
        while count > 0:
            if at >= len(parts[part]):
                part, at = part + 1, 0
                if part >= len(parts):
                    raise Exceeded(".xls 文件的共享字符串表不完整，文件已损坏")
            used = min(count, len(parts[part]) - at)
            at, count = at + used, count - used

    while True:
        if at >= len(parts[part]):
            if part + 1 >= len(parts):
                return lengths
            part, at = part + 1, 0
            if not parts[part]:
                lengths.append(0)  # calamine reads an empty string from an empty part
            continue
        current = parts[part]
        if len(current) - at < 3:
            raise Exceeded(".xls 文件的共享字符串表不完整，文件已损坏")
        count, flags = struct.unpack_from("<HB", current, at)
        at += 3
        runs = extra = 0
        if flags & 8:
            runs, at = struct.unpack_from("<H", current, at)[0], at + 2
        if flags & 4:
            extra, at = struct.unpack_from("<I", current, at)[0], at + 4
        take(count, bool(flags & 1))
        skip(runs * 4 + extra)
        lengths.append(count)


# Records holding a cell's value, its row and column first (xls.rs; BIFF2–4's too, should a reader
# read them): BIFF2 INTEGER NUMBER LABEL BOOLERR FORMULA, NUMBER, LABEL, BOOLERR, FORMULA (BIFF3, 4),
# RSTRING, RK, LABELSST. MULRK (0x00BD) holds several.
VALUE_RECORDS = {0x0002, 0x0003, 0x0004, 0x0005, 0x0203, 0x0204, 0x0205, 0x0206, 0x0406, 0x00D6, 0x027E, 0x00FD}
FORMULA_RECORDS = {0x0006, 0x0206, 0x0406}


def _xls_sheet(stream: bytes, at: int, where: str, strings: list[int], rules: dict) -> tuple[Extent, int]:
    """The extent of a sheet's values (and of its formulas, which calamine keeps as a second grid),
    counted over its records up to its EOF, nested substreams (charts) passed over."""
    values, formulas, depth, begun, count, formula_at = Extent(), Extent(), 0, False, 0, (0, 0)
    end = len(stream)
    for offset, kind, data, _ in _records(stream, at):
        end = offset + 4 + len(data)
        if depth:
            depth += (kind == 0x0809) - (kind == 0x000A)
            continue
        if kind == 0x0809:
            depth, begun = (1, begun) if begun else (0, True)
        elif kind == 0x000A:
            break
        elif kind == 0x0200:  # DIMENSIONS: calamine reserves room for the area it states
            stated = _dimensions(data)
            if stated > rules["sheet_cells"]:
                raise Exceeded(f"{where}声明的区域过大（{stated} 个单元格，上限 {rules['sheet_cells']} 个）")
        elif kind == 0x00E5 and len(data) >= 2:  # MERGEDCELLS
            values.merges += struct.unpack_from("<H", data)[0]
        elif kind == 0x00BD and len(data) >= 6:  # MULRK
            row, first = struct.unpack_from("<HH", data)
            last = first + (len(data) - 6) // 6 - 1
            if last >= first:
                values.add(row, first)
                values.add(row, last)
                count += last - first + 1
        elif kind in VALUE_RECORDS and len(data) >= 4:
            row, column = struct.unpack_from("<HH", data)
            values.add(row, column)
            count += 1
            if kind == 0x00FD and len(data) >= 10:
                index = struct.unpack_from("<I", data, 6)[0]
                values.text += strings[index] if index < len(strings) else 0
        elif kind == 0x0207:  # STRING: a formula's text value, kept at the last formula's place
            values.add(*formula_at)
            count += 1
        if kind in FORMULA_RECORDS and len(data) >= 4:
            formula_at = struct.unpack_from("<HH", data)
            values.add(*formula_at)
            formulas.add(*formula_at)
            count += 1
        if count > rules["sheet_cells"]:
            raise Exceeded(f"{where}的单元格过多（超过 {rules['sheet_cells']} 个）")
    if formulas.cells > rules["sheet_cells"]:
        raise Exceeded(
            f"{where}的公式区域过大：从 {formulas.span} 共 {formulas.cells} 个单元格（上限 {rules['sheet_cells']} 个）"
        )
    values.built = formulas.cells
    return values, end


def _dimensions(data: bytes) -> int:
    """The area a DIMENSIONS record states, as calamine's parse_dimensions and its reserve compute it
    (in 32-bit arithmetic, so a last row before the first is some four billion rows)."""
    if len(data) == 10:
        first, last, left, right = struct.unpack_from("<HHHH", data)
    elif len(data) == 14:
        first, last, left, right = struct.unpack_from("<IIHH", data)
    else:
        return 0
    if left > 0xFF or right < left:
        left = 0
    if last < 1 or right < 1:
        return 1
    rows = ((last - 1 - first) & 0xFFFFFFFF) + 1
    columns = ((right - 1 - left) & 0xFFFFFFFF) + 1
    return rows * columns


# -- what the reader gave ---------------------------------------------------------------------------------
def sheet_name(name: str, rules: dict) -> None:
    """Exceeded for a sheet name longer than Excel allows (it travels into every published line of
    cells.csv: six megabytes of name made a gigabyte of it)."""
    limit = rules["sheet_name_chars"]
    if len(name) > limit:
        shown = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in name[:limit])
        raise Exceeded(f"工作表名称过长（{len(name)} 个字符，Excel 的上限是 {limit} 个）：“{shown}…”：请改短后重新报送")


def too_long(sheet: str, row: int, column: int, text: str, limit: int) -> None:
    """Exceeded for a cell holding more text than an Excel cell can (32,767 characters), naming it."""
    raise Exceeded(
        f"工作表“{sheet[:limit]}”的单元格 {cell_name(row, column)} 中的文字过长"
        f"（{len(text)} 个字符，上限 {limit} 个，即 Excel 单元格所能容纳的）"
    )
