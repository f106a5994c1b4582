"""A published report imported into sources/: its figures as the department's workbook in the
year's fill-in template, and its text sections in report.md's format (`# 一、总体情况` …), so
that a year published before nianbao joins the sources as if it had been submitted."""

from __future__ import annotations

from pathlib import Path

from flows.documents.template import write_workbook
from flows.format.report import Report
from flows.format.text import sections

# Sections 二 to 四 are the tables: the workbook holds them, report.md does not (sources/README.md).
TEXT_SECTIONS = [numeral for numeral, section in sections().items() if "table" not in section]


def report_markdown(texts: dict[str, str]) -> str:
    """The text sections under their headings, a printed line a paragraph; a section the report
    does not have is left with its heading and a note, for T1 to ask for it."""
    parts = []
    for numeral in TEXT_SECTIONS:
        lines = [_escaped(line.strip()) for line in texts.get(numeral, "").splitlines() if line.strip()]
        body = "\n\n".join(lines) or "（发布的报告中没有这一节）"
        parts.append(f"# {numeral}、{sections()[numeral]['title']}\n\n{body}\n")
    return "\n".join(parts)


def _escaped(line: str) -> str:
    """A printed line that Markdown would take for a heading or a placeholder, kept as text."""
    line = line.replace("{{", "{ {").replace("}}", "} }")
    return "\\" + line if line.startswith(("#", ">", "-", "*", "+")) else line


def write_imported(folder: Path, report: Report, texts: dict[str, str], unit_id: str, unit_name: str) -> list[Path]:
    """<unit_id>.xlsx (the template with the report's figures) and <unit_id>.md (its text) in `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    workbook = write_workbook(
        folder / f"{unit_id}.xlsx", report.edition, report.year, report, unit_id=unit_id, unit_name=unit_name
    )
    text = folder / f"{unit_id}.md"
    text.write_text(report_markdown(texts), "utf-8")
    return [workbook, text]
