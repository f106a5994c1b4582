"""A published annual report (a web page, a Word file, a PDF, or text copied from a page) → Report,
its six text sections and the findings of reading it.

Every form is first made a Document (flows/intake/document.py): lines of cells in reading order.
Then one reader, the same for every form, finds the tables by their headings and their rows by
their labels, in the template's order (flows/intake/labels.py, as for workbooks: as printed, else
by place, F3 or F1), and takes each row's figures from the cells that follow its label. A copied
page keeps no geometry of a table's header, so a figure's column is its place in the row, in the
format's order (which every edition prints); the header's texts tell the edition (F2) and say a
variant (F3), never where a figure stands. Figures that ran together are cut by runs.py.

A finding names the place in the document: sheet 表二/表三/表四, cell "“row label” / column"
(and the page, for a PDF). Rules run later on the Report name a cell by its provenance, a
synthetic grid reference; `Published.relocate` turns those into the document's places.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import numpy as np

from flows.format.edition import LABEL_REMEMBERED, Column, Edition, TableLayout, edition_for_year, editions
from flows.format.edition import normalise_label as normalised
from flows.format.report import Finding, Provenance, Report, Source, blank_values, make_finding
from flows.format.text import ReportText, sections
from flows.format.values import BLANK, expected_kind, format_value, parse_cell
from flows.intake.document import Document, Unreadable, decode, read_bytes, refused, sniff, text_lines
from flows.intake.labels import align, best_similarity, similarity
from flows.intake.labels import settings as label_settings
from flows.intake.runs import Cut, cut_run, identity
from flows.intake.workbook import header_texts, known_texts, label_texts

TABLE_OF_SECTION = {"二": "proactive_disclosure", "三": "applications", "四": "review_litigation"}
_FIGURE = re.compile(r"[+-]?\d[\d,]*(?:\.\d+)?\s*(?:件|个|项|笔|次|人|家|万元|元)?")
_HEADING = re.compile(r"([一二三四五六])、(.*)")
_YEAR = re.compile(r"(20\d\d)\s*年")
_ZERO_WORDS = frozenset(["—", "——", "-", "--", "/", "／", "无"])
# What values.parse_cell says of any number typed as text: every figure of a page is text.
_AS_TEXT = "是以文本形式填写的数字"
BLANKS_NAMED = 3  # blank cells a table's one V2 names
SECTION_CLOSE = 0.5  # a heading's words against the section's title: 总体概述 for 总体情况 is 0.5


@dataclass(frozen=True)
class Token:
    """A cell of the document: its text, its line and its place among the line's cells."""

    text: str
    line: int
    cell: int
    figure: bool
    leading: bool = False  # a blank before a label on its line: a group label's spanned cell, not a figure's

    @property
    def blank(self) -> bool:
        return not self.text


def is_figure(text: str) -> bool:
    return text in _ZERO_WORDS or _FIGURE.fullmatch(text) is not None


def tokens(document: Document) -> list[Token]:
    """Every cell of every line, in reading order. A line that is one cell of words (text copied
    from a page, a PDF's line) is split where its last words are figures: "四、结转下年度继续办理
    0 0 0" is a label and three cells."""
    found = []
    for li, line in enumerate(document.lines):
        cells: tuple[str, ...] = line.cells
        if len(cells) == 1 and line.table is None:
            cells = _split_words(cells[0])
        label_at = next((ci for ci, text in enumerate(cells) if text and not is_figure(text)), -1)
        for ci, text in enumerate(cells):
            leading = not text and ci < label_at and not any(cells[:ci])
            found.append(Token(text, li, ci, bool(text) and is_figure(text), leading))
    return found


def _split_words(text: str) -> tuple[str, ...]:
    words = text.split()
    k = len(words)
    while k > 0 and is_figure(words[k - 1]):
        k -= 1
    if k == len(words):
        return (text,)
    return ((" ".join(words[:k]),) if k else ()) + tuple(words[k:])


# -- where the sections and tables stand ---------------------------------------------------------


