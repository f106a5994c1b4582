"""Time to read published reports, and the libraries compared for each form (figures for
docs/published-reports.md): `python -m tests.benchmark_published`. Printed, never asserted: a
timed unit test fails on a busy machine, not on slow code."""

from __future__ import annotations

import io
import resource
import time
import zipfile
from pathlib import Path

from flows.checks.published import check_published
from flows.intake.published import read_published

HERE = Path(__file__).resolve().parent / "data" / "published"
ROUNDS = 50


def per_report(name: str, parse, datas: list[bytes]) -> None:
    parse(datas[0])  # imports and caches once, as a long run pays them once
    start = time.perf_counter()
    for k in range(ROUNDS):
        parse(datas[k % len(datas)])
    print(f"  {name:<34} {(time.perf_counter() - start) / ROUNDS * 1000:7.1f} ms per report")


def html_libraries(datas: list[bytes]) -> None:
    import html5lib
    import lxml.html
    from bs4 import BeautifulSoup
    from selectolax.lexbor import LexborHTMLParser

    def lxml_cells(data):
        return [[c.text_content() for c in tr] for tr in lxml.html.document_fromstring(data).iter("tr")]

    def selectolax_cells(data):
        return [[c.text() for c in tr.css("td,th")] for tr in LexborHTMLParser(data).css("tr")]

    def soup_cells(data):
        return [
            [c.get_text() for c in tr.find_all(["td", "th"])] for tr in BeautifulSoup(data, "html5lib").find_all("tr")
        ]

    print("HTML (parse and take every cell's text):")
    per_report("lxml.html", lxml_cells, datas)
    per_report("selectolax (lexbor)", selectolax_cells, datas)
    per_report("BeautifulSoup + html5lib", soup_cells, datas)
    del html5lib


def word_libraries(datas: list[bytes]) -> None:
    import docx
    from lxml import etree

    def python_docx(data):
        return [[c.text for c in row.cells] for t in docx.Document(io.BytesIO(data)).tables for row in t.rows]

    def lxml_body(data):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return etree.fromstring(archive.read("word/document.xml"))

    print("Word (.docx):")
    per_report("python-docx (tables, cells)", python_docx, datas)
    per_report("lxml on word/document.xml", lxml_body, datas)


def pdf_libraries(datas: list[bytes]) -> None:
    import pdfplumber
    import pypdf
    import pypdfium2
    from pdfminer.high_level import extract_text

    def plumber(data):
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            return [(p.extract_text(), p.extract_tables()) for p in pdf.pages]

    print("PDF (text layer):")
    per_report("pypdfium2", lambda d: [p.get_textpage().get_text_range() for p in pypdfium2.PdfDocument(d)], datas)
    per_report("pypdf", lambda d: [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(d)).pages], datas)
    per_report("pdfminer.six", lambda d: extract_text(io.BytesIO(d)), datas)
    per_report("pdfplumber (text and tables)", plumber, datas)


def nianbao(paths: list[Path], label: str) -> None:
    read_published(paths[0], 2021, "u")
    start = time.perf_counter()
    for k in range(ROUNDS):
        path = paths[k % len(paths)]
        read_published(path, 2021 if "2021" in path.name or "2022" in path.name else 2020, "u")
    print(f"  {label:<34} {(time.perf_counter() - start) / ROUNDS * 1000:7.1f} ms per report")


def checked(paths: list[Path], label: str) -> None:
    """A report read and checked whole: every rule of its edition and the text rules. The CPU time
    too: on a machine shared with other jobs, the elapsed time is theirs as much as ours."""
    check_published(paths[0], None, None)
    start, cpu = time.perf_counter(), time.process_time()
    for k in range(ROUNDS):
        check_published(paths[k % len(paths)], None, None)
    elapsed, used = (time.perf_counter() - start) / ROUNDS * 1000, (time.process_time() - cpu) / ROUNDS * 1000
    print(f"  {label:<34} {elapsed:7.1f} ms per report ({used:.1f} ms CPU)")


AUDITED = 1000


def audit(pages: list[Path], workers: int = 2) -> None:
    """nianbao audit of AUDITED web pages (the forms, copied) in `workers` processes, pages and index
    written: the whole command's time, process start-up included."""
    import shutil
    import tempfile

    from flows.audit import audit_folder

    with tempfile.TemporaryDirectory() as root:
        folder = Path(root) / "reports"
        folder.mkdir()
        for i in range(AUDITED):
            shutil.copy(pages[i % len(pages)], folder / f"{i:04d}-{pages[i % len(pages)].name}")
        start = time.perf_counter()
        lines, _ = audit_folder(folder, Path(root) / "audit", workers=workers)
        assert len(lines) == AUDITED
        elapsed = time.perf_counter() - start
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(f"  audit of {AUDITED} web pages, {workers} processes {elapsed:7.1f} s", end="")
        print(f" ({children.ru_utime + children.ru_stime:.1f} s CPU in the workers)")


def main() -> None:
    forms = sorted((HERE / "forms").iterdir())
    by_kind = {suffix: [p for p in forms if p.suffix == suffix] for suffix in (".htm", ".docx", ".pdf")}
    html_libraries([p.read_bytes() for p in by_kind[".htm"]])
    word_libraries([p.read_bytes() for p in by_kind[".docx"]])
    pdf_libraries([p.read_bytes() for p in by_kind[".pdf"]])
    print(f"nianbao: read a published report whole ({ROUNDS} reads):")
    nianbao(by_kind[".htm"], "web page (.htm)")
    nianbao(by_kind[".docx"], "Word (.docx)")
    nianbao(by_kind[".pdf"], "PDF")
    nianbao(sorted(HERE.glob("*.txt")), "copied text (.txt)")
    print(f"nianbao: read and check a published report ({ROUNDS} checks):")
    checked(by_kind[".htm"], "web page (.htm)")
    checked(by_kind[".docx"], "Word (.docx)")
    checked(by_kind[".pdf"], "PDF")
    checked(sorted(HERE.glob("*.txt")), "copied text (.txt)")
    audit(by_kind[".htm"])


if __name__ == "__main__":
    main()
