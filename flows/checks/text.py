"""The report's text (sources/<year>/report.md, split by flows/format/text.py): placeholders
such as {{applications.new.total}} filled from the validated tables, and the text rules checked
(T1, D6, W5, W6, W7), one small function each."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from flows.format.edition import rules
from flows.format.report import Finding, Report, make_finding
from flows.format.text import ReportText, parse_sections, sections
from flows.format.values import format_value
from flows.intake.files import limits

# What stands between the braces, spaces and all (taken off after): "{{\s*(.*?)\s*}}" would try every
# way of sharing a run of spaces between its three parts, and 4,000 spaces took minutes.
PLACEHOLDER = re.compile(r"\{\{([^{}]*+)\}\}")
SENTENCE = re.compile(r"[^。！？；\n]+[。！？；]?")


def _where(path: Path, numeral: str | None = None) -> str:
    return f"{path.name}" + (f" {numeral}、{sections()[numeral]['title']}" if numeral else "")


def _cell_value(report: Report, name: str) -> str | None:
    """The figure a placeholder names: table.row.column, or table.column for table 四."""
    parts = name.split(".")
    layout = report.edition.tables.get(parts[0])
    if layout is None or len(parts) not in (2, 3):
        return None
    row, column = (parts[1], parts[2]) if len(parts) == 3 else (layout.rows[0].code, parts[1])
    r, c = layout.row_index.get(row), layout.column_index.get(column)
    if r is None or c is None or (len(parts) == 2 and len(layout.rows) > 1) or not layout.applicable[r, c]:
        return None
    return format_value(int(report.values[layout.code][r, c]), layout.columns[c])


def fill(text: str, report: Report, path: Path, numeral: str) -> tuple[str, list[Finding]]:
    findings = []

    def replace(match: re.Match) -> str:
        value = _cell_value(report, match.group(1).strip())
        if value is None:
            findings.append(
                make_finding(
                    "T1",
                    report.unit,
                    variant="placeholder",
                    file=str(path),
                    where=_where(path, numeral),
                    actual=match.group(0),
                )
            )
            return match.group(0)
        return value

    return PLACEHOLDER.sub(replace, text), findings


def rule_d6(text: ReportText, report: Report) -> Iterator[Finding]:
    """A number quoted as a count ("12件") is one of the tables' figures."""
    measures = "|".join(map(re.escape, rules()["D6"].params["measures"]))
    # A number from its first digit only: tried from each digit of a run, 200,000 digits took hours.
    quoted = re.compile(rf"(?<!\d)(\d+)\s*({measures})")
    figures = {
        format_value(int(v), report.edition.tables[t].columns[c])
        for t, m in report.values.items()
        for (r, c), v in _applicable(report, t, m)
    }
    for numeral, body in text.sections.items():
        for sentence in SENTENCE.findall(body):
            for number, measure in quoted.findall(sentence):
                if number not in figures:
                    yield make_finding(
                        "D6",
                        text.unit,
                        file=str(text.path),
                        where=_where(text.path, numeral),
                        sentence=sentence.strip(),
                        actual=number,
                        measure=measure,
                    )


def _applicable(report: Report, table: str, matrix):
    layout = report.edition.tables[table]
    for r, c in layout.cells:
        yield (r, c), matrix[r, c]


def rule_w5(text: ReportText, report: Report) -> Iterator[Finding]:
    """2021+: 一、总体情况 within about 1,000 characters."""
    length = len(re.sub(r"\s", "", text.sections.get("一", "")))
    if length > rules()["W5"].params["maximum"]:
        yield make_finding("W5", text.unit, file=str(text.path), where=_where(text.path, "一"), actual=length)


def rule_w6(text: ReportText, report: Report) -> Iterator[Finding]:
    """2021+: 六 reports the 信息处理费 collected (even if none)."""
    if rules()["W6"].params["keyword"] not in text.sections.get("六", ""):
        yield make_finding("W6", text.unit, file=str(text.path), where=_where(text.path, "六"))


def rule_w7(text: ReportText, previous: ReportText | None, previous_year: int) -> Iterator[Finding]:
    """五 is not last year's, word for word ("年年雷同")."""
    if previous is None:
        return
    same = re.sub(r"\s", "", text.sections.get("五", "")) == re.sub(r"\s", "", previous.sections.get("五", ""))
    if same and text.sections.get("五"):
        yield make_finding(
            "W7", text.unit, file=str(text.path), where=_where(text.path, "五"), previous_year=previous_year
        )


def read_text(path: Path, unit: str) -> tuple[str, list[Finding]]:
    """A text file as a clerk saved it: UTF-8 (with or without Notepad's BOM), else GB18030 (what
    Notepad and WPS save on a Chinese Windows; GBK and GB2312 are its subsets), with a T2 warning
    saying so, since a wrong guess would publish garbled text. Neither, or larger than any report
    (limits.yaml): a T1 error, no text."""
    size, limit = path.stat().st_size, limits()["report_text_bytes"]
    if size > limit:
        return "", [
            make_finding("T1", unit, variant="too_large", file=str(path), where=_where(path), actual=size, limit=limit)
        ]
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), [make_finding("T2", unit, file=str(path), file_name=path.name)]
    except UnicodeDecodeError:
        return "", [make_finding("T1", unit, variant="encoding", file=str(path), where=_where(path))]


def check_text(path: Path, report: Report, previous: ReportText | None = None) -> tuple[ReportText, list[Finding]]:
    """Read, fill and check a unit's text. A missing file or section is a T1 error naming it."""
    path = Path(path)
    content, findings = read_text(path, report.unit) if path.is_file() else ("", [])
    if any(f.is_error for f in findings):  # unreadable: one error, not one more per section
        return ReportText(report.unit, path, {}), findings
    raw, filled = parse_sections(content), {}
    for numeral, spec in sections().items():
        body = raw.get(numeral, "")
        if not body and "table" not in spec:
            findings.append(
                make_finding(
                    "T1", report.unit, file=str(path), where=_where(path), expected=f"{numeral}、{spec['title']}"
                )
            )
        body, problems = fill(body, report, path, numeral)
        findings += problems
        filled[numeral] = body
    text = ReportText(report.unit, path, filled)
    catalogue = rules()
    for rule_id, rule in (("D6", rule_d6), ("W5", rule_w5), ("W6", rule_w6)):
        editions = catalogue[rule_id].editions
        if editions is None or report.edition.code in editions:
            findings += rule(text, report)
    findings += rule_w7(text, previous, report.year - 1)
    return text, findings


def text_markdown(text: ReportText) -> str:
    """The filled text as published beside the rendered report (and read back next year for W7)."""
    return "".join(
        f"# {numeral}、{sections()[numeral]['title']}\n\n{body}\n\n" for numeral, body in text.sections.items()
    )
