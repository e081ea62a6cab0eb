"""PDF documents built from a few block types, laid out top to bottom with page breaks.

Letters (appeals), patient statements and good-faith estimates all read the same way: a heading, addresses, a few
labelled facts, paragraphs and a table of lines. `Document` holds those blocks; `render_pdf` draws them with
reportlab's canvas (fast enough for a statement run of 100,000 accounts, unlike a full flowable layout), wrapping text
to the page width and carrying tables across pages with their header repeated. `merge_pdfs` joins a letter and its
attachments into one packet, and `pdf_text` reads the text back (tests, and anyone checking what was sent).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable, Sequence

from pypdf import PdfReader, PdfWriter
from reportlab import rl_config
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.units import inch
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

# Compressed streams stay binary (PDF 1.4 allows it) instead of ASCII85 text: reportlab's pure-Python
# ASCII85 encoder was a third of the time of a statement in a 100,000-account run, and the files are
# a fifth smaller. Every reader (pypdf included) takes either.
rl_config.useA85 = 0

_FONT = "Helvetica"
_BOLD = "Helvetica-Bold"
_MARGIN = 0.75 * inch


@dataclass(frozen=True)
class Heading:
    text: str
    size: int = 14


@dataclass(frozen=True)
class Paragraph:
    text: str
    size: int = 10
    bold: bool = False


@dataclass(frozen=True)
class Facts:
    """Labelled values, one per line ("Payer claim number: 1234")."""

    items: Sequence[tuple[str, str]]
    size: int = 10


@dataclass(frozen=True)
class Table:
    """Columns with relative widths; `align_right` names the columns holding amounts."""

    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    widths: Sequence[float] | None = None
    align_right: frozenset[int] = frozenset()
    size: int = 9


@dataclass(frozen=True)
class Spacer:
    points: float = 8


Block = Heading | Paragraph | Facts | Table | Spacer


@dataclass
class Document:
    """A document's metadata and blocks in reading order."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    author: str = "OpenRCM"
    footer: str | None = None

    def add(self, *blocks: Block) -> "Document":
        self.blocks.extend(blocks)
        return self


def money_text(amount: Decimal | None) -> str:
    """An amount as a statement or letter shows it: `$1,234.50`, `-$20.00`, or an empty string for none."""
    if amount is None:
        return ""
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