def headings(toks: list[Token]) -> dict[str, int]:
    """Section numeral → the token of its heading ("三、收到和处理政府信息公开申请情况"): numerals in
    increasing order only, so that a row "三、本年度办理结果" of table 三 is no heading."""
    found: dict[str, int] = {}
    order = list(sections())
    last = -1
    for k, token in enumerate(toks):
        match = _HEADING.match(normalised(token.text)) if not token.figure and len(token.text) <= 60 else None
        if not match or order.index(match[1]) <= last:
            continue
        title = sections()[match[1]]["title"]
        if similarity(title, match[2]) >= SECTION_CLOSE or normalised(title) in match[2]:
            found[match[1]] = k
            last = order.index(match[1])
    return found


def regions(toks: list[Token], marks: dict[str, int]) -> dict[str, range]:
    """Table code → the tokens it may stand in: from its heading to the next heading; a table whose
    heading is not in the text (a page of a PDF) shares the stretch between the headings around it."""
    order = list(sections())
    found = {}
    for numeral, code in TABLE_OF_SECTION.items():
        at = order.index(numeral)
        before = [marks[n] for n in order[: at + 1] if n in marks]
        after = [marks[n] for n in order[at + 1 :] if n in marks]
        start = before[-1] if numeral in marks else (max(before) if before else 0)
        found[code] = range(start, min(after) if after else len(toks))
    return found


def sections_of(document: Document, toks: list[Token], marks: dict[str, int]) -> dict[str, str]:
    """Numeral → the text under its heading, up to the next heading, a line a line."""
    found = {}
    ordered = sorted(marks.items(), key=lambda item: item[1])
    for i, (numeral, k) in enumerate(ordered):
        end = ordered[i + 1][1] if i + 1 < len(ordered) else len(toks)
        lines = sorted({t.line for t in toks[k + 1 : end]})
        found[numeral] = "\n".join(" ".join(document.lines[li].cells) for li in lines).strip()
    return found


# -- the title -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Title:
    text: str | None
    unit: str | None
    year: int | None


_UNIT_END = re.compile(r"(政府|人民政府|委员会|办公室|办事处|街道|局|委|办|镇|乡|厅|院|中心|管委会|公司)$")


def title_of(document: Document) -> Title:
    """The report's title line, the unit it names and the year it reports on, as printed: the unit
    before the year (会仪镇人民政府2021年…), after it (2022年度螅镇政府信息公开…), or on a line
    of its own next to the title; the year from the title, else from the statistics period."""
    lines = [normalised(" ".join(line.cells)) for line in document.lines[:40] if line.table is None]
    lines = [re.sub(r"^Page\d+-", "", line) for line in lines]
    for i, text in enumerate(lines):
        if len(text) > 60 or not re.search(r"(年度报告|年报|工作报告)$", text):
            continue
        year = _YEAR.search(text)
        unit = re.sub(r"^关于", "", text[: year.start()] if year else text.split("政府信息公开")[0]) or None
        if unit is None and year:
            after = re.match(r"度?(.+?)(?:政府信息公开|信息公开)", text[year.end() :])
            unit = after[1] if after and after[1] not in ("政府", "的") else None
        if unit is None:
            unit = next((o for o in lines[max(0, i - 2) : i + 3] if o != text and _UNIT_END.search(o)), None)
        if year is None:
            year = _YEAR.search(" ".join(lines))
        return Title(text, unit, int(year[1]) if year else None)
    return Title(None, None, None)


# -- reading the tables ---------------------------------------------------------------------------


def choose_edition(toks: list[Token], year: int) -> tuple[Edition, Edition | None]:
    """The edition the tables are printed in, and the year's when that is another one (F2): told
    by the texts only one edition prints (its telltale column labels)."""
    expected = edition_for_year(year)
    texts = {normalised(t.text) for t in toks if t.text and not t.figure and len(t.text) <= LABEL_REMEMBERED}
    scores = {}
    for edition in editions():
        own = known_texts(edition) - frozenset().union(*(known_texts(e) for e in editions() if e is not edition))
        scores[edition.code] = len(texts & own)
    best = max(editions(), key=lambda e: (scores[e.code], e is expected))
    return (best, expected) if scores[best.code] > scores[expected.code] else (expected, None)


