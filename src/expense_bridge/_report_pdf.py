"""The report's PDF with full-page receipts, attached to its posted documents once.

With ``rules.attach_report_pdf``, after every document of a report is recorded (created,
adopted after a lost answer, or recorded by an earlier run of a report still posting),
:func:`attach_report_pdf`:

1. skips the documents whose PDF is already recorded as attached (``done``, from the
   audit trail: step ``report_pdf``, outcome ``attached``); when none is left, nothing is
   sent to Expensify;
2. exports the report as a PDF with full-page receipts (:class:`ReportPdfFetcher`): a
   ``type: file`` job with ``outputSettings`` ``{"fileExtension": "pdf",
   "includeFullPageReceiptsPdf": true}`` (expensify-api.md §2.1), filtered by
   ``reportIDList`` = this report only, and downloads the file it names;
3. checks it: at most ``max_bytes``, starting with the ``%PDF-`` magic;
4. attaches it to each document's header as ``report-<reportID>.pdf`` (Acumatica's file
   attachment, ``PUT …/files/{name}``, acumatica-api.md §3.8; the same name replaces,
   so a lost answer repeated by the client still leaves one file).

**One report per export job.** A pdf export produces one file per report (§1.5, §2.1) and
answers their names comma-separated (Go client, [3P]); nothing in the reference says in
which order, nor puts the report ID in a file name or in the PDF in a documented way. So
the only safe mapping is one report per job: its answer must be exactly one name (any
other count is a warning, nothing attached). Cost: **2 Expensify calls per report**
(export + download; one more per download poll while the file is not rendered yet), paid
once per report whose PDF is still missing, inside the client's rate limiter (5 per 10 s,
20 per 60 s).

**Nothing is marked.** The job carries no ``onFinish`` (so no ``markAsExported``) and no
``markedAsExported`` filter (a report marked since must still be found); ``onReceive``
``returnRandomFileName`` is sent because every export requires it (§2.1). Every report
state is allowed, so a report reimbursed or closed since it was posted is still exported.

**Template.** The PDF is the service's own rendering; a ``template`` form field is sent
anyway, the literal ``default`` (what Pipedream's connector sends for pdf, §2.1 [3P];
unverified whether ``default`` is a keyword there).

A failed export, download, check or attach is a warning on the report outcome and in the
audit (step ``report_pdf``, outcome ``warning``), never an error and never a re-post.

**Retries** (``rules.receipt_attempts``, the receipts' count: the PDF is the receipts'
full-page form, and one knob bounds every follow-up Expensify call of a posted report):
a later sync finds the posted reports whose last ``report_pdf`` line is a ``warning``
through the receipts' retry (``_posting.retry_report_pdfs``, the same store query and
lease), exports the PDF again (2 calls) and attaches it to the documents without an
``attached`` line, under the same name; ``complete`` when none is left, ``abandoned``
after the last attempt. A sync with nothing due sends Expensify nothing more.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Final

import attrs

from expensify_client import ExpensifyClient, ExportFilters, ExportRequest, ReportState

from ._ports import LedgerDocument

__all__ = [
    "DEFAULT_MAX_BYTES",
    "PDF_TEMPLATE",
    "REPORT_PDF_STEP",
    "ReportPdfError",
    "ReportPdfFetcher",
    "ReportPdfResult",
    "attach_report_pdf",
    "report_pdf_name",
]

#: Audit step of the report PDF (outcomes ``attached`` with the file name, ``warning``).
REPORT_PDF_STEP: Final = "report_pdf"
#: Default size limit of one report PDF (receipts as full pages: 25 MiB).
DEFAULT_MAX_BYTES: Final = 25 * 1024 * 1024
#: The ``template`` form field of a pdf export (Pipedream's ``default``, expensify-api.md §2.1).
PDF_TEMPLATE: Final = "default"
_MAGIC: Final = b"%PDF-"


def report_pdf_name(report_id: str) -> str:
    """``report-<reportID>.pdf``: the same name every time for one report."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in report_id)
    return f"report-{safe}.pdf"


