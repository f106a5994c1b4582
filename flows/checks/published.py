"""Checking a published report (a web page, Word file, PDF or copied text): read it, then run
every rule of its edition on its tables and the text rules on its six sections, with each
finding naming its place in the document."""

from __future__ import annotations

from pathlib import Path

from flows.checks.check import Checked, check_report
from flows.checks.rules import Context
from flows.checks.text import rule_d6, rule_w5, rule_w6, rule_w7
from flows.format.edition import rules
from flows.format.report import make_finding
from flows.format.text import ReportText
from flows.intake.document import Unreadable
from flows.intake.published import Published, read_published


def check_published(
    path: Path, year: int, unit: str, context: Context = Context(), previous_text: ReportText | None = None
) -> tuple[Checked, Published | None]:
    """Read and check one published report; never raises for what the file holds (F0 says why
    it cannot be read). `previous_text`: last year's sections, for W7."""
    path = Path(path)
    try:
        published = read_published(path, year, unit)
    except Unreadable as error:
        finding = make_finding(
            "F0", unit, variant=error.variant, file=str(path), file_name=path.name, reason=str(error)
        )
        return Checked(path, unit, None, [finding], unreadable=str(error)), None
    findings = list(published.findings)
    if not any(f.rule == "F2" for f in findings):
        findings += published.relocate(check_report(published.report, context))
    text, catalogue = published.text, rules()
    for rule_id, rule in (("D6", rule_d6), ("W5", rule_w5), ("W6", rule_w6)):
        editions = catalogue[rule_id].editions
        if editions is None or published.report.edition.code in editions:
            findings += rule(text, published.report)
    findings += rule_w7(text, previous_text, year - 1)
    return Checked(path, unit, published.report, findings), published