@dataclass
class Published:
    """What a published report says: its figures, its text, and the findings of reading it."""

    report: Report
    findings: list[Finding]
    text: ReportText
    title: Title
    document: Document
    # (sheet, synthetic cell reference) of a figure → its place in the document's words
    places: dict[tuple[str, str], str] = field(default_factory=dict)

    def relocate(self, findings: list[Finding]) -> list[Finding]:
        """Findings of the rules, whose cell is a figure's provenance, named by the document's place."""
        moved = []
        for finding in findings:
            place = self.places.get((finding.sheet or "", finding.cell or ""))
            if place is None:
                moved.append(finding)
                continue
            old = f"（{finding.sheet}!{finding.cell}）"
            new = f"（{finding.sheet} {place}）"
            moved.append(
                replace(
                    finding,
                    cell=place,
                    message=finding.message.replace(old, new),
                    message_en=finding.message_en.replace(old, new),
                )
            )
        return moved


class _Reader:
    def __init__(self, document: Document, toks: list[Token], edition: Edition, unit: str, year: int, path: str | None):
        self.document, self.toks, self.edition = document, toks, edition
        self.buffer, values = blank_values(edition)
        self.report = Report(unit, year, edition, values, file=path)
        for code, table in edition.tables.items():
            self.report.provenance[code] = Provenance(len(table.cells))
        self.findings: list[Finding] = []
        self.places: dict[tuple[str, str], str] = {}
        self.blanks: dict[str, list[str]] = {}  # table → the places of its blank cells, read as 0
        self.measures: dict[tuple[str, str], str | None] = {}  # (table, column) → the measure its header states
        self.quoted = frozenset(re.findall(r"\d+(?:\.\d+)?", " ".join(t.text for t in toks if not t.figure)))

    # -- places ---------------------------------------------------------------------------------
    def sheet(self, table: TableLayout) -> str:
        return f"表{table.heading[0]}"

    def where(self, token: Token, label: str | None = None) -> str:
        """A token's place in words: the label it stands under or beside, and a PDF's page."""
        page = self.document.lines[token.line].page
        words = f"“{label}”" if label else f"“{token.text}”"
        return words + (f"，第 {page} 页" if page else "")

    def finding(self, rule: str, table: TableLayout, **kwargs) -> None:
        finding = make_finding(rule, self.report.unit, report=self.report, table=table.code, **kwargs)
        if kwargs.get("sheet") and kwargs.get("cell"):  # a place in words, not a spreadsheet's cell
            old, new = f"（{finding.sheet}!{finding.cell}）", f"（{finding.sheet} {finding.cell}）"
            finding = replace(
                finding, message=finding.message.replace(old, new), message_en=finding.message_en.replace(old, new)
            )
        self.findings.append(finding)

    # -- rows -----------------------------------------------------------------------------------
    def read_labelled(self, table: TableLayout, span: range) -> None:
        """Tables 二 and 三: the rows, by their labels in order, and the figures after each."""
        texts = [k for k in span if not self.toks[k].figure and self.toks[k].text]
        if not texts:
            self.finding("F1", table, expected=table.rows[0].label, where=f"表{table.heading[0]}（{table.title}）")
            return
        known = known_texts(self.edition)
        scores, shown = self._scores(table, texts, known)
        alignment = align(scores)
        where = f"表{table.heading[0]}（{table.title}）"
        for i, j in alignment.read.items():
            token = self.toks[texts[j]]
            row = table.rows[i]
            if scores[i, j] < 1.0:
                self.finding(
                    "F3",
                    table,
                    r=i,
                    expected=row.label,
                    actual=shown[i][j],
                    sheet=self.sheet(table),
                    cell=self.where(token),
                    where=where,
                )
            self.read_row(table, i, texts[j], span)
        for i, (j, rivals) in alignment.rivals.items():
            kind, other = rivals[0]
            extra = (
                {"variant": "two_labels", "other": table.rows[other].label}
                if kind == "expected"
                else {
                    "variant": "two_places",
                    "other": shown[i][other],
                    "other_cell": self.where(self.toks[texts[other]]),
                }
            )
            token = self.toks[texts[j]]
            self.finding(
                "F1",
                table,
                r=i,
                expected=table.rows[i].label,
                actual=shown[i][j],
                sheet=self.sheet(table),
                cell=self.where(token),
                where=where,
                **extra,
            )
        for i, row in enumerate(table.rows):
            if i not in alignment.read and i not in alignment.rivals:
                self.finding("F1", table, r=i, expected=row.label, where=where, sheet=self.sheet(table))
        self.unknown_rows(table, span, texts, alignment.read, alignment.rivals)

    def _scores(
        self, table: TableLayout, texts: list[int], known: frozenset[str]
    ) -> tuple[np.ndarray, list[list[str]]]:
        """How alike each row label is to each text (1 as printed, 0 for another label's text), with
        the text as read. Labels printed as the template prints them are found first, in order; the
        others are compared only with the texts between those found around them (as a workbook's
        are, flows/intake/workbook.py): a report that prints the template's labels costs no
        comparison. A label broken over cells (a PDF's line, a copy's) is also read joined."""
        rows = table.rows
        scores = np.zeros((len(rows), len(texts)))
        shown = [[""] * len(texts) for _ in rows]
        options = [self._options(texts, j, known) for j in range(len(texts))]
        exact: dict[int, int] = {}
        last = -1
        for i, row in enumerate(rows):
            for j in range(last + 1, len(texts)):
                hit = next((o for o in options[j] if _printed(row, normalised(o))), None)
                if hit is not None:
                    exact[i], last = j, j
                    scores[i, j], shown[i][j] = 1.0, " ".join(hit.split())
                    break
        taken = set(exact.values())
        for i, row in enumerate(rows):
            if i in exact:
                continue
            before = max((exact[k] for k in exact if k < i), default=-1)
            after = min((exact[k] for k in exact if k > i), default=len(texts))
            for j in range(before + 1, after):
                if j in taken:
                    continue
                for option in options[j]:
                    text = normalised(option)
                    if len(text) > LABEL_REMEMBERED or text in known:
                        continue
                    score = best_similarity((row.label, *row.aliases), option)
                    if score > scores[i, j]:
                        scores[i, j], shown[i][j] = score, " ".join(option.split())
        return scores, shown

    def _options(self, texts: list[int], j: int, known: frozenset[str]) -> list[str]:
        """Text j as printed, and joined to the one or two texts right before it that are no
        label of the edition (a label broken over a PDF's lines)."""
        k = texts[j]
        found = [self.toks[k].text]
        joined = self.toks[k].text
        for back in (1, 2):
            if j - back < 0 or texts[j - back] != k - back or _is_known(self.toks[k - back].text, known):
                break
            joined = self.toks[k - back].text + joined
            found.append(joined)
        return found

    def unknown_rows(self, table: TableLayout, span: range, texts: list[int], read: dict, rivals: dict) -> None:
        """A text with figures after it that is no row of the table (a row the format does not have,
        a row split into sub-rows): F1, as for a workbook, never silently dropped."""
        taken = {texts[j] for j in read.values()} | {texts[j] for j, _ in rivals.values()}
        first = min(taken, default=span.stop)
        last = max(taken, default=span.start)
        known = known_texts(self.edition)
        for k in texts:
            if k in taken or not first < k < last + 1 or _is_known(self.toks[k].text, known):
                continue
            run = self._run(k, span)
            if any(t.figure for t in run):
                self.finding(
                    "F1",
                    table,
                    variant="unknown_row",
                    where=f"表{table.heading[0]}（{table.title}）",
                    sheet=self.sheet(table),
                    cell=self.where(self.toks[k]),
                    actual=" ".join(self.toks[k].text.split()),
                )

    def _run(self, k: int, span: range) -> list[Token]:
        """The cells after token k up to the next text: its row's figures and blank cells."""
        run = []
        for m in range(k + 1, span.stop):
            token = self.toks[m]
            if (token.text and not token.figure) or token.leading:
                break
            run.append(token)
        return run

    def read_row(self, table: TableLayout, r: int, k: int, span: range) -> None:
        block = next(b for b in table.blocks if table.rows[r].code in b.rows)
        columns = [table.columns[table.column_index[code]] for code in block.columns]
        self.place(table, r, columns, self._run(k, span), self.toks[k])

    def place(self, table: TableLayout, r: int, columns: list[Column], run: list[Token], label: Token | None) -> bool:
        """The run's cells placed in the block's columns, in order: as printed when there is one a
        column, blanks counting (a table that keeps them); else the figures alone, cut where they
        ran together (runs.py). What cannot be placed is said, and not read."""
        n, printed = len(columns), len(run)
        while len(run) > n and run[-1].blank:
            run = run[:-1]
        # Blanks stand for cells only where the row has exactly its cells: blank padding beyond
        # them says the copy did not keep the table's cells one for one.
        if (
            len(run) == n
            and (printed == n or not any(t.blank for t in run))
            and (self.document.blanks_kept or not any(t.blank for t in run))
        ):
            self.store_all(table, r, columns, [(t, t.text, 0) for t in run], label)
            return True
        figures = [t for t in run if not t.blank]
        if len(figures) == n:
            self.store_all(table, r, columns, [(t, t.text, 0) for t in figures], label)
            return True
        cut = self.cut(table, columns, figures) if 0 < len(figures) < n else Cut(None, ())
        if cut.reading is None:
            ends = (bool(run) and run[-1] is self.toks[-1]) or (not run and label is self.toks[-1])
            if ends and not cut.ambiguous:  # the document stops inside the row (a stored copy, cut short)
                self.truncated(table, r, columns, figures, label)
            else:
                self.unplaced(table, r, columns, figures, cut, label)
            return False
        self.store_all(table, r, columns, _pieces(figures, cut.reading), label)
        raw = " ".join(t.text for t in figures)
        reading = " | ".join(cut.reading)
        at = self._at(table, figures[0], label)
        if cut.chosen_by:
            others = "；".join(" | ".join(c) for c in cut.candidates if c != cut.reading)
            reason = "各列之和与总计相符" if cut.chosen_by == "identity" else "与正文引用的数字一致"
            self.finding(
                "V2", table, r=r, variant="cut_chosen", raw=raw, actual=reading, others=others, reason=reason, **at
            )
        else:
            self.finding("V2", table, r=r, variant="cut", raw=raw, actual=reading, **at)
        return True

    def _at(self, table: TableLayout, token: Token | None, label: Token | None) -> dict:
        """sheet and cell of a finding about a whole row."""
        if token is None and label is None:
            return {"sheet": self.sheet(table)}
        return {"sheet": self.sheet(table), "cell": self.where(token or label, label.text if label else None)}  # type: ignore[arg-type]

    def store_all(self, table, r, columns, cells, label: Token | None) -> None:
        for column, (token, text, index) in zip(columns, cells, strict=True):
            self.store(table, r, column, token, text, index, label.text if label else "")

    def truncated(self, table: TableLayout, r: int, columns: list[Column], figures: list[Token], label) -> None:
        """The text ends inside this row: the cells it has are read in order, the rest are missing."""
        kept = figures[: len(columns)]
        self.store_all(table, r, columns[: len(kept)], [(t, t.text, 0) for t in kept], label)
        if len(kept) < len(columns):
            raw = " ".join(t.text for t in kept) or "（无）"
            at = self._at(table, kept[0] if kept else None, label)
            self.finding(
                "V1", table, r=r, variant="truncated", raw=raw, count=len(kept), missing=len(columns) - len(kept), **at
            )

    def cut(self, table: TableLayout, columns: list[Column], figures: list[Token]) -> Cut:
        holds = identity(table.code) if len(columns) == len(table.columns) else None
        adds_up = None
        if holds is not None:
            check = holds

            def adds_up(reading: tuple[str, ...]) -> bool:
                return check([int(x) for x in reading])

        return cut_run([t.text for t in figures], columns, adds_up, self.quoted)

    def unplaced(
        self, table: TableLayout, r: int | None, columns: list[Column], figures: list[Token], cut: Cut, label
    ) -> None:
        raw = " ".join(t.text for t in figures)
        at = self._at(table, figures[0] if figures else None, label)
        if not figures:
            self.finding("V1", table, r=r, variant="empty", **at)
        elif cut.ambiguous:
            candidates = "；".join(" | ".join(c) for c in cut.candidates)
            self.finding("V1", table, r=r, variant="run_together", raw=raw, candidates=candidates, **at)
        else:
            self.finding("V1", table, r=r, variant="unplaced", raw=raw, count=len(figures), columns=len(columns), **at)

    def store(
        self, table: TableLayout, r: int, column: Column, token: Token, text: str, piece: int, label: str
    ) -> None:
        c = table.column_index[column.code]
        sheet = self.sheet(table)
        source = Source(sheet, token.line, token.cell * 16 + piece, text)
        self.report.provenance[table.code][table.cell_index[(r, c)]] = source
        column_words = column.label if len(table.rows) > 1 else column.path
        self.places[(sheet, source.cell)] = self.where(token, f"{label}” / “{column_words}" if label else column_words)
        header_measure = self.measures.get((table.code, column.code))
        parsed = parse_cell(text, column, header_measure)
        if column.kind == "amount" and header_measure is None and parsed.measure is None and text:
            self.report.no_measure.add((table.code, r, c))
        if parsed is BLANK:  # counted, said once for the table (blank_findings)
            self.blanks.setdefault(table.code, []).append(self.places[(sheet, source.cell)])
            return
        if parsed.value is None:
            zh, en = expected_kind(column)
            self.finding("V1", table, r=r, c=c, raw=text, expected=zh, expected_en=en, actual=text)
            return
        reasons = [(zh, en) for zh, en in parsed.reasons if not zh.endswith(_AS_TEXT)]
        if reasons:
            reason = "，".join(zh for zh, _ in reasons)
            reason_en = ", ".join(en for _, en in reasons)
            actual = format_value(parsed.value, column)
            self.finding("V2", table, r=r, c=c, raw=text, actual=actual, reason=reason, reason_en=reason_en)
        self.report.values[table.code][r, c] = parsed.value

    # -- table 四 --------------------------------------------------------------------------------
    def read_unlabelled(self, table: TableLayout, span: range) -> None:
        """Table 四: its one row of figures, the first run of figures in its stretch that fills it."""
        columns = list(table.columns)
        runs: list[list[Token]] = []
        run: list[Token] = []
        for k in span:
            token = self.toks[k]
            if token.figure or (token.blank and run):
                run.append(token)
            elif run:
                runs.append(run)
                run = []
        if run:
            runs.append(run)
        for run in runs:
            figures = [t for t in run if not t.blank]
            if len(figures) == len(columns) or (
                len(figures) < len(columns) and self.cut(table, columns, figures).reading is not None
            ):
                self.place(table, 0, columns, run, None)
                return
        if runs:
            self.place(table, 0, columns, max(runs, key=len), None)
        else:
            self.finding("F1", table, expected=columns[0].path, where=f"表{table.heading[0]}（{table.title}）")

    # -- what the headers say --------------------------------------------------------------------
    def header_measures(self, table: TableLayout, span: range) -> None:
        """The money measure an amount column's header states ("本年收费金额（单位：万元）")."""
        texts = {normalised(self.toks[k].text) for k in span if not self.toks[k].figure}
        for column in table.columns:
            if column.kind != "amount":
                continue
            for text, (measure, _) in header_texts(column).items():
                if text in texts and measure:
                    self.measures[(table.code, column.code)] = measure

    def header_variants(self, table: TableLayout, span: range) -> None:
        """A column label printed otherwise (现行有效件 for 现行有效件数) is said with F3 when a text
        of the table's stretch that is no label of the edition is close to it."""
        known = known_texts(self.edition)
        texts = [k for k in span if not self.toks[k].figure and self.toks[k].text and len(self.toks[k].text) <= 40]
        printed = {normalised(self.toks[k].text) for k in texts}
        close = label_settings()["close_enough"]
        for column in {c.label: c for c in table.columns}.values():
            if any(text in printed for text in header_texts(column)):
                continue
            ranked = sorted(
                (
                    (best_similarity((column.label, *column.aliases), self.toks[k].text), k)
                    for k in texts
                    if not _is_known(self.toks[k].text, known)
                ),
                reverse=True,
            )
            if ranked and ranked[0][0] >= close:
                token = self.toks[ranked[0][1]]
                self.finding(
                    "F3",
                    table,
                    c=table.column_index[column.code],
                    expected=column.label,
                    actual=" ".join(token.text.split()),
                    sheet=self.sheet(table),
                    cell=self.where(token),
                    where=f"表{table.heading[0]}（{table.title}）",
                )

    def blank_findings(self) -> None:
        """One V2 a table for its blank cells (each read as 0), naming the first few: a report cut
        short, or printed with blanks for zeros, has hundreds, and a finding each drowned the rest."""
        for code, places in self.blanks.items():
            table = self.edition.tables[code]
            cells = "；".join(places[:BLANKS_NAMED]) + ("……" if len(places) > BLANKS_NAMED else "")
            self.finding("V2", table, variant="blanks", count=len(places), cells=cells, sheet=self.sheet(table))

    def read(self, spans: dict[str, range], marks: dict[str, int]) -> None:
        for code, table in self.edition.tables.items():
            span = spans[code]
            self.header_measures(table, span)
            if len(table.rows) > 1:
                self.read_labelled(table, span)
            elif table.heading[0] in marks:  # its figures have no label: only under its heading
                self.read_unlabelled(table, span)
            else:
                self.finding("F1", table, expected=table.heading, where=f"表{table.heading[0]}（{table.title}）")
            self.header_variants(table, span)
        self.blank_findings()


