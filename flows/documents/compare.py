"""Two years (or two versions) side by side: every figure of the bureau and of each department in both,
the change and the change in per cent, the largest changes first; the report texts compared paragraph by
paragraph; and charts drawn here as inline SVG (the page loads nothing, offline as online). Pure: the
figures come in as Reports, the page and the workbook go out as bytes (flows/release/comparison.py
reads the releases and writes the files)."""

from __future__ import annotations

import difflib
import io
from dataclasses import dataclass, field
from decimal import Decimal

from markupsafe import Markup, escape

from flows.documents.pages import template
from flows.format.report import Report
from flows.format.text import sections


@dataclass(frozen=True)
class Side:
    """One release compared: its year and version, every unit's figures and report text (numeral →
    text) by unit, and the units' names."""

    year: int
    version: str
    reports: dict[str, Report]
    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"{self.year} 年（{self.version}）"


@dataclass(frozen=True)
class Figure:
    unit: str
    table: str
    row: str
    column: str
    label: str  # the row and column as a person names the cell
    a: Decimal | None  # None: the cell is not in that year's edition (or the unit did not report)
    b: Decimal | None

    @property
    def change(self) -> Decimal | None:
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def percent(self) -> Decimal | None:
        change = self.change
        if change is None or not self.a:
            return None
        return (change * 100 / self.a).quantize(Decimal("0.1"))


def figures_of(report: Report) -> dict[tuple[str, str, str], tuple[Decimal, str]]:
    """(table, row, column) → (the figure, its label) of every cell of the report's edition."""
    found = {}
    for code, layout in report.edition.tables.items():
        for r, c in layout.cells:
            row, column = layout.rows[r], layout.columns[c]
            value = Decimal(int(report.values[code][r, c])).scaleb(-column.decimals).normalize()
            label = " / ".join(p for p in ("表" + layout.heading.split("、")[0], row.path, column.path) if p)
            found[(code, row.code if len(layout.rows) > 1 else "", column.code)] = (value, label)
    return found


def compare_unit(unit: str, a: Report | None, b: Report | None) -> list[Figure]:
    """Every figure of `unit` in either year, the largest changes first (then those in one year only)."""
    before = figures_of(a) if a else {}
    after = figures_of(b) if b else {}
    keys = list(after) + [k for k in before if k not in after]
    rows = [
        Figure(
            unit,
            *key,
            (after.get(key) or before[key])[1],
            before[key][0] if key in before else None,
            after[key][0] if key in after else None,
        )
        for key in keys
    ]
    return sorted(rows, key=_largest_first)


def _largest_first(figure: Figure) -> tuple[bool, Decimal]:
    change = figure.change
    return change is None, -abs(change) if change is not None else Decimal(0)


@dataclass(frozen=True)
class Comparison:
    a: Side
    b: Side
    bureau: str
    units: tuple[str, ...]  # the bureau first, then the departments compared
    figures: dict[str, list[Figure]]
    history: tuple[tuple[int, Report], ...]  # the bureau's report of every year published, oldest first

    def name(self, unit: str) -> str:
        return self.b.names.get(unit) or self.a.names.get(unit) or unit


def compare(a: Side, b: Side, bureau: str, units=None, history=()) -> Comparison:
    """The comparison of `a` with `b`: the bureau's and the departments' figures (only `units` when given)."""
    departments = [u for u in dict.fromkeys([*b.reports, *a.reports]) if u != bureau]
    chosen = (bureau, *[u for u in departments if units is None or u in units])
    compared = {unit: compare_unit(unit, a.reports.get(unit), b.reports.get(unit)) for unit in chosen}
    return Comparison(a, b, bureau, chosen, compared, tuple(history))


# Paragraphs ------------------------------------------------------------------------------------------


def paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]


def compared_texts(a: str, b: str) -> list[dict]:
    """The paragraphs of two texts, aligned by difflib: each {kind, a, b} with kind equal, changed,
    removed or added; a changed paragraph with its deleted and inserted characters marked."""
    old, new = paragraphs(a), paragraphs(b)
    rows = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            rows += [{"kind": "equal", "a": escape(p), "b": escape(p)} for p in old[i1:i2]]
            continue
        pairs = list(zip(old[i1:i2], new[j1:j2], strict=False)) if tag == "replace" else []
        rows += [{"kind": "changed", **_marked(x, y)} for x, y in pairs]
        rows += [{"kind": "removed", "a": escape(p), "b": Markup("")} for p in old[i1 + len(pairs) : i2]]
        rows += [{"kind": "added", "a": Markup(""), "b": escape(p)} for p in new[j1 + len(pairs) : j2]]
    return rows