class ReportPdfError(Exception):
    """The report's PDF cannot be attached; the message names the report, never a URL."""


@attrs.frozen(kw_only=True)
class ReportPdfResult:
    """What :func:`attach_report_pdf` did for one report."""

    name: str  # the file name on every document
    attached: tuple[str, ...] = ()  # document numbers it was attached to now (record them)
    skipped: tuple[str, ...] = ()  # document numbers that had it already
    warnings: tuple[str, ...] = ()


class ReportPdfFetcher:
    """Exports one report as a PDF with full-page receipts and downloads it (no I/O until
    used). Calls go through ``client`` (its rate limiter, retries and credentials).

    ``max_polls``/``poll_interval``: the download's polling while the file is not rendered
    (each poll is one more Expensify call).
    """

    def __init__(
        self,
        client: ExpensifyClient,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_polls: int = 6,
        poll_interval: float = 5.0,
        template: str = PDF_TEMPLATE,
    ) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        self.client = client
        self.max_bytes = max_bytes
        self.max_polls = max_polls
        self.poll_interval = poll_interval
        self.template = template

    def __repr__(self) -> str:
        return f"ReportPdfFetcher(max_bytes={self.max_bytes}, max_polls={self.max_polls})"

    @staticmethod
    def request(report_id: str) -> ExportRequest:
        """The export job: this report only, pdf with full-page receipts, nothing marked."""
        return ExportRequest(
            filters=ExportFilters(report_ids=(report_id,)),
            report_states=tuple(ReportState),
            file_extension="pdf",
            full_page_receipts=True,
        )

    def fetch(self, report_id: str) -> bytes:
        """The report's PDF; :class:`ReportPdfError` says why not."""
        what = f"report PDF of report {report_id}"
        request = self.request(report_id)
        try:
            names = self.client.export_files(request, self.template)
        except Exception as exc:
            raise ReportPdfError(f"{what}: export failed ({type(exc).__name__})") from None
        if len(names) != 1:
            raise ReportPdfError(f"{what}: the export produced {len(names)} files, expected one")
        try:
            content = self.client.download(
                names[0], max_polls=self.max_polls, poll_interval=self.poll_interval
            )
        except Exception as exc:
            raise ReportPdfError(f"{what}: download failed ({type(exc).__name__})") from None
        if len(content) > self.max_bytes:
            raise ReportPdfError(f"{what}: larger than the {self.max_bytes}-byte limit")
        if not content.startswith(_MAGIC):
            raise ReportPdfError(f"{what}: the file is not a PDF")
        return content


def attach_report_pdf(
    report_id: str,
    documents: Sequence[LedgerDocument],
    *,
    fetcher: ReportPdfFetcher,
    put_file: Callable[[LedgerDocument, str, bytes], None],
    done: Collection[str] = (),
) -> ReportPdfResult:
    """Attach the report's PDF to each document not in ``done`` (document numbers),
    exporting it at most once (see the module docstring).

    ``put_file`` failures (any exception) become warnings; that document is tried again
    on the next call since its number is not returned in ``attached``.
    """
    name = report_pdf_name(report_id)
    todo = [d for d in documents if d.number not in done]
    skipped = tuple(d.number for d in documents if d.number in done)
    if not todo:
        return ReportPdfResult(name=name, skipped=skipped)
    try:
        content = fetcher.fetch(report_id)
    except ReportPdfError as exc:
        return ReportPdfResult(name=name, skipped=skipped, warnings=(str(exc),))
    attached: list[str] = []
    warnings: list[str] = []
    for document in todo:
        try:
            put_file(document, name, content)
        except Exception as exc:
            warnings.append(
                f"report PDF of report {report_id}: not attached to {document.number} "
                f"({type(exc).__name__})"
            )
            continue
        attached.append(document.number)
    return ReportPdfResult(
        name=name, attached=tuple(attached), skipped=skipped, warnings=tuple(warnings)
    )