def _pieces(figures: list[Token], reading: tuple[str, ...]) -> list[tuple[Token, str, int]]:
    """Each figure of a cut reading with the token it was cut from and its place in that token."""
    out, i = [], 0
    for token in figures:
        rest, index = token.text, 0
        while rest:
            piece = reading[i]
            out.append((token, piece, index))
            rest, i, index = rest[len(piece) :], i + 1, index + 1
    return out


def _is_known(text: str, known: frozenset[str]) -> bool:
    return normalised(text) in known


@cache
def _printed_forms(row) -> frozenset[str]:
    own = label_texts(row)
    groups = "".join(normalised(g) for g in row.groups)
    last = normalised(row.groups[-1]) if row.groups else ""
    return frozenset({*own, groups + own[0], last + own[0]})


def _printed(row, text: str) -> bool:
    return text in _printed_forms(row)


# -- the whole file -------------------------------------------------------------------------------


def load(path: Path) -> Document:
    """The file's Document, by its content; Unreadable (F0) saying why for anything else."""
    return document_of(read_bytes(path))


def document_of(data: bytes) -> Document:
    """The Document of a file's bytes, by their content."""
    kind = sniff(data)
    if kind == "html":
        from flows.intake.web_page import read_html

        return read_html(data)
    if kind == "docx":
        from flows.intake.word import read_docx

        return read_docx(data)
    if kind == "pdf":
        from flows.intake.pdf import read_pdf

        return read_pdf(data)
    return text_lines(decode(data))


