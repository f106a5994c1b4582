"""A PDF's text layer → Document: its lines page by page, each a paragraph or a table row as the
text layer gives it ("规章 0 0 0"; published.tokens splits the figures off). A table that runs
over pages is read across them: its repeated header is only text to the reader.

pypdfium2 (PDFium, BSD/Apache): the fastest of those measured, and the only one that gives the
CJK text of fonts embedded as Identity-H subsets without a NUL between glyphs (pypdf) at a
tenth of pdfplumber's cost (docs/published-reports.md).
"""

from __future__ import annotations

import threading

import pypdfium2 as pdfium

from flows.intake.document import Document, Line, Unreadable, refused

MAX_PAGES = 200  # an annual report is 5–20 pages; more is no report, or one crafted to cost time
_PDFIUM = threading.Lock()  # PDFium is not thread-safe: the flow's threads read one at a time


def read_pdf(data: bytes) -> Document:
    with _PDFIUM:
        return _read(data)


def _read(data: bytes) -> Document:
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        if "password" in str(error).lower():
            raise refused("encrypted_pdf") from None
        raise Unreadable(f"PDF 文件已损坏或不完整，无法读取（{error}）") from None
    try:
        if len(pdf) > MAX_PAGES:
            raise Unreadable(f"PDF 页数过多（{len(pdf)} 页，上限 {MAX_PAGES} 页），不是年度报告")
        lines: list[Line] = []
        characters = 0
        for number in range(len(pdf)):
            page = pdf[number]
            text = page.get_textpage().get_text_range()
            characters += len(text.strip())
            for raw in text.splitlines():
                line = " ".join(raw.replace("\u3000", " ").split())
                if line:
                    lines.append(Line((line,), page=number + 1))
    finally:
        pdf.close()
    if not characters:
        raise refused("no_text_layer")
    return Document("pdf", lines, blanks_kept=False)
