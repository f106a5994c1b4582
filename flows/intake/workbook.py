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
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

import numpy as np
import yaml
from python_calamine import CalamineError, CalamineWorkbook, PasswordError, SheetTypeEnum, SheetVisibleEnum

from flows.format.edition import (
    SCHEMAS,
    Block,
    Column,
    Edition,
    Label,
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
        # Every cell of every workbook passes here: locals, and no call for a number or a blank.
        known, labels, cells, longest = _every_known_text(), self.labels, [], limits()["cell_text_chars"]
        for r, row in enumerate(self.rows):
            for c, value in enumerate(row):
                if value.__class__ is str and value:
                    if len(value) > longest:  # more than an Excel cell holds: none is read
                        bounds.too_long(self.name, r + self.top, c + self.left, value, longest)
                    text = normalise_label(value)
                    found = labels.get(text)
                    if found is None:
                        labels[text] = [(r, c)]
                    else:
                        found.append((r, c))
                    if text in known:
                        cells.append((r, c, value))
        self.label_cells = (self.name, self.top, self.left, tuple(cells))

    def value(self, r: int, c: int):
        row = self.rows[r] if 0 <= r < len(self.rows) else ()
        return row[c] if 0 <= c < len(row) else ""

    def ref(self, r: int, c: int) -> str:
        return cell_ref(r + self.top, c + self.left)


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
                        self._other_rows(table, self.sheets[k], rows, columns)
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
        return self.located

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

    def _match_row(self, table: TableLayout, code: str, sheet: Sheet | None, after: int) -> _Match | None:
        row = table.rows[table.row_index[code]]
        match = self._find_label(row, sheet, after)
        if match is None:
            self.placement_finding(
                "F1", table=table.code, r=table.row_index[code], expected=row.label, where=_where(table)
            )
        elif match.text in label_texts(row)[1:]:
            self._alias_used(table, row, match)
        return match

    def _alias_used(self, table: TableLayout, label: Label, match: _Match) -> None:
        self.placement_finding(
            "F3",
            table=table.code,
            expected=label.label,
            actual=match.sheet.value(match.r, match.c),
            sheet=match.sheet.name,
            cell=match.sheet.ref(match.r, match.c),
            where=_where(table),
        )

    def _match_columns(
        self, table: TableLayout, block: Block, sheet: Sheet, header_rows: range
    ) -> tuple[dict[str, int], int]:
        """Sheet column of each of the block's columns, from the leaf labels in `header_rows` read
        left to right, and the lowest header row that holds one."""
        wanted = [table.columns[table.column_index[code]] for code in block.columns]
        texts = {text for col in wanted for text in header_texts(col)}
        found: dict[int, tuple[int, str]] = {}  # sheet column → (sheet row, text); lowest row wins
        for text in texts:
            for r, c in sheet.labels.get(text, ()):
                if r in header_rows and (c not in found or r > found[c][0]):
                    found[c] = (r, text)
        positions, i, last_row = {}, 0, header_rows.start
        for c in sorted(found):
            if i < len(wanted):
                r, text = found[c]
                column = wanted[i]
                known = header_texts(column).get(text)
                if known is not None:
                    measure, is_alias = known
                    if is_alias:
                        self._alias_used(table, column, _Match(sheet, r, c, text))
                    self.located.header_measures[(table.code, column.code)] = measure
                    positions[column.code], i, last_row = c, i + 1, max(last_row, r)
        for column in wanted:
            if column.code not in positions:
                self.placement_finding(
                    "F1",
                    table=table.code,
                    c=table.column_index[column.code],
                    expected=column.label,
                    where=_where(table),
                    sheet=sheet.name,
                )
        return positions, last_row

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
        """A table whose rows carry labels (二 and 三): block by block, rows in template order."""
        blocks = self.located.blocks[table.code] = []
        for block in table.blocks:
            first = self._match_row(table, block.rows[0], None, -1)
            if first is None:
                continue
            self._one_copy(table, block.rows[0], first)
            sheet, rows, last = first.sheet, {block.rows[0]: first.r}, first.r
            for code in block.rows[1:]:
                match = self._match_row(table, code, sheet, last)
                if match is not None:
                    rows[code], last = match.r, match.r
            depth = 1 + max(len(table.columns[table.column_index[c]].groups) for c in block.columns)
            header = range(max(0, first.r - depth - 1), first.r)
            columns, _ = self._match_columns(table, block, sheet, header)
            blocks.append((self._index(sheet), rows, columns))

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

    def _other_rows(self, table: TableLayout, sheet: Sheet, rows: dict[str, int], columns: dict[str, int]) -> None:
        """Rows among or right after a block's that the template does not have: a subtotal row is
        checked against its sub-rows and dropped (F3, or an error if it disagrees); any other row
        with a label or figures is an unknown row (F1). Nothing is ignored without a word."""
        matched, left = set(rows.values()), min(columns.values())
        candidates = [r for r in range(min(matched), max(matched)) if r not in matched]
        r = max(matched) + 1
        while r < len(sheet.rows) and any(v not in ("", None) for v in sheet.rows[r]):
            if set(_texts(sheet, r, len(sheet.rows[r]))) & known_texts(self.edition):
                break  # the next block, table or heading
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
        """Table 四: no row labels; its one data row is the row under the header."""
        (block,) = table.blocks
        first_leaf = table.columns[table.column_index[block.columns[0]]]
        anchor = self._find_label(first_leaf, None, -1)
        if anchor is None:
            self.placement_finding("F1", table=table.code, expected=first_leaf.path, where=_where(table))
            self.located.blocks[table.code] = []
            return
        depth = max(len(table.columns[table.column_index[c]].groups) for c in block.columns)
        columns, last_header_row = self._match_columns(table, block, anchor.sheet, range(anchor.r, anchor.r + depth))
        self.located.blocks[table.code] = [(self._index(anchor.sheet), {block.rows[0]: last_header_row + 1}, columns)]


_MEASURE_IN_LABEL = re.compile(r"\((?:单位:)?(?P<measure>[^()]+)\)$")


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