def read_document(document: Document, year: int, unit: str, path: str | None = None) -> Published:
    """The report a Document holds for `year`. Unreadable when it holds none."""
    toks = tokens(document)
    marks = headings(toks)
    edition, expected = choose_edition(toks, year)
    reader = _Reader(document, toks, edition, unit, year, path)
    reader.read(regions(toks, marks), marks)
    read_any = any(p is not None for provenance in reader.report.provenance.values() for p in provenance)
    if not read_any and document.images:
        raise refused("image_tables")
    if not read_any and not any(n in marks for n in TABLE_OF_SECTION):
        raise refused("not_a_report")
    published = Published(
        reader.report, [], ReportText(unit, Path(path or "report"), {}), title_of(document), document, reader.places
    )
    findings = published.relocate(reader.findings)
    if expected is not None:
        f2 = make_finding(
            "F2",
            unit,
            file=path,
            expected=expected.code,
            actual=edition.code,
            year=year,
            found_telltale=edition.telltale,
            expected_telltale=expected.telltale,
        )
        findings = [f2, *findings]
    published.findings = findings
    published.text.sections = sections_of(document, toks, marks)
    return published


def read_published(path: Path, year: int | None, unit: str | None) -> Published:
    """Read a published report (.html/.htm, .docx, .pdf, .txt/.md: told by content) for `year`.
    Raises Unreadable, with the reason in Chinese, for a file that is none (rule F0). Without a
    year, the one its title (or statistics period) gives; without a unit, the unit its title
    names, else the file's name."""
    data = read_bytes(Path(path))
    document = document_of(data)
    if year is None or unit is None:
        title = title_of(document)
        year = year or title.year
        unit = unit or title.unit or Path(path).stem
        if year is None:
            raise Unreadable("报告中找不到所报告的年度：请用 --year 指定")
    try:
        edition_for_year(year)
    except ValueError as error:
        raise Unreadable(str(error)) from None
    published = read_document(document, year, unit, str(path))
    published.report.file = str(path)
    published.report.sha256 = hashlib.sha256(data).hexdigest()
    published.report.places = published.places
    return published