def _marked(old: str, new: str) -> dict:
    before, after = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            before.append(escape(old[i1:i2]))
            after.append(escape(new[j1:j2]))
            continue
        if i2 > i1:
            before.append(Markup("<del>%s</del>") % old[i1:i2])
        if j2 > j1:
            after.append(Markup("<ins>%s</ins>") % new[j1:j2])
    return {"a": Markup("").join(before), "b": Markup("").join(after)}


def text_sections(comparison: Comparison, unit: str) -> list[dict]:
    """The text sections of a unit's report in either year, each compared paragraph by paragraph."""
    a, b = comparison.a.texts.get(unit, {}), comparison.b.texts.get(unit, {})
    found = []
    for numeral, spec in sections().items():
        if a.get(numeral, "").strip() or b.get(numeral, "").strip():
            found.append(
                {"title": f"{numeral}、{spec['title']}", "rows": compared_texts(a.get(numeral, ""), b.get(numeral, ""))}
            )
    return found


# Charts ----------------------------------------------------------------------------------------------

COLOURS = ("#8fa8c8", "#c0392b")  # year A muted, year B strong
# The main figures, each followed across every year published: (title, table, row, columns summed).
MAIN_FIGURES = (
    ("本年新收申请", "applications", "new", ("total",)),
    ("上年结转申请", "applications", "carried_in", ("total",)),
    ("办理结果总计", "applications", "results_total", ("total",)),
    ("结转下年度办理", "applications", "carried_over", ("total",)),
    ("行政复议", "review_litigation", "", ("review_total",)),
    ("行政诉讼", "review_litigation", "", ("suit_direct_total", "suit_after_review_total")),
)


def outcomes(report: Report) -> dict[str, Decimal]:
    """Applications by outcome (三、本年度办理结果: 予以公开, 部分公开, 不予公开, …), the total column
    summed over each outcome's rows, in the template's order."""
    layout = report.edition.tables["applications"]
    total = layout.column_index["total"]
    found: dict[str, Decimal] = {}
    for r, row in enumerate(layout.rows):
        if not row.groups or not row.groups[0].startswith("三、") or row.code == "results_total":
            continue
        outcome = (row.groups[1] if len(row.groups) > 1 else row.label).split("（区分")[0]
        found[outcome] = found.get(outcome, Decimal(0)) + int(report.values["applications"][r, total])
    return found


def main_figure(report: Report, table: str, row: str, columns: tuple[str, ...]) -> Decimal:
    layout = report.edition.tables[table]
    r = layout.row_index[row] if row else 0
    return Decimal(sum(int(report.values[table][r, layout.column_index[c]]) for c in columns))


def outcome_chart(a: Side, b: Side, bureau: str) -> Markup:
    """Horizontal bars: each outcome of the bureau's applications, year A above year B."""
    before = outcomes(a.reports[bureau]) if bureau in a.reports else {}
    after = outcomes(b.reports[bureau]) if bureau in b.reports else {}
    names = list(dict.fromkeys([*after, *before]))
    top = max([*before.values(), *after.values(), Decimal(1)])
    width, left, bar = 640, 150, 14
    height = 30 + len(names) * (2 * bar + 12)
    parts = [_legend(a.title, b.title, left)]
    for i, name in enumerate(names):
        y = 30 + i * (2 * bar + 12)
        parts.append(f'<text x="{left - 8}" y="{y + bar + 4}" text-anchor="end" class="label">{escape(name)}</text>')
        for j, (side, values) in enumerate(((a, before), (b, after))):
            value = values.get(name, Decimal(0))
            length = float(value) / float(top) * (width - left - 60)
            parts.append(
                f'<rect class="bar" x="{left}" y="{y + j * bar}" width="{max(length, 1):.1f}" height="{bar - 2}"'
                f' fill="{COLOURS[j]}"><title>{escape(name)} {side.year}：{value}</title></rect>'
                f'<text x="{left + max(length, 1) + 4:.1f}" y="{y + j * bar + bar - 4}" class="value">{value}</text>'
            )
    return _svg(width, height, "申请办理结果（本机关）", parts)


