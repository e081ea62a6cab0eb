"""PDF rendering and tabular exports: what a person opens is what we meant to write."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from openpyxl import load_workbook

from openrcm_shared.documents.pdf import (
    Document, Facts, Heading, Paragraph, Table, image_pdf, merge_pdfs, money_text, page_count, pdf_text, render_pdf,
)
from openrcm_shared.documents.tabular import rows_to_csv, rows_to_xlsx


def test_pdf_reads_back_its_text_across_pages() -> None:
    rows = [[f"99213-{n}", "Office visit, established patient", money_text(Decimal("125.50") * n)] for n in range(1, 120)]
    document = Document("Appeal", footer="Synthetic Practice").add(
        Heading("Request for reconsideration"),
        Facts([("Payer claim number", "PCN-0001"), ("Member id", "XYZ123456789")]),
        Paragraph("The service was medically necessary. " * 40),
        Table(["Procedure", "Description", "Billed"], rows, widths=[1, 3, 1], align_right=frozenset({2})),
    )
    pdf = render_pdf(document)
    text = pdf_text(pdf)
    assert pdf.startswith(b"%PDF-")
    assert page_count(pdf) > 2
    assert "Request for reconsideration" in text and "PCN-0001" in text
    assert "99213-119" in text and "$14,934.50" in text
    assert text.count("Procedure") >= 2  # the header repeats on the pages the table runs onto


def test_merge_keeps_every_page_in_order() -> None:
    first = render_pdf(Document("a").add(Paragraph("first letter")))
    second = render_pdf(Document("b").add(Paragraph("second attachment")))
    merged = merge_pdfs([first, second])
    assert page_count(merged) == 2
    text = pdf_text(merged)
    assert text.index("first letter") < text.index("second attachment")


def test_images_become_pages() -> None:
    from PIL import Image
    buffer = io.BytesIO()
    Image.new("RGB", (200, 100), "white").save(buffer, format="PNG")
    assert page_count(image_pdf(buffer.getvalue())) == 1


def test_money_text() -> None:
    assert money_text(Decimal("1234.5")) == "$1,234.50"
    assert money_text(Decimal("-20")) == "-$20.00"
    assert money_text(None) == ""


def test_csv_and_xlsx_keep_amounts_exact() -> None:
    columns = ["claim", "amount", "service_date", "carcs"]
    rows = [["C1", Decimal("0.10"), date(2026, 1, 2), ["16", "N290"]], ["C2", Decimal("1062.40"), None, []]]
    parsed = list(csv.reader(io.StringIO(rows_to_csv(columns, rows).decode())))
    assert parsed == [columns, ["C1", "0.10", "2026-01-02", "16;N290"], ["C2", "1062.40", "", ""]]
    sheet = load_workbook(io.BytesIO(rows_to_xlsx([("worklist", columns, rows)])))["worklist"]
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0] == columns
    assert Decimal(str(values[2][1])) == Decimal("1062.40")