class _Layout:
    """A cursor down the page; starts a new page when the next line would not fit."""

    def __init__(self, canvas: Canvas, document: Document) -> None:
        self.canvas = canvas
        self.document = document
        self.width, self.height = LETTER
        self.usable = self.width - 2 * _MARGIN
        self.page = 1
        self.y = self.height - _MARGIN

    def need(self, points: float) -> bool:
        """Makes room for `points`; answers whether a new page was started."""
        if self.y - points >= _MARGIN + 14:
            return False
        self._footer()
        self.canvas.showPage()
        self.page += 1
        self.y = self.height - _MARGIN
        return True

    def _footer(self) -> None:
        text = f"{self.document.footer + '  ·  ' if self.document.footer else ''}Page {self.page}"
        self.canvas.setFont(_FONT, 8)
        self.canvas.drawString(_MARGIN, _MARGIN - 14, text)

    def finish(self) -> None:
        self._footer()

    def lines(self, text: str, font: str, size: int, indent: float = 0) -> None:
        leading = size * 1.3
        for paragraph in text.split("\n"):
            for line in simpleSplit(paragraph, font, size, self.usable - indent) or [""]:
                self.need(leading)
                self.canvas.setFont(font, size)
                self.canvas.drawString(_MARGIN + indent, self.y - size, line)
                self.y -= leading

    def heading(self, block: Heading) -> None:
        self.need(block.size * 2.2)
        self.y -= block.size * 0.4
        self.lines(block.text, _BOLD, block.size)
        self.y -= block.size * 0.3

    def facts(self, block: Facts) -> None:
        label_width = max((self.canvas.stringWidth(f"{label}:", _BOLD, block.size) for label, _ in block.items),
                          default=0) + 8
        label_width = min(label_width, self.usable / 2)
        leading = block.size * 1.3
        for label, value in block.items:
            wrapped = simpleSplit(value, _FONT, block.size, self.usable - label_width) or [""]
            self.need(leading * len(wrapped))
            self.canvas.setFont(_BOLD, block.size)
            self.canvas.drawString(_MARGIN, self.y - block.size, f"{label}:")
            self.canvas.setFont(_FONT, block.size)
            for line in wrapped:
                self.canvas.drawString(_MARGIN + label_width, self.y - block.size, line)
                self.y -= leading

    def table(self, block: Table) -> None:
        widths = _column_widths(block, self.usable)
        self._table_row(block, block.columns, widths, bold=True)
        for row in block.rows:
            if self._table_row(block, row, widths, bold=False):
                self._table_row(block, block.columns, widths, bold=True)
                self._table_row(block, row, widths, bold=False)

    def _table_row(self, block: Table, cells: Sequence[str], widths: Sequence[float], bold: bool) -> bool:
        """Draws one row (cells wrapped within their column); answers whether it started a new page first."""
        font = _BOLD if bold else _FONT
        leading = block.size * 1.25
        wrapped = [simpleSplit(str(cell), font, block.size, width - 4) or [""] for cell, width in zip(cells, widths)]
        height = leading * max(len(lines) for lines in wrapped) + 2
        new_page = self.need(height)
        if new_page and not bold:
            return True
        self.canvas.setFont(font, block.size)
        x = _MARGIN
        for index, (lines, width) in enumerate(zip(wrapped, widths)):
            for number, line in enumerate(lines):
                baseline = self.y - block.size - number * leading
                if index in block.align_right:
                    self.canvas.drawRightString(x + width - 4, baseline, line)
                else:
                    self.canvas.drawString(x, baseline, line)
            x += width
        self.y -= height
        if bold:
            self.canvas.line(_MARGIN, self.y + 1, _MARGIN + self.usable, self.y + 1)
        return False


def _column_widths(block: Table, usable: float) -> list[float]:
    weights = list(block.widths) if block.widths else [1.0] * len(block.columns)
    total = sum(weights)
    return [usable * weight / total for weight in weights]


def render_pdf(document: Document) -> bytes:
    """The document as PDF bytes (US Letter, Helvetica; text is real text, so `pdf_text` reads it back)."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=LETTER, pageCompression=1, invariant=1)
    canvas.setTitle(document.title)
    canvas.setAuthor(document.author)
    layout = _Layout(canvas, document)
    for block in document.blocks:
        match block:
            case Heading():
                layout.heading(block)
            case Paragraph():
                layout.lines(block.text, _BOLD if block.bold else _FONT, block.size)
                layout.y -= block.size * 0.5
            case Facts():
                layout.facts(block)
            case Table():
                layout.table(block)
            case Spacer():
                layout.need(block.points)
                layout.y -= block.points
    layout.finish()
    canvas.save()
    return buffer.getvalue()


def merge_pdfs(parts: Iterable[bytes]) -> bytes:
    """One PDF with every page of `parts`, in order (an appeal letter followed by its attachments)."""
    writer = PdfWriter()
    for part in parts:
        writer.append(io.BytesIO(part))
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def image_pdf(image: bytes) -> bytes:
    """A PNG, JPEG or TIFF (every frame) as PDF pages, one image per page fitted to US Letter, for packets."""
    from PIL import Image  # reportlab's own dependency; imported here because only packets need it

    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=LETTER, invariant=1)
    width, height = LETTER
    with Image.open(io.BytesIO(image)) as picture:
        for frame in range(getattr(picture, "n_frames", 1)):
            picture.seek(frame)
            page = picture.convert("RGB")
            scale = min((width - 2 * _MARGIN) / page.width, (height - 2 * _MARGIN) / page.height, 1.0)
            from reportlab.lib.utils import ImageReader
            canvas.drawImage(ImageReader(page), _MARGIN, height - _MARGIN - page.height * scale,
                             page.width * scale, page.height * scale)
            canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def pdf_text(pdf: bytes) -> str:
    """The text of every page, pages separated by a newline (what a reader or a test can check)."""
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)
