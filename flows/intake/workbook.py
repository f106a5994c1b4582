"""A department's workbook → Report, finding each table by its labels wherever it stands.

Knows spreadsheets and the edition's layout, not the accounting rules. Handles the project's own
template and workbooks converted from the official Word table: one sheet per table or all stacked on
one sheet, merged headers, labels broken by line breaks or spaces, full- or half-width punctuation,
blank rows between blocks. Every value keeps its sheet, cell reference and raw content.

Finding the tables looks only at the cells that hold a label; workbooks whose label cells are the
same (a bureau's, filled in from one template) share one placement, found once, and their values are
then read in one pass.
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

import numpy as np
import yaml
from python_calamine import CalamineError, CalamineWorkbook, PasswordError, SheetTypeEnum, SheetVisibleEnum

from flows.format.edition import (
    LABEL_REMEMBERED,
    SCHEMAS,
    Block,
    Column,
    Edition,
    Label,
    Row,
    TableLayout,
    edition_for_year,
    edition_named,
    editions,
    normalise_label,
    rules,
    value_words,
)
from flows.format.report import Finding, Provenance, Report, blank_values, cell_ref, make_finding, typed_text
from flows.format.values import Parsed, expected_kind, format_value, parse_cell
from flows.intake import bounds
from flows.intake.files import Intake, Refused, inspect, limits
from flows.intake.kept import Pack
from flows.intake.labels import align, best_similarity, similarity
from flows.intake.labels import settings as label_settings


class UnreadableWorkbook(Exception):
    """The file cannot be read as a workbook at all; the message says why, in Chinese."""


@dataclass
class Sheet:
    """A sheet's cells as calamine reads them, and an index of its text by normalised label."""

    name: str
    rows: list[list]
    top: int = 0  # calamine returns the used range; these place it back in the sheet
    left: int = 0
    merges: tuple[tuple[int, int, int, int], ...] = ()  # (first row, column, last row, column) within rows
    labels: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    # Its name and place and each cell holding a text some edition prints, as typed: all that
    # locating the tables looks at, so two sheets with equal label cells have the same placement.
    label_cells: tuple = field(default=(), repr=False)

    def __post_init__(self):
        # Every cell of every workbook passes here: locals, and no call for a number, a blank or a
        # text seen before (_LABELS: what normalise_label and the editions make of it, at once).
        labels, cells, seen = self.labels, [], _LABELS
        for r, row in enumerate(self.rows):
            for c, value in enumerate(row):
                if value.__class__ is str and value:
                    label = seen.get(value)
                    if label is None:
                        label = _label(self.name, r + self.top, c + self.left, value)
                    text = label[0]
                    found = labels.get(text)
                    if found is None:
                        labels[text] = [(r, c)]
                    else:
                        found.append((r, c))
                    if label[1]:
                        cells.append((r, c, value))
        self.label_cells = (self.name, self.top, self.left, tuple(cells))

    def value(self, r: int, c: int):
        row = self.rows[r] if 0 <= r < len(self.rows) else ()
        return row[c] if 0 <= c < len(row) else ""

    def ref(self, r: int, c: int) -> str:
        return cell_ref(r + self.top, c + self.left)


# A cell's text → its normalised form and whether some edition prints it: the template's few hundred
# texts recur in every workbook. Short texts only, a few thousand at most.
_LABELS: dict[str, tuple[str, bool]] = {}
_LABELS_MOST = 1 << 12


def _label(sheet: str, row: int, column: int, value: str) -> tuple[str, bool]:
    """What Sheet keeps of a text it has not seen before; bounds.Exceeded for one longer than a cell
    holds (none is read)."""
    longest = limits()["cell_text_chars"]
    if len(value) > longest:
        bounds.too_long(sheet, row, column, value, longest)
    text = normalise_label(value)
    label = (text, text in _every_known_text())
    if len(value) <= min(LABEL_REMEMBERED, longest):
        if len(_LABELS) >= _LABELS_MOST:
            _LABELS.clear()
        _LABELS[value] = label
    return label


@dataclass
class Workbook:
    sheets: list[Sheet]  # the visible worksheets, where the tables are read
    hidden: list[Sheet]  # hidden ones are not read, but what they hold is reported (rule I2)
    intake: Intake


def load_sheets(path: Path) -> Workbook:
    """A workbook's worksheets, or UnreadableWorkbook saying why it will not be read."""
    try:
        intake = inspect(path)
    except Refused as error:
        raise UnreadableWorkbook(str(error)) from None
    visible: list[Sheet] = []
    hidden: list[Sheet] = []
    try:
        # The bytes intake looked at (and the report's hash is of), by content, not by name: a .xls
        # may well be an .xlsx.
        with io.BytesIO(intake.data) as handle:
            workbook = CalamineWorkbook.from_filelike(handle)
            for index, meta in enumerate(workbook.sheets_metadata):
                bounds.sheet_name(meta.name, limits())
                if meta.typ != SheetTypeEnum.WorkSheet:
                    continue
                sheet = workbook.get_sheet_by_index(index)
                top, left = sheet.start or (0, 0)
                merges = tuple(
                    (r0 - top, c0 - left, r1 - top, c1 - left) for (r0, c0), (r1, c1) in sheet.merged_cell_ranges or ()
                )
                loaded = Sheet(meta.name, sheet.to_python(), top, left, merges)
                (visible if meta.visible == SheetVisibleEnum.Visible else hidden).append(loaded)
            workbook.close()
    except PasswordError:
        raise UnreadableWorkbook("工作簿设有密码保护，无法读取：请提交未加密的副本") from None
    except bounds.Exceeded as error:
        raise UnreadableWorkbook(str(error)) from None
    except (CalamineError, OSError, ValueError) as error:
        raise UnreadableWorkbook(_unreadable(error, intake)) from None
    return Workbook(visible, hidden, intake)


def _unreadable(error: Exception, intake: Intake) -> str:
    """Why calamine could not read the workbook, naming the cells when they are the reason: it knows
    the error values of Excel 2007 (#REF!, #N/A …), not newer ones such as #SPILL! or #CALC!."""
    unknown = re.search(r"Unsupported cell error value '(.*)'", str(error))
    if unknown:
        try:
            cells = [f"{sheet}!{ref}" for sheet, ref in intake.holding(unknown[1])]
        except Refused:
            cells = []
        if cells:
            return f"单元格 {'、'.join(cells[:5])} 中是错误值 {unknown[1]}（公式无法算出结果），无法读取：请改正公式或直接填写数字后重新报送"
    return f"不是可读取的 Excel 工作簿（{type(error).__name__}: {error}）"


