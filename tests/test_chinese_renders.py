"""The pages' Chinese is drawn, not blank: a browser with no Chinese font lays the text out and the
tests that read textContent pass, while every character shows as nothing or as the same empty box.

Measured in the page: each distinct character of an element is drawn on a canvas in the element's
own font, and the pixels it inks are compared. Real glyphs differ from one another and from the
glyph of a code point no font has (U+10FFFD); missing ones are all alike. The last test shows the
check failing in a browser whose fontconfig finds no Chinese font.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flows.checks.check import check_workbook
from flows.checks.text import check_text
from flows.documents.annual_report import render_html
from flows.documents.check_pages import department_page
from flows.documents.template import write_workbook
from tests.conftest import SOURCES, valid_report
from tests.test_pages import CHROMIUM, FLAGS, browser  # noqa: F401  (the browser fixture)

# [character, pixels inked, a signature of which] for each distinct character of the element, and
# last for U+10FFFD, which no font has.
GLYPHS = """(selector) => {
  const element = document.querySelector(selector);
  const chars = [...new Set(element.textContent.replace(/\\s/g, ''))].concat(['\\u{10FFFD}']);
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 64;
  const pen = canvas.getContext('2d', {willReadFrequently: true});
  pen.font = `48px ${getComputedStyle(element).fontFamily}`;
  return chars.map(c => {
    pen.clearRect(0, 0, 64, 64);
    pen.fillText(c, 4, 52);
    let ink = 0, signature = 0;
    pen.getImageData(0, 0, 64, 64).data.forEach((alpha, i) => {
      if (i % 4 === 3 && alpha > 127) { ink++; signature = (signature * 31 + i) % 1000000007; }
    });
    return [c, ink, signature];
  });
}"""


def undrawn(page, selector: str) -> list[str]:
    """The Chinese characters of the element that are not drawn as glyphs of their own: blank, or
    the same as a character no font has, or the same as another character."""
    *glyphs, (_, _, missing) = page.evaluate(GLYPHS, selector)
    chinese = [(c, ink, signature) for c, ink, signature in glyphs if "\u4e00" <= c <= "\u9fff"]
    assert chinese, f"no Chinese in {selector}"
    signatures = [signature for _, _, signature in chinese]
    return [c for c, ink, signature in chinese if ink == 0 or signature == missing or signatures.count(signature) > 1]


def test_the_annual_reports_chinese_is_drawn(browser, tmp_path):  # noqa: F811 - the fixture
    report = valid_report(2021)
    text, _ = check_text(SOURCES / "2021" / "report.md", report)
    path = tmp_path / "report.html"
    path.write_text(render_html(report, "示例县公安局", text), "utf-8")
    page = browser.new_page()
    page.goto(path.as_uri())
    for selector in ("h1", "#section-一", "#section-一 + p", "table[data-table=applications] th"):
        assert undrawn(page, selector) == [], f"{selector}: install a Chinese font (fonts-noto-cjk)"


def test_the_check_pages_chinese_is_drawn(browser, tmp_path):  # noqa: F811 - the fixture
    report = valid_report(2021)
    path = write_workbook(tmp_path / "household.xlsx", report.edition, 2021, report)
    page = browser.new_page()
    page.set_content(department_page(check_workbook(path, 2021, "household"), "户政大队", 2021))
    for selector in ("h1", "#status", "table[data-table=applications] th"):
        assert undrawn(page, selector) == [], f"{selector}: install a Chinese font (fonts-noto-cjk)"


def _fontconfig(folder: Path, fonts: list[str]) -> Path:
    config = folder / "fonts.conf"
    dirs = "".join(f"<dir>{d}</dir>" for d in fonts)
    config.write_text(f'<?xml version="1.0"?><fontconfig>{dirs}<cachedir>{folder}/cache</cachedir></fontconfig>')
    return config


@pytest.mark.parametrize("fonts", [[], ["/usr/share/fonts/truetype/dejavu"]], ids=["no font", "latin fonts only"])
def test_without_a_chinese_font_the_check_fails(browser, tmp_path, fonts):  # noqa: F811 - the fixture
    """The check is not blind: in a chromium whose fontconfig finds no Chinese font (none at all, or
    Latin ones only), it names every character."""
    if any(not Path(d).is_dir() for d in fonts):
        pytest.skip(f"{fonts} not on this machine")
    env = os.environ | {"FONTCONFIG_FILE": str(_fontconfig(tmp_path, fonts))}
    bare = browser.browser_type.launch(executable_path=CHROMIUM, args=FLAGS, env=env)
    try:
        page = bare.new_page()
        page.set_content('<html lang="zh-CN"><body><h1>政府信息公开工作年度报告</h1></body></html>')
        assert sorted(undrawn(page, "h1")) == sorted(set("政府信息公开工作年度报告"))
    finally:
        bare.close()