def history_chart(title: str, points: list[tuple[int, Decimal]], highlight: tuple[int, int]) -> Markup:
    """One main figure across every year published: a bar a year, the two years compared in colour."""
    width, height, base = 220, 150, 120
    top = max([v for _, v in points] + [Decimal(1)])
    step = (width - 20) / max(len(points), 1)
    parts = [f'<text x="10" y="14" class="title">{escape(title)}</text>']
    for i, (year, value) in enumerate(points):
        h = float(value) / float(top) * (base - 40)
        x = 10 + i * step
        colour = COLOURS[1] if year == highlight[1] else COLOURS[0] if year == highlight[0] else "#cccccc"
        parts.append(
            f'<rect class="bar" x="{x + 4:.1f}" y="{base - max(h, 1):.1f}" width="{step - 8:.1f}"'
            f' height="{max(h, 1):.1f}" fill="{colour}"><title>{year}：{value}</title></rect>'
            f'<text x="{x + step / 2:.1f}" y="{base - max(h, 1) - 4:.1f}" text-anchor="middle" class="value">{value}</text>'
            f'<text x="{x + step / 2:.1f}" y="{base + 14}" text-anchor="middle" class="label">{year}</text>'
        )
    return _svg(width, height, title, parts)


def history_charts(comparison: Comparison) -> list[Markup]:
    points = [(year, report) for year, report in comparison.history]
    return [
        history_chart(
            title, [(y, main_figure(r, table, row, columns)) for y, r in points], (comparison.a.year, comparison.b.year)
        )
        for title, table, row, columns in MAIN_FIGURES
    ]


def _legend(a: str, b: str, left: int) -> str:
    return (
        f'<rect x="{left}" y="4" width="12" height="12" fill="{COLOURS[0]}"/><text x="{left + 16}" y="14" class="label">{escape(a)}</text>'
        f'<rect x="{left + 160}" y="4" width="12" height="12" fill="{COLOURS[1]}"/><text x="{left + 176}" y="14" class="label">{escape(b)}</text>'
    )


def _svg(width: int, height: int, title: str, parts: list[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="{escape(title)}"'
        f' width="{width}" height="{height}" viewBox="0 0 {width} {height}">' + "".join(parts) + "</svg>"
    )


# The page and the workbook ---------------------------------------------------------------------------


def shown(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:f}"


def percent_shown(figure: Figure) -> str:
    if figure.percent is None:
        return "—" if figure.change is None or figure.change == 0 else "新增"
    return f"{figure.percent:+f}%"


def render_html(comparison: Comparison) -> str:
    """The comparison page (templates/compare.html.j2): charts, figures, texts. A department's figures
    that are 0 in both years are counted, not listed; the workbook lists every one."""
    units = []
    for unit in comparison.units:
        listed = [f for f in comparison.figures[unit] if f.a or f.b]
        units.append(
            {
                "id": unit,
                "name": comparison.name(unit),
                "figures": listed,
                "zeros": len(comparison.figures[unit]) - len(listed),
                "texts": text_sections(comparison, unit),
            }
        )
    return template("compare.html.j2").render(
        a=comparison.a,
        b=comparison.b,
        bureau=comparison.name(comparison.bureau),
        units=units,
        outcome_chart=outcome_chart(comparison.a, comparison.b, comparison.bureau),
        history_charts=history_charts(comparison),
        shown=shown,
        percent=percent_shown,
    )


def render_xlsx(comparison: Comparison) -> bytes:
    """Every figure of every unit compared (one row each, the largest changes first within a unit), and
    the texts' paragraphs; numbers as numbers."""
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    bold = book.add_format({"bold": True})
    sheet = book.add_worksheet("数字")
    header = ["单位代码", "单位", "表", "行", "列", "项目", comparison.a.title, comparison.b.title, "变化", "变化（%）"]
    sheet.write_row(0, 0, header, bold)
    line = 1
    for unit in comparison.units:
        for f in comparison.figures[unit]:
            values = [_number(f.a), _number(f.b), _number(f.change), _number(f.percent)]
            sheet.write_row(line, 0, [unit, comparison.name(unit), f.table, f.row, f.column, f.label])
            for i, value in enumerate(values):
                if value is not None:
                    sheet.write_number(line, 6 + i, value)
            line += 1
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(line - 1, 1), len(header) - 1)
    texts = book.add_worksheet("文字")
    texts.write_row(0, 0, ["单位代码", "部分", "比较", comparison.a.title, comparison.b.title], bold)
    line = 1
    for unit in comparison.units:
        for section in text_sections(comparison, unit):
            for row in section["rows"]:
                plain = [Markup(row[k]).striptags() for k in ("a", "b")]
                texts.write_row(line, 0, [unit, section["title"], KINDS[row["kind"]], *plain])
                line += 1
    book.close()
    return out.getvalue()


KINDS = {"equal": "相同", "changed": "有改动", "removed": "删去", "added": "新增"}


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)