class _Cells(NamedTuple):
    """A placement's value cells in reading order (table by table, block by block, row by row), placed
    for reading all of a workbook's at once."""

    blocks: tuple[tuple[int, list[int], list[int]], ...]  # (sheet index, sheet rows, sheet columns) of each block
    values: np.ndarray  # each cell's place in the report's values (report.blank_values' buffer)
    raws: np.ndarray  # its place among the edition's cells, table after table (TableLayout.cells)
    counts: np.ndarray  # whether it holds a count: a whole number typed as a number is read as it is
    where: tuple[tuple[str, int, int, int, int, int], ...]  # (table, sheet index, r, c, sheet row, sheet column)
    provenance: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # table → sheet, row, column of each cell


@dataclass
class _Placement:
    """Where an edition's tables stand in a workbook, found from its label cells alone: all that
    reading needs before it looks at a value. The workbooks of a bureau, filled in from the
    template, mostly share one, so it is found once and reused (_Reader.placement)."""

    edition: str
    sheets: tuple[tuple[str, int, int], ...]  # (name, top, left) of each sheet, by index
    blocks: dict[str, list[tuple[int, dict[str, int], dict[str, int]]]] = field(default_factory=dict)  # table →
    # (sheet index, sheet row by row code, sheet column by column code) of each block found
    header_measures: dict[tuple[str, str], str | None] = field(
        default_factory=dict
    )  # (table, column) → measure its header states
    findings: list[tuple[str, dict]] = field(default_factory=list)  # (rule, its parameters): F1, F3 of the labels
    by_labels_alone: bool = True  # False once a label was looked for in any text (_find_label's last resort)
    explained: set[tuple[int, int]] = field(default_factory=set)  # (sheet index, row) a finding of the labels names

    @cached_property
    def cells(self) -> _Cells:
        blocks, where, value_at, raw_at, counts, provenance = [], [], [], [], [], {}
        value_start = raw_start = 0
        for code, table in edition_named(self.edition).tables.items():
            sheets = np.empty(len(table.cells), dtype=object)
            rows, cols = np.zeros(len(table.cells), dtype=np.int32), np.zeros(len(table.cells), dtype=np.int32)
            for k, block_rows, block_columns in self.blocks[code]:
                if not block_columns:
                    continue
                blocks.append((k, list(block_rows.values()), list(block_columns.values())))
                name, top, left = self.sheets[k]
                for row_code, sr in block_rows.items():
                    for column_code, sc in block_columns.items():
                        r, c = table.row_index[row_code], table.column_index[column_code]
                        i = table.cell_index[(r, c)]
                        where.append((code, k, r, c, sr, sc))
                        value_at.append(value_start + r * len(table.columns) + c)
                        raw_at.append(raw_start + i)
                        counts.append(bool(table.count_columns[c]))
                        sheets[i], rows[i], cols[i] = name, sr + top, sc + left
            provenance[code] = (sheets, rows, cols)
            _read_only(sheets, rows, cols)
            value_start, raw_start = value_start + table.applicable.size, raw_start + len(table.cells)
        values, raws, count_cells = _read_only(
            np.array(value_at, dtype=np.intp), np.array(raw_at, dtype=np.intp), np.array(counts, dtype=bool)
        )
        return _Cells(tuple(blocks), values, raws, count_cells, tuple(where), provenance)

    @cached_property
    def at(self) -> dict[tuple[int, int, int], int]:
        """(sheet index, sheet row, sheet column) → the value cell's place in cells.where: asked only
        of the rare workbook whose merged ranges reach into the tables."""
        return {(k, sr, sc): i for i, (_, k, _, _, sr, sc) in enumerate(self.cells.where)}

    @cached_property
    def by_ref(self) -> dict[tuple[str, str], int]:
        """(sheet name, cell) → the value cell's place in cells.where: asked only of a workbook whose
        formulas are looked into."""
        places = {}
        for i, (_, k, _, _, sr, sc) in enumerate(self.cells.where):
            name, top, left = self.sheets[k]
            places[(name, cell_ref(sr + top, sc + left))] = i
        return places

    @cached_property
    def wanted(self) -> dict[str, frozenset[str]]:
        """Sheet name → its value cells, for each sheet holding some: what is asked of its XML (Intake.cells)."""
        wanted: dict[str, set[str]] = {}
        for name, ref in self.by_ref:
            wanted.setdefault(name, set()).add(ref)
        return {name: frozenset(refs) for name, refs in wanted.items()}


