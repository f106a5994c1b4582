"""The report's six text sections as the format has them (schemas/sections.yaml), and a unit's
text (report.md) split into them by their headings "# 一、…"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from flows.format.edition import SCHEMAS

HEADING = re.compile(r"^#{1,6}\s*([一二三四五六])、", re.M)


@cache
def sections() -> dict[str, dict]:
    """numeral → {title, table?}, in order (schemas/sections.yaml)."""
    return yaml.safe_load((SCHEMAS / "sections.yaml").read_text("utf-8"))["sections"]


@dataclass
class ReportText:
    """A unit's text, section by section (numeral → text with the placeholders filled)."""

    unit: str
    path: Path
    sections: dict[str, str]


def parse_sections(text: str) -> dict[str, str]:
    """numeral → the text under the heading "# 一、…" up to the next such heading."""
    marks = list(HEADING.finditer(text))
    found = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        body = text[mark.end() : end].split("\n", 1)
        found[mark.group(1)] = body[1].strip() if len(body) > 1 else ""
    return found
