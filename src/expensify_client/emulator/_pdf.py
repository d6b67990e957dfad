"""PDF exports (``outputSettings.fileExtension: "pdf"``): one small, valid PDF per report.

The live service renders its own report layout into a PDF, one file per exported report
(expensify-api.md §1.5, §2.1 ``outputSettings``); with ``includeFullPageReceiptsPdf`` the
receipts are added as full pages. The emulator writes a minimal PDF 1.4 (one Helvetica
font, text pages, a correct cross-reference table) from the same data model the templates
see: a summary page (more when the report has many expenses) naming the report ID, title,
policy, submitter, status, total and one line per expense; then, with full-page receipts,
one page per expense that has a receipt, naming its transaction, merchant, amount and the
receipt's file name. The layout and the receipt pages' text are the emulator's own (EMU):
the live PDF shows the receipt image itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["report_pdf"]

_LINES_PER_PAGE: Final = 48
_PAGE_TOP: Final = 740
_LEADING: Final = 14


def _money(cents: Any, currency: Any) -> str:
    try:
        value = int(cents)
    except (TypeError, ValueError):
        return f"? {currency}"
    sign = "-" if value < 0 else ""
    whole, minor = divmod(abs(value), 100)
    return f"{sign}{whole}.{minor:02d} {currency}"


def _receipt_name(url: str) -> str:
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "receipt"


def _summary_lines(report: Mapping[str, Any]) -> list[str]:
    lines = [
        f"Expense report {report.get('reportID')}",
        f"Title: {report.get('reportName') or ''}",
        f"Policy: {report.get('policyName') or ''} ({report.get('policyID')})",
        f"Submitter: {report.get('accountEmail') or ''}",
        f"Status: {report.get('status') or ''}",
        f"Total: {_money(report.get('total'), report.get('currency'))}",
        "",
    ]
    for expense in report.get("transactionList") or ():
        amount = expense.get("modifiedAmount") or expense.get("amount")
        lines.append(
            f"{expense.get('created')}  {expense.get('merchant') or ''}  "
            f"{_money(amount, expense.get('currency'))}  {expense.get('category') or ''}"
            f"  (transaction {expense.get('transactionID')})"
        )
    return lines


def _receipt_pages(report: Mapping[str, Any]) -> list[list[str]]:
    pages: list[list[str]] = []
    for expense in report.get("transactionList") or ():
        receipt = expense.get("receiptObject") or {}
        url = receipt.get("url") if isinstance(receipt, Mapping) else None
        if not url:
            continue
        amount = expense.get("modifiedAmount") or expense.get("amount")
        pages.append(
            [
                f"Receipt - transaction {expense.get('transactionID')}",
                f"Report {report.get('reportID')}",
                f"Merchant: {expense.get('merchant') or ''}",
                f"Amount: {_money(amount, expense.get('currency'))}",
                f"Date: {expense.get('created')}",
                f"Receipt file: {_receipt_name(str(url))}",
            ]
        )
    return pages


def report_pdf(report: Mapping[str, Any], *, full_page_receipts: bool) -> bytes:
    """The PDF of one report's data model (``report_model``), with receipt pages when
    ``full_page_receipts``."""
    summary = _summary_lines(report)
    pages = [
        summary[i : i + _LINES_PER_PAGE] for i in range(0, max(len(summary), 1), _LINES_PER_PAGE)
    ]
    if full_page_receipts:
        pages += _receipt_pages(report)
    return _write_pdf(pages, title=f"Expense report {report.get('reportID')}")


def _escape(text: str) -> bytes:
    clean = "".join(c if c.isprintable() else " " for c in text)
    raw = clean.encode("latin-1", "replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _content(lines: Sequence[str]) -> bytes:
    parts = [b"BT /F1 11 Tf %d TL 56 %d Td" % (_LEADING, _PAGE_TOP)]
    parts += [b"(" + _escape(line) + b") Tj T*" for line in lines]
    parts.append(b"ET")
    return b"\n".join(parts)


def _write_pdf(pages: Sequence[Sequence[str]], *, title: str) -> bytes:
    """A PDF 1.4 file: catalog (1), page tree (2), font (3), info (4), then per page its
    page object and content stream; the xref table gives every object's byte offset."""
    first_page = 5
    kids = [first_page + 2 * i for i in range(len(pages))]
    bodies: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
        + b"] /Count %d >>" % len(pages),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Title (" + _escape(title) + b") /Producer (expensify_client.emulator) >>",
    ]  # fmt: skip
    for kid, lines in zip(kids, pages, strict=True):
        stream = _content(lines)
        bodies.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (kid + 1)
        )
        bodies.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(bodies, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\n" % (len(bodies) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)