def _read_only(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Arrays shared by the reports of one placement: none of them may change one."""
    for array in arrays:
        array.flags.writeable = False
    return arrays


_PLACEMENTS: dict[tuple, _Placement] = {}  # (edition, every sheet's label cells) → placement; the last few found
_PLACEMENTS_KEPT = 64
_PLACEMENTS_LOCK = threading.Lock()


@dataclass
class _Match:
    sheet: Sheet
    r: int
    c: int
    text: str  # the label as found, normalised


def counted_findings(counted: dict[tuple, list], listed: int) -> list[Finding]:
    """For each kind of finding beyond the `listed` first, one more of its rule and severity (so it
    blocks as they do, and an exception accepts it as it accepts them) saying how many were not listed."""
    template = _counted_template()
    more = []
    for (rule, _, _), (count, last) in counted.items():
        if count > listed:
            catalogued = rules()[rule]
            fields = {"rule": rule, "title": catalogued.title, "title_en": catalogued.title_en}
            fields |= {"shown": listed, "rest": count - listed}
            more.append(
                replace(
                    last,
                    row=None,
                    column=None,
                    cell=None,
                    expected=None,
                    actual=str(count - listed),
                    message=template["message"].format(**fields),
                    message_en=template["message_en"].format(**fields),
                )
            )
    return more


@cache
def _counted_template() -> dict:
    return yaml.safe_load((SCHEMAS / "rules.yaml").read_text("utf-8"))["counted"]


class _Reader:
    """Reads the tables of one edition from a workbook's sheets."""

    def __init__(
        self,
        sheets: list[Sheet],
        edition: Edition,
        unit: str,
        year: int,
        path: str | None,
        intake: Intake | None = None,
    ):
        self.sheets, self.edition, self.intake = sheets, edition, intake
        self.buffer, values = blank_values(edition)  # the report's values, all tables in one array
        self.report = Report(unit, year, edition, values, file=path)
        self.findings: list[Finding] = []
        self.located = _Placement(edition.code, tuple((s.name, s.top, s.left) for s in sheets))  # filled by _locate
        self.header_measures: dict[tuple[str, str], str | None] = {}
        self.placed = self.located  # the placement read from: this one or one found before (placement())
        self.counted: dict[tuple, list] = {}  # a kind of finding → [how many, the last listed]

    def finding(self, rule: str, **kwargs) -> None:
        # A workbook may hold any number of rows or merged ranges the template does not: 220,000
        # unknown rows were 220,000 findings and a gigabyte. The first of a kind are listed, the rest
        # counted in one more finding (counted_findings).
        kind = (rule, kwargs.get("variant"), kwargs.get("table"))
        counted = self.counted.setdefault(kind, [0, None])
        counted[0] += 1
        if counted[0] <= limits()["findings_of_a_kind"]:
            counted[1] = make_finding(rule, self.report.unit, report=self.report, **kwargs)
            self.findings.append(counted[1])

    def placement_finding(self, rule: str, **kwargs) -> None:
        """A finding of the labels: kept with the placement, made again for each workbook that shares it."""
        self.located.findings.append((rule, kwargs))

    def read(self) -> tuple[Report, list[Finding]]:
        placement = self.placement()
        self.header_measures, self.placed = placement.header_measures, placement
        self._read_cells(placement.cells)
        self._covered_cells(placement)
        if self.intake is not None:
            self._formulas(placement, self.intake)
        # The labels' findings first, as a clerk reading the sheet meets them.
        self.findings[:0] = [
            make_finding(rule, self.report.unit, report=self.report, **kwargs) for rule, kwargs in placement.findings
        ]
        for code, table in self.edition.tables.items():
            if len(table.rows) > 1:
                for k, rows, columns in placement.blocks[code]:
                    if columns:
                        self._other_rows(table, k, rows, columns)
        self.findings += counted_findings(self.counted, limits()["findings_of_a_kind"])
        return self.report, self.findings

    def placement(self) -> _Placement:
        """The tables' placement in these sheets: found before for sheets with the same label cells,
        unless finding it read more than the label cells."""
        key = (self.edition.code, tuple(sheet.label_cells for sheet in self.sheets))
        placement = _PLACEMENTS.get(key)
        if placement is None:
            placement = self._locate()
            if placement.by_labels_alone:
                with _PLACEMENTS_LOCK:  # the flow's threads read batches side by side
                    if len(_PLACEMENTS) >= _PLACEMENTS_KEPT:
                        del _PLACEMENTS[next(iter(_PLACEMENTS))]
                    _PLACEMENTS[key] = placement
        return placement

    def _locate(self) -> _Placement:
        for table in self.edition.tables.values():
            self._check_heading(table)
            if len(table.rows) > 1:
                self.locate_labelled(table)
            else:
                self.locate_unlabelled(table)
            self._decorations(table)
        return self.located

    def _decorations(self, table: TableLayout) -> None:
        """The texts around a table's labels (its heading, captions, group labels, note and row
        header) that are not printed as often as the template prints them: a text close to one in
        the table is said, as a label read by its place is (F3), though no figure depends on it."""
        missing = [
            text
            for text, count in _printed_around(self.edition.code, table.code).items()
            if sum(len(sheet.labels.get(normalise_label(text), ())) for sheet in self.sheets) < count
        ]
        blocks = self.located.blocks[table.code]
        if table.heading in missing and any(
            normalise_label(alias) in sheet.labels for alias in table.heading_aliases for sheet in self.sheets
        ):
            missing.remove(table.heading)  # said by _check_heading
        if not missing or not blocks:
            return
        self.located.by_labels_alone = False
        known, texts = known_texts(self.edition), []
        for k, rows, columns in blocks:
            sheet = self.sheets[k]
            depth = 1 + max((len(table.columns[table.column_index[c]].groups) for c in columns), default=0)
            for r in range(max(0, min(rows.values()) - depth - 2), max(rows.values()) + 1):
                for c, value in enumerate(sheet.rows[r] if r < len(sheet.rows) else ()):
                    is_text = isinstance(value, str) and 0 < len(value) <= LABEL_REMEMBERED
                    if is_text and normalise_label(value) not in known:
                        texts.append((k, r, c, value))
        close, lead = label_settings()["close_enough"], label_settings()["clear_lead"]
        for text in missing:
            ranked = sorted(
                ((_around(text, value, close), i) for i, (_, _, _, value) in enumerate(texts)), reverse=True
            )
            if not ranked or ranked[0][0] < close or (len(ranked) > 1 and ranked[1][0] > ranked[0][0] - lead):
                continue
            k, r, c, value = texts[ranked[0][1]]
            sheet = self.sheets[k]
            self.located.explained.add((k, r))
            self.placement_finding(
                "F3",
                table=table.code,
                expected=text,
                actual=_shown(value),
                sheet=sheet.name,
                cell=sheet.ref(r, c),
                where=_where(table),
            )

    # -- locating labels ------------------------------------------------------------------------
    def _find_label(self, label: Label, sheet: Sheet | None, after: int) -> _Match | None:
        """The first cell holding `label` (or an alias, or its groups followed by it) below row `after`."""
        sheets = [sheet] if sheet else self.sheets
        candidates = label_texts(label)
        for sheet_ in sheets:
            for text in candidates:
                hits = [(r, c) for r, c in sheet_.labels.get(text, ()) if r > after]
                if hits:
                    return _Match(sheet_, *min(hits), text)
        # Rarely: a clerk typed the group and the label in one cell, "（三）不予公开 1.属于国家秘密".
        # This reads every text of the sheets, not only the label cells the placement is known by.
        self.located.by_labels_alone = False
        own, groups = candidates[0], [normalise_label(g) for g in label.groups]
        for sheet_ in sheets:
            for text, cells in sheet_.labels.items():
                if text.endswith(own) and text != own and _is_group_prefix(text[: -len(own)], groups):
                    hits = [(r, c) for r, c in cells if r > after]
                    if hits:
                        return _Match(sheet_, *min(hits), text)
        return None

    def _alias_used(self, table: TableLayout, label: Label, match: _Match) -> None:
        self.placement_finding(
            "F3",
            table=table.code,
            expected=label.label,
            actual=_shown(match.sheet.value(match.r, match.c)),
            sheet=match.sheet.name,
            cell=match.sheet.ref(match.r, match.c),
            where=_where(table),
        )

    def _match_columns(
        self, table: TableLayout, block: Block, sheet: Sheet, header_rows: range, left: int = 0
    ) -> tuple[dict[str, int], int]:
        """Sheet column of each of the block's columns, from the leaf labels in `header_rows` read
        left to right (from sheet column `left` on), and the lowest header row that holds one."""
        wanted = [table.columns[table.column_index[code]] for code in block.columns]
        texts = {text for col in wanted for text in header_texts(col)}
        found: dict[int, tuple[int, str]] = {}  # sheet column → (sheet row, text); lowest row wins
        for text in texts:
            for r, c in sheet.labels.get(text, ()):
                if r in header_rows and c >= left and (c not in found or r > found[c][0]):
                    found[c] = (r, text)
        positions: dict[str, tuple[int, int, str]] = {}  # column code → (sheet row, column, text)
        i = 0
        for c in sorted(found):
            if i < len(wanted) and found[c][1] in header_texts(wanted[i]):
                positions[wanted[i].code], i = (found[c][0], c, found[c][1]), i + 1
        if len(positions) < len(wanted):
            positions = self._columns_by_place(table, wanted, sheet, header_rows, left)
        for column in wanted:
            if column.code not in positions:
                continue
            r, c, text = positions[column.code]
            measure, is_alias = header_texts(column).get(text, (_stated_measure(text), False))
            if is_alias:
                self._alias_used(table, column, _Match(sheet, r, c, text))
            self.located.header_measures[(table.code, column.code)] = measure
        last_row = max((r for r, _, _ in positions.values()), default=header_rows.start)
        return {code: c for code, (_, c, _) in positions.items()}, last_row

    def _columns_by_place(
        self,
        table: TableLayout,
        wanted: list[Column],
        sheet: Sheet,
        header_rows: range,
        left: int,
    ) -> dict[str, tuple[int, int, str]]:
        """The columns when some header is not the template's: every sheet column's header text
        aligned with the labels expected, in order (F3 for a label read by its place, F1 naming the
        cell for one that cannot be)."""
        self.located.by_labels_alone = False
        columns: dict[int, list[tuple[int, int, str]]] = {}
        for r in header_rows:
            line = sheet.rows[r] if r < len(sheet.rows) else ()
            for c in range(left, len(line)):
                if isinstance(line[c], str) and line[c].strip():
                    columns.setdefault(c, []).append((r, c, line[c]))
        order = sorted(columns)
        scores, best = _scores(wanted, [columns[c] for c in order], _printed_column, known_texts(self.edition))
        read = self._by_place(
            table, wanted, scores, best, sheet, lambda i, j: (columns[order[j]][-1][0], order[j]), _printed_column
        )
        positions = {}
        for i, (r, c, text) in read.items():
            positions[wanted[i].code] = (r, c, normalise_label(text))
        return positions

    # -- reading values -------------------------------------------------------------------------
    def _read_cells(self, cells: _Cells) -> None:
        """Every value cell, with where it was typed. The hot path of a provincial run (two hundred
        cells a workbook): the cells are taken at once, counts typed as whole numbers are stored at
        once, and only the other cells are parsed and explained one by one."""
        raws = []
        for k, srs, scs in cells.blocks:
            raws += _crossing(self.sheets[k].rows, srs, scs)
        typed = np.empty(sum(len(sheets) for sheets, _, _ in cells.provenance.values()), dtype=object)
        typed[cells.raws] = raws
        start = 0
        for code, (sheets, rows, cols) in cells.provenance.items():
            self.report.provenance[code] = Provenance.placed(sheets, rows, cols, typed[start : start + len(sheets)])
            start += len(sheets)
        numbers, whole = _small_whole_numbers(raws)
        whole &= cells.counts  # amounts are always parsed: their measure matters
        self.buffer[cells.values[whole]] = numbers[whole]
        for i in np.flatnonzero(~whole).tolist():
            code, k, r, c, sr, sc = cells.where[i]
            table = self.edition.tables[code]
            header_measure = self.header_measures.get((code, table.columns[c].code))
            parsed = parse_cell(raws[i], table.columns[c], header_measure)
            if (parsed.reasons or parsed.value is None or table.columns[c].kind == "amount") and not self._unusual_cell(
                table, self.sheets[k], r, c, sr, sc, raws[i], parsed, header_measure
            ):
                continue
            self.report.values[code][r, c] = parsed.value

    def _unusual_cell(
        self,
        table: TableLayout,
        sheet: Sheet,
        r: int,
        c: int,
        sr: int,
        sc: int,
        raw,
        parsed: Parsed,
        header_measure: str | None,
    ) -> bool:
        """The findings of a cell that is not simply a number: whether its value is read."""
        column = table.columns[c]
        # A blank, as calamine reads it: perhaps an error value, or a formula saved without its value.
        noted = None
        if raw == "" and self.intake is not None:
            noted = self.intake.cells(sheet.name, self.placed.wanted[sheet.name]).get(sheet.ref(sr, sc))
        if noted is not None and noted.error is not None:
            meanings = rules()["V1"].params["error_values"]
            meaning = meanings.get(noted.error, meanings["other"])
            self.finding("V1", variant="error", table=table.code, r=r, c=c, actual=noted.error, meaning=meaning)
            return False
        if noted is not None and noted.formula is not None and not noted.cached:
            self.finding("V1", variant="formula", table=table.code, r=r, c=c, actual=raw)
            return False
        if column.kind == "amount" and header_measure is None and parsed.measure is None and raw != "":
            self.report.no_measure.add((table.code, r, c))
        if parsed.value is None:
            zh, en = expected_kind(column)
            # As the clerk sees it: -2, not -2.0 (calamine reads every number as a float).
            source = self.report.provenance[table.code][table.cell_index[(r, c)]]
            assert source is not None, "every cell read was placed (_Placement.cells)"
            text = source.text
            self.finding("V1", table=table.code, r=r, c=c, raw=text, expected=zh, expected_en=en, actual=text)
            return False
        if parsed.reasons:
            self.finding(
                "V2",
                table=table.code,
                r=r,
                c=c,
                raw=raw,
                actual=format_value(parsed.value, column),
                reason="，".join(zh for zh, _ in parsed.reasons),
                reason_en=", ".join(en for _, en in parsed.reasons),
            )
        return True

    def _covered_cells(self, placement: _Placement) -> None:
        """Value cells under a merged range other than its first cell (rule I3): Excel shows the first
        cell's content over the whole range, so theirs is seen by no one. The template's own merges,
        over labels and headers, lie outside the blocks of value cells."""
        for k, srs, scs in placement.cells.blocks:
            sheet = self.sheets[k]
            if not sheet.merges:
                continue
            top, bottom, left, right = min(srs), max(srs), min(scs), max(scs)
            for r0, c0, r1, c1 in sheet.merges:
                if r1 < top or r0 > bottom or c1 < left or c0 > right:
                    continue  # the common case: a header's or a label's
                for sr in (sr for sr in srs if r0 <= sr <= r1):
                    for sc in (sc for sc in scs if c0 <= sc <= c1 and (sr, sc) != (r0, c0)):
                        code, _, r, c, _, _ = placement.cells.where[placement.at[(k, sr, sc)]]
                        raw = sheet.value(sr, sc)
                        self.finding(
                            "I3",
                            variant=None if raw != "" else "blank",
                            table=code,
                            r=r,
                            c=c,
                            actual=typed_text(raw),
                            merge=f"{sheet.ref(r0, c0)}:{sheet.ref(r1, c1)}",
                            first=sheet.ref(r0, c0),
                        )

    def _formulas(self, placement: _Placement, intake: Intake) -> None:
        """Value cells whose formula refers to another workbook (rule I5) and, in a workbook whose
        saved values Excel would recalculate, those holding any formula (I4): what is read of them
        is the value saved with the formula."""
        recalculation = intake.recalculation
        if recalculation is None and not intake.external_links:
            return  # the common case: the worksheets are not unpacked again
        if not intake.formulas:
            return  # no worksheet has a formula tag (every workbook a program writes asks to recalculate)
        found = [
            (placement.by_ref[(name, ref)], (name, ref), cell)
            for name, wanted in placement.wanted.items()
            for ref, cell in intake.cells(name, wanted).items()
            if cell.formula is not None
        ]
        recalculated = []
        for i, key, cell in sorted(found, key=lambda each: each[0]):  # in reading order
            code, _, r, c, _, _ = placement.cells.where[i]
            if cell.links:
                workbooks = "、".join(intake.linked_workbooks.get(n, f"[{n}]") for n in cell.links)
                variant = "shared" if cell.master else None
                self.finding(
                    "I5",
                    variant=variant,
                    table=code,
                    r=r,
                    c=c,
                    formula=cell.formula,
                    master=cell.master,
                    workbooks=workbooks,
                )
            if recalculation and cell.cached and cell.error is None:
                recalculated.append((i, key))
        if recalculated:
            listed = rules()["I4"].params["listed"]
            code, _, r, c, _, _ = placement.cells.where[recalculated[0][0]]
            cells = "、".join(f"{sheet}!{ref}" for _, (sheet, ref) in recalculated[:listed])
            cells += "…" if len(recalculated) > listed else ""
            variant = None if recalculation == "on_load" else recalculation
            self.finding("I4", variant=variant, table=code, r=r, c=c, count=len(recalculated), cells=cells)

    def locate_labelled(self, table: TableLayout) -> None:
        """A table whose rows carry labels (二 and 三): block by block, rows in template order, each
        found as printed or else by its place among the rows found."""
        blocks = self.located.blocks[table.code] = []
        for block in table.blocks:
            matches = self._rows_as_printed(table, block)
            if len(matches) < len(block.rows):
                matches = self._rows_by_place(table, block, matches)
            if not matches:
                first = table.rows[table.row_index[block.rows[0]]]
                self.placement_finding(
                    "F1", table=table.code, r=table.row_index[first.code], expected=first.label, where=_where(table)
                )
                continue
            sheet = next(iter(matches.values())).sheet
            rows = {code: match.r for code, match in matches.items()}
            top = min(rows.values()) - block.rows.index(min(rows, key=rows.__getitem__))
            depth = 1 + max(len(table.columns[table.column_index[c]].groups) for c in block.columns)
            header = range(max(0, top - depth - 1), max(0, top))
            left = 1 + max(match.c for match in matches.values())
            columns, _ = self._match_columns(table, block, sheet, header, left)
            blocks.append((self._index(sheet), rows, columns))

    def _rows_as_printed(self, table: TableLayout, block: Block) -> dict[str, _Match]:
        """The block's rows whose label is the template's (or an alias, F3): the first found anywhere,
        the others below it on its sheet, in order."""
        found: dict[str, _Match] = {}
        sheet, last = None, -1
        for code in block.rows:
            row = table.rows[table.row_index[code]]
            match = self._find_label(row, sheet, last)
            if match is None:
                continue
            if sheet is None:
                self._one_copy(table, code, match)
            if match.text in label_texts(row)[1:]:
                self._alias_used(table, row, match)
            found[code], sheet, last = match, match.sheet, match.r
        return found

    def _rows_by_place(self, table: TableLayout, block: Block, found: dict[str, _Match]) -> dict[str, _Match]:
        """The block's rows, those not found as printed read by their place among those found (or,
        when none was, below the block's caption): F3 for a label read, F1 naming the cell for one
        that cannot be."""
        self.located.by_labels_alone = False  # what stands in a label's place is any text
        slack = 1 + max(len(table.rows[table.row_index[code]].groups) for code in block.rows)
        if found:
            sheet = next(iter(found.values())).sheet
            codes = list(found)
            top = found[codes[0]].r - block.rows.index(codes[0]) - slack
            bottom = found[codes[-1]].r + len(block.rows) - block.rows.index(codes[-1]) + slack
        else:
            caption = self._caption(block)
            if caption is None:
                return {}
            sheet, r = caption
            top, bottom = r + 1, r + 2 + len(block.rows) + slack
        known = known_texts(self.edition)
        expected = [table.rows[table.row_index[code]] for code in block.rows]
        own = {text for row in expected for text in label_texts(row)}
        # The rows that may hold one of the block's labels: not blank, and not holding only texts
        # that are other labels (a header, a caption, the next block's rows).
        lines = []
        for r in range(max(0, top), min(len(sheet.rows), bottom)):
            held = set(_texts(sheet, r, len(sheet.rows[r])))
            if any(v not in ("", None) for v in sheet.rows[r]) and not (held and held <= known - own):
                lines.append(r)
        texts = [[(r, c, v) for c, v in enumerate(sheet.rows[r]) if isinstance(v, str) and v.strip()] for r in lines]
        scores, best = _scores(expected, texts, _printed_row, known)
        for code, match in found.items():  # those found as printed stay where they were found
            i, j = block.rows.index(code), lines.index(match.r)
            scores[i, :], scores[:, j], scores[i, j] = 0, 0, 1
        # Where a label with no text in its place would stand: in the column of the rows found under
        # as many groups (a leaf row's label is right of its groups').
        columns = {len(table.rows[table.row_index[code]].groups): match.c for code, match in found.items()}
        fallback = max(columns.values(), default=0)

        def place(i: int, j: int) -> tuple[int, int]:
            return lines[j], columns.get(len(expected[i].groups), fallback)

        matches = dict(found)
        for i, (r, c, text) in self._by_place(table, expected, scores, best, sheet, place, _printed_row).items():
            matches[block.rows[i]] = _Match(sheet, r, c, normalise_label(text))
        return dict(sorted(matches.items(), key=lambda item: block.rows.index(item[0])))

    def _by_place(
        self,
        table: TableLayout,
        expected: list,
        scores: np.ndarray,
        best: list[list[tuple[int, int, str] | None]],
        sheet: Sheet,
        place: Callable[[int, int], tuple[int, int]],
        printed: Callable[[Label, str], bool],
    ) -> dict[int, tuple[int, int, str]]:
        """Align the expected labels (rows or columns) with the texts found in their places, and say
        what became of each label not found as printed: read (F3), or not (F1, naming the cell where
        it should stand: `place(i, j)`, the cell label i would hold at place j, when no text is
        there). Returns the labels read: expected index → (sheet row, column, the text read)."""
        alignment = align(scores)
        k = self._index(sheet)
        rows = isinstance(expected[0], Row)

        def at(i: int) -> dict:
            return {"r": table.row_index[expected[i].code]} if rows else {"c": table.column_index[expected[i].code]}

        def text_at(i: int, j: int) -> tuple[int, int, str]:
            found = best[i][j]
            if found is not None:
                return found
            r, c = place(i, j)
            value = sheet.value(r, c)
            return r, c, value if isinstance(value, str) else typed_text(value)

        def say(rule: str, i: int, r: int, c: int, text: str, **extra) -> None:
            """A finding of label i, quoting the text at (r, c)."""
            self.placement_finding(
                rule,
                table=table.code,
                **at(i),
                expected=expected[i].label,
                actual=_shown(text) or "（空白）",
                sheet=sheet.name,
                cell=sheet.ref(r, c),
                where=_where(table),
                **extra,
            )

        read = {}
        for i, j in alignment.read.items():
            r, c, text = text_at(i, j)
            if not printed(expected[i], normalise_label(text)):
                say("F3", i, r, c, text)
            read[i] = (r, c, text)
        for i, (j, rivals) in alignment.rivals.items():
            r, c, text = text_at(i, j)
            self.located.explained.add((k, r))
            kind, other = rivals[0]
            if kind == "expected":
                say("F1", i, r, c, text, variant="two_labels", other=expected[other].label)
            else:
                r2, c2, other_text = text_at(i, other)
                self.located.explained.add((k, r2))
                say("F1", i, r, c, text, variant="two_places", other=_shown(other_text), other_cell=sheet.ref(r2, c2))
        for i, label in enumerate(expected):
            if i in alignment.read or i in alignment.rivals:
                continue
            at_place = alignment.places.get(i)
            if at_place is None:
                self.placement_finding(
                    "F1", table=table.code, **at(i), expected=label.label, where=_where(table), sheet=sheet.name
                )
                continue
            r, c, text = text_at(i, at_place)
            self.located.explained.add((k, r))
            say("F1", i, r, c, text, variant="not_there")
        return read

    def _caption(self, block: Block) -> tuple[Sheet, int] | None:
        """Where the block's caption stands, if it has one: what places a block none of whose rows
        is found as printed."""
        if not block.caption:
            return None
        for sheet in self.sheets:
            for r, _ in sheet.labels.get(normalise_label(block.caption), ())[:1]:
                return sheet, r
        return None

    def _index(self, sheet: Sheet) -> int:
        return next(i for i, each in enumerate(self.sheets) if each is sheet)

    def _one_copy(self, table: TableLayout, code: str, first: _Match) -> None:
        """A block's first label found again elsewhere: two copies of a table, one would be lost."""
        label = normalise_label(table.rows[table.row_index[code]].label)
        for sheet in self.sheets:
            for r, c in sheet.labels.get(label, ()):
                if (sheet, r) != (first.sheet, first.r):
                    self.placement_finding(
                        "F1",
                        variant="duplicate",
                        table=table.code,
                        where=_where(table),
                        sheet=sheet.name,
                        cell=sheet.ref(r, c),
                        first=f"{first.sheet.name}!{first.sheet.ref(first.r, first.c)}",
                        actual=table.rows[table.row_index[code]].label,
                    )
                    return

    def _other_rows(self, table: TableLayout, k: int, rows: dict[str, int], columns: dict[str, int]) -> None:
        """Rows among or right after a block's that the template does not have: a subtotal row is
        checked against its sub-rows and dropped (F3, or an error if it disagrees); any other row
        with a label or figures is an unknown row (F1). Nothing is ignored without a word; a row a
        finding of the labels already names is not named again."""
        sheet = self.sheets[k]
        matched = set(rows.values()) | {r for k_, r in self.placed.explained if k_ == k}
        left = min(columns.values())
        candidates = [r for r in range(min(rows.values()), max(rows.values())) if r not in matched]
        r = max(rows.values()) + 1
        while r < len(sheet.rows) and any(v not in ("", None) for v in sheet.rows[r]):
            if set(_texts(sheet, r, len(sheet.rows[r]))) & known_texts(self.edition):
                break  # the next block, table or heading
            if r not in matched:
                candidates.append(r)
            r += 1
        for r in candidates:
            label = "".join(_texts(sheet, r, left))
            figures = {code: sheet.value(r, c) for code, c in columns.items() if sheet.value(r, c) not in ("", None)}
            if not figures and set(_texts(sheet, r, len(sheet.rows[r]))) <= known_texts(self.edition):
                continue  # a group label, caption or header standing on its own row
            subrows = _subrows(table, label)
            if subrows and figures:
                self._subtotal(table, sheet, r, label, subrows, columns)
            elif label or figures:
                first = next(c for c, v in enumerate(sheet.rows[r]) if v not in ("", None))
                cell = sheet.ref(r, first)
                self.finding(
                    "F1",
                    variant="unknown_row",
                    table=table.code,
                    where=_where(table),
                    sheet=sheet.name,
                    cell=cell,
                    actual=label or "（无标签）",
                )

    def _subtotal(
        self, table: TableLayout, sheet: Sheet, r: int, label: str, subrows: list[int], columns: dict[str, int]
    ) -> None:
        values = self.report.values[table.code]
        agrees = True
        for code, c in columns.items():
            j = table.column_index[code]
            parsed = parse_cell(sheet.value(r, c), table.columns[j])
            expected = int(values[subrows, j].sum())
            if parsed.value != expected:
                agrees = False
                typed = sheet.value(r, c) if parsed.value is None else format_value(parsed.value, table.columns[j])
                self.finding(
                    "A2",
                    variant="subtotal",
                    table=table.code,
                    c=j,
                    sheet=sheet.name,
                    cell=sheet.ref(r, c),
                    expected=expected,
                    actual=typed,
                    label=label,
                )
        if agrees:
            self.finding(
                "F3",
                variant="subtotal",
                table=table.code,
                where=_where(table),
                sheet=sheet.name,
                cell=sheet.ref(r, 0),
                actual=label,
            )

    def _check_heading(self, table: TableLayout) -> None:
        """A section heading worded as some reports word it is mapped with F3."""
        official = normalise_label(table.heading)
        if any(official in sheet.labels for sheet in self.sheets):
            return
        for alias in table.heading_aliases:
            for sheet in self.sheets:
                for r, c in sheet.labels.get(normalise_label(alias), ())[:1]:
                    self.placement_finding(
                        "F3",
                        table=table.code,
                        where=_where(table),
                        expected=table.heading,
                        actual=sheet.value(r, c),
                        sheet=sheet.name,
                        cell=sheet.ref(r, c),
                    )
                    return

    def locate_unlabelled(self, table: TableLayout) -> None:
        """Table 四: no row labels; its one data row is the row under the header, found by the
        first of its column labels printed as the template prints it."""
        (block,) = table.blocks
        leaves = [table.columns[table.column_index[code]] for code in block.columns]
        for leaf in leaves:
            anchor = self._find_label(leaf, None, -1)
            if anchor is not None:
                break
        else:
            self.placement_finding("F1", table=table.code, expected=leaves[0].path, where=_where(table))
            self.located.blocks[table.code] = []
            return
        # The leaves under fewer groups stand higher; the anchor may be one under more (结果维持
        # is printed three times): the header's first row of leaves is the highest holding one.
        spread = max(len(leaf.groups) for leaf in leaves) - min(len(leaf.groups) for leaf in leaves)
        near = range(anchor.r - spread, anchor.r + 1)
        top = min(
            r
            for leaf in leaves
            for text in header_texts(leaf)
            for r, _ in anchor.sheet.labels.get(text, ())
            if r in near
        )
        depth = max(len(leaf.groups) for leaf in leaves)
        columns, last_header_row = self._match_columns(table, block, anchor.sheet, range(top, top + depth))
        self.located.blocks[table.code] = [(self._index(anchor.sheet), {block.rows[0]: last_header_row + 1}, columns)]


_MEASURE_IN_LABEL = re.compile(r"\((?:单位:)?(?P<measure>[^()]+)\)$")


@cache
def _printed_around(edition: str, code: str) -> dict[str, int]:
    """The texts the template prints around a table's labels, with how often: its heading and note
    once, the row header and a caption for each block, each group label once for the labels under it."""
    table = edition_named(edition).tables[code]
    printed: dict[str, int] = {table.heading: 1}
    if table.note:
        printed[table.note] = 1
    for block in table.blocks:
        for text in (table.row_header, block.caption):
            if text:
                printed[text] = printed.get(text, 0) + 1
    for labels in (table.rows, table.columns):
        for path in {label.groups[: depth + 1] for label in labels for depth in range(len(label.groups))}:
            printed[path[-1]] = printed.get(path[-1], 0) + 1
    return printed


def _scores(
    expected: list,
    places: list[list[tuple[int, int, str]]],
    printed: Callable[[Label, str], bool],
    known: frozenset[str],
) -> tuple[np.ndarray, list[list[tuple[int, int, str] | None]]]:
    """How alike each expected label is to the texts at each place (a sheet row's text cells, or a
    column's header cells, as (sheet row, column, text)), and which of them is most alike: 1 for the
    label as printed; 0 for a text that is another label's, or too long to be a label. A place's
    texts are also tried together ("商业" over "企业"), without those some label owns."""
    scores = np.zeros((len(expected), len(places)))
    best: list[list[tuple[int, int, str] | None]] = [[None] * len(places) for _ in expected]
    for j, texts in enumerate(places):
        options = [(r, c, text, text) for r, c, text in texts if len(text) <= LABEL_REMEMBERED]
        free = [(r, c, text) for r, c, text, _ in options if normalise_label(text) not in known]
        if len(free) > 1:
            r, c, _ = free[0]
            options.append((r, c, " / ".join(text for _, _, text in free), "".join(text for _, _, text in free)))
        for r, c, shown, text in options:
            normalised = normalise_label(text)
            for i, label in enumerate(expected):
                if printed(label, normalised):
                    score = 1.0
                elif normalised in known:
                    continue
                else:
                    score = best_similarity((label.label, *label.aliases), text)
                if score > scores[i, j]:
                    scores[i, j], best[i][j] = score, (r, c, shown)
    return scores, best


def _around(text: str, found: str, close: float) -> float:
    """How alike a heading, caption, group label or note and a text found in the table are: as
    labels are, and close enough when the text holds it whole with words added around it
    ("中华人民共和国政府信息公开条例 第二十条第(一)项"): no figure depends on these."""
    if normalise_label(text) in normalise_label(found):
        return max(close, similarity(text, found))
    return similarity(text, found)


def _shown(text: str) -> str:
    """A label as a finding quotes it: as typed, its line breaks and runs of spaces one space."""
    return " ".join(text.split())


def _printed_row(row: Label, text: str) -> bool:
    """Whether `text` (normalised) is the row's label as printed: its own, an alias, or its own after
    its groups ("（三）不予公开 1.属于国家秘密")."""
    own = label_texts(row)
    if text in own:
        return True
    groups = [normalise_label(g) for g in row.groups]
    return text.endswith(own[0]) and _is_group_prefix(text[: -len(own[0])], groups)


def _printed_column(column: Label, text: str) -> bool:
    assert isinstance(column, Column)
    return text in header_texts(column)


def _stated_measure(text: str) -> str | None:
    """The money measure a header read by its place states, if any ("本年收费金额（元）")."""
    stated = _MEASURE_IN_LABEL.search(normalise_label(text))
    measures = value_words()["measures"]
    if stated and measures.get(stated["measure"], {}).get("kind") == "money":
        return stated["measure"]
    return None


def _crossing(lines: list[list], srs: list[int], scs: list[int]) -> list:
    """The cells where sheet rows `srs` and columns `scs` cross, row by row ("" beyond the sheet)."""
    pick = itemgetter(*scs) if len(scs) > 1 else (lambda line: (line[scs[0]],))
    widest = max(scs)
    cells: list = []
    for sr in srs:
        line = lines[sr] if sr < len(lines) else ()
        if widest < len(line):
            cells.extend(pick(line))
        else:
            cells.extend(line[sc] if sc < len(line) else "" for sc in scs)
    return cells


def _small_whole_numbers(cells: list) -> tuple[np.ndarray, np.ndarray]:
    """The cells as floats, and which hold a whole number from 0 to 999 typed as a number (calamine
    reads every number as a float): what parse_cell would read as it is, with no finding."""
    if set(map(type, cells)) == {float}:
        numbers = np.array(cells)
    else:
        numbers = np.array([v if v.__class__ is float else -1.0 for v in cells])
    return numbers, (numbers >= 0) & (numbers < 1000) & (numbers == np.floor(numbers))


@cache
def label_texts(label: Label) -> tuple[str, ...]:
    """The label's text and then its aliases', normalised."""
    return (normalise_label(label.label), *(normalise_label(a) for a in label.aliases))


@cache
def header_texts(column: Column) -> dict[str, tuple[str | None, bool]]:
    """The header texts that name `column` (normalised) → (the measure they state, whether an alias).

    An amount's header may state its measure: "采购总金额（万元）", "本年收费金额（单位：元）".
    """
    official = normalise_label(column.label)
    stated = _MEASURE_IN_LABEL.search(official)
    texts = {official: (stated["measure"] if stated else None, False)}
    texts.update({normalise_label(a): (None, True) for a in column.aliases})
    if column.kind == "amount":
        base = _MEASURE_IN_LABEL.sub("", official)
        for measure, spec in value_words()["measures"].items():
            if spec["kind"] == "money":
                texts.setdefault(f"{base}({measure})", (measure, False))
                texts.setdefault(f"{base}(单位:{measure})", (measure, False))
    return texts


def _texts(sheet: Sheet, r: int, width: int) -> list[str]:
    """The normalised texts of row `r`, left of column `width`, in order."""
    return [normalise_label(v) for v in sheet.rows[r][:width] if isinstance(v, str) and v.strip()]


@cache
def _every_known_text() -> frozenset[str]:
    return frozenset().union(*(_known_texts(edition.code) for edition in editions()))


def known_texts(edition: Edition) -> frozenset[str]:
    """Every text the edition's tables print: headings, notes, captions, labels and groups."""
    return _known_texts(edition.code)


@cache
def _known_texts(code: str) -> frozenset[str]:
    edition = edition_named(code)
    texts = set()
    for table in edition.tables.values():
        texts |= {table.heading, *table.heading_aliases, table.note or "", table.row_header or ""}
        texts |= {block.caption or "" for block in table.blocks}
        for label in (*table.rows, *table.columns):
            texts |= {label.label, *label.aliases, *label.groups}
        texts |= {t for column in table.columns for t in header_texts(column)}
    return frozenset(normalise_label(t) for t in texts if t)


def _subrows(table: TableLayout, label: str) -> list[int]:
    """The rows under the group a subtotal row's label names, by index; [] for any other label.

    The label is the group's own ("（三）不予公开"), or it preceded by its parents.
    """
    rows = []
    for i, row in enumerate(table.rows):
        groups = [normalise_label(g) for g in row.groups]
        if label and groups and label.endswith(groups[-1]) and _is_group_prefix(label[: -len(groups[-1])], groups[:-1]):
            rows.append(i)
    return rows


def _is_group_prefix(prefix: str, groups: list[str]) -> bool:
    for group in groups:
        if prefix.startswith(group):
            prefix = prefix[len(group) :]
    return not prefix


def _where(table: TableLayout) -> str:
    return f"表{table.heading[0]}（{table.title}）"


def read_tables(
    sheets: list[Sheet], edition: Edition, unit: str, year: int, path: str | None = None, intake: Intake | None = None
):
    """`intake`: what intake found in the file, asked about formulas saved without their value."""
    return _Reader(sheets, edition, unit, year, path, intake).read()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_workbook(path: Path, year: int, unit: str, keep: Pack | None = None) -> tuple[Report, list[Finding]]:
    """Read a department's workbook for `year`. Raises UnreadableWorkbook for a file that is none.

    A workbook laid out in another edition than the year's gets one F2 error naming both editions,
    not a cascade of F1 errors for every label the year's edition expects. With `keep`, the bytes
    read are kept in that pack, and the report will name where (Report.kept): what publication
    ships, whatever becomes of the file after.
    """
    path = Path(path)
    book = load_sheets(path)
    try:
        report, findings = _read_book(book, path, year, unit)
    except Refused as error:  # found in a second look into the file (Intake.cells)
        raise UnreadableWorkbook(str(error)) from None
    if keep is not None:
        keep.add(report, book.intake.data, path)
    return report, findings


def _read_book(book: Workbook, path: Path, year: int, unit: str) -> tuple[Report, list[Finding]]:
    expected = edition_for_year(year)
    report, findings = read_tables(book.sheets, expected, unit, year, str(path), book.intake)
    report.sha256 = book.intake.sha256
    if any(f.rule == "F1" for f in findings):
        for other in editions():
            if other is expected:
                continue
            other_report, other_findings = read_tables(book.sheets, other, unit, year, str(path), book.intake)
            if not any(f.rule == "F1" for f in other_findings):
                other_report.sha256 = report.sha256
                f2 = make_finding(
                    "F2",
                    unit,
                    file=str(path),
                    expected=expected.code,
                    actual=other.code,
                    year=year,
                    found_telltale=other.telltale,
                    expected_telltale=expected.telltale,
                )
                # One clear error: the year the workbook declares would only say the same again.
                extra = [f for f in workbook_findings(book, expected, path, year, unit) if f.rule != "F2"]
                return other_report, [f2, *extra]
    return report, findings + workbook_findings(book, expected, path, year, unit)


def workbook_findings(book: Workbook, edition: Edition, path: Path, year: int, unit: str) -> list[Finding]:
    """What the workbook says beside its tables: macros (never run), hidden sheets holding table
    content (not read), and the department and year it declares, when they are not the file's."""
    findings = []
    if book.intake.macros:
        findings.append(make_finding("I1", unit, file=str(path), file_name=path.name))
    known = known_texts(edition)
    for sheet in book.hidden:
        held = sorted(set(sheet.labels) & known)
        if held:
            findings.append(make_finding("I2", unit, file=str(path), sheet=sheet.name, example=held[0]))
    declared = _declared(book.sheets)
    if declared.get("报告年度") not in (None, "", year, float(year), str(year)):
        findings.append(
            make_finding("F2", unit, variant="declared", file=str(path), expected=year, actual=declared["报告年度"])
        )
    if declared.get("单位代码") not in (None, "", unit):
        findings.append(
            make_finding(
                "E5",
                unit,
                file=str(path),
                file_name=path.name,
                problem=f"在填报说明中写明的单位代码是“{declared['单位代码']}”，与文件名（{unit}）不一致",
                problem_en=f"declares unit {declared['单位代码']!r}, not {unit!r}",
            )
        )
    return findings


def _declared(sheets: list[Sheet]) -> dict:
    """The values the template's 填报说明 sheet gives beside its labels (单位代码, 报告年度)."""
    found: dict[str, object] = {}
    for sheet in sheets:
        for label in ("单位代码", "报告年度"):
            for r, c in sheet.labels.get(label, ())[:1]:
                value = sheet.value(r, c + 1)
                found.setdefault(label, int(value) if isinstance(value, float) and value.is_integer() else value)
    return found
