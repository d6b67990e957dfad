"""The Acumatica side of the bridge: reference data, existence look-ups, creates.

:class:`AcumaticaLedger` adapts :class:`acumatica_client.AcumaticaClient` to what the bridge
needs, with the call budget in mind: the catalog is read once per sync, existence look-ups
are batched (one query per page of keys and document kind), and a create is exactly one
PUT (never retried by the client: a lost answer is resolved by the next look-up).

Look-ups are safe on every database Acumatica runs on and on IIS's default limits:

* bills are found by ``VendorRef eq '<key>'`` (no ``LIKE``); journals by
  ``startswith(Description,'<prefix>')`` where the prefix holds no ``LIKE``
  metacharacter (see :func:`~expense_bridge._keys.description_prefix`); every match is
  confirmed client-side (exact, case-sensitive key) before it is reported;
* they send ``PX-ApiArchive: SHOW`` (``include_archived``), so an archived document is
  found (and adopted) rather than created again;
* pages of keys are cut so that every GET stays within :data:`MAX_URL_BYTES` (2,048) of
  path plus query string, IIS's default ``maxQueryString``, whatever the keys' length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import httpx

from acumatica_client import (
    Account,
    AcumaticaClient,
    AcumaticaError,
    Bill,
    Employee,
    Field,
    Filter,
    JournalTransaction,
    Project,
    ProjectTask,
    Subaccount,
    Vendor,
    entity_url,
)

from ._catalog import LedgerCatalog
from ._keys import DocumentKind, description_prefix, key_from_description
from ._ports import LedgerDocument
from .mapping import PlannedDocument

__all__ = ["MAX_URL_BYTES", "AcumaticaLedger", "LedgerDocument", "NoDocumentNumberError"]

#: Longest path + query string a look-up may send (IIS ``maxQueryString`` default 2,048).
MAX_URL_BYTES = 2048

_BILL_SELECT = ("Type", "ReferenceNbr", "VendorRef", "Status")
_JOURNAL_SELECT = ("Module", "BatchNbr", "Description", "Status")


class NoDocumentNumberError(AcumaticaError):
    """Acumatica answered a save without the saved document's number.

    The write may have been applied: the report stays ``POSTING`` and the next run looks
    its key up before anything else (it is never recorded with an unset number).
    """


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _bill_doc(bill: Bill, key: str) -> LedgerDocument:
    doc_type, number = _text(bill.type), _text(bill.reference_nbr)
    if doc_type is None or number is None:
        raise NoDocumentNumberError(
            f"Acumatica returned the bill for key {key} without its Type/ReferenceNbr"
        )
    return LedgerDocument(
        key=key, kind=DocumentKind.BILL, number=f"{doc_type} {number}", status=_text(bill.status)
    )


def _journal_doc(batch: JournalTransaction, key: str) -> LedgerDocument:
    module, number = _text(batch.module), _text(batch.batch_nbr)
    if module is None or number is None:
        raise NoDocumentNumberError(
            f"Acumatica returned the journal transaction for key {key} without its Module/BatchNbr"
        )
    return LedgerDocument(
        key=key, kind=DocumentKind.JOURNAL, number=f"{module} {number}", status=_text(batch.status)
    )


class AcumaticaLedger:
    """Acumatica as the bridge uses it (one instance per sync)."""

    def __init__(self, client: AcumaticaClient, *, page_size: int = 50) -> None:
        self.client = client
        self.page_size = page_size

    @property
    def calls(self) -> int:
        """HTTP requests the underlying client has sent."""
        return self.client.calls

    def check(self) -> None:
        """Preflight: the pinned endpoint version is served (``EndpointVersionError``)."""
        self.client.check_endpoint()

    def load_catalog(self) -> LedgerCatalog:
        """Accounts, subaccounts, employees, vendors, projects, tasks and branches.

        One listing each (branches come from the ``CompaniesStructure`` inquiry, since
        the Default endpoint has no Branch entity).
        """
        c = self.client
        return LedgerCatalog.from_records(
            accounts=c.iterate(Account),
            subaccounts=c.iterate(Subaccount),
            employees=c.iterate(Employee, expand=("ContactInfo",)),
            vendors=c.iterate(Vendor, expand=("MainContact",)),
            projects=c.iterate(Project),
            project_tasks=c.iterate(ProjectTask),
            branches=c.branches(),
        )

    def _url_bytes(self, entity: str, filter: Filter, select: Sequence[str]) -> int:
        url = entity_url(self.client.base_url, self.client.endpoint, entity)
        params = {"$filter": filter.to_odata(), "$select": ",".join(select)}
        request = httpx.Request("GET", url, params=params)
        return len(request.url.raw_path)

    def _sized_pages(
        self, keys: Sequence[str], entity: str, make: Callable[[list[str]], Filter],
        select: Sequence[str],
    ) -> Iterable[list[str]]:  # fmt: skip
        """Pages of at most ``page_size`` keys whose GET fits :data:`MAX_URL_BYTES`."""
        page: list[str] = []
        for key in keys:
            candidate = [*page, key]
            fits = self._url_bytes(entity, make(candidate), select) <= MAX_URL_BYTES
            if page and (len(candidate) > self.page_size or not fits):
                yield page
                page = [key]
                if self._url_bytes(entity, make(page), select) > MAX_URL_BYTES:
                    raise ValueError(f"document key {key!r} alone makes a look-up too long")
            else:
                page = candidate
        if page:
            yield page

    def find_documents(self, keys: Sequence[tuple[DocumentKind, str]]) -> dict[str, LedgerDocument]:
        """Existing documents for ``keys`` (archived ones too), confirmed by exact key.

        One query per page of keys and kind; each page's URL fits :data:`MAX_URL_BYTES`.
        """
        found: dict[str, LedgerDocument] = {}
        bills = sorted({k for kind, k in keys if kind is DocumentKind.BILL})
        journals = sorted({k for kind, k in keys if kind is DocumentKind.JOURNAL})

        def bill_filter(page: list[str]) -> Filter:
            return Field("VendorRef").in_(page)

        def journal_filter(page: list[str]) -> Filter:
            return Filter.any_of(
                Field("Description").startswith(description_prefix(k)) for k in page
            )

        for page in self._sized_pages(bills, Bill.ENTITY, bill_filter, _BILL_SELECT):
            wanted = set(page)
            for bill in self.client.list(
                Bill, filter=bill_filter(page), select=_BILL_SELECT, include_archived=True
            ):
                # SQL Server compares case-insensitively: confirm the exact key here.
                if isinstance(bill.vendor_ref, str) and bill.vendor_ref in wanted:
                    found[bill.vendor_ref] = _bill_doc(bill, bill.vendor_ref)
        for page in self._sized_pages(
            journals, JournalTransaction.ENTITY, journal_filter, _JOURNAL_SELECT
        ):
            wanted = set(page)
            for batch in self.client.list(
                JournalTransaction,
                filter=journal_filter(page),
                select=_JOURNAL_SELECT,
                include_archived=True,
            ):
                key = (
                    key_from_description(batch.description)
                    if isinstance(batch.description, str)
                    else None
                )
                if key is not None and key in wanted:
                    found[key] = _journal_doc(batch, key)
        return found

    def fetch(self, document: LedgerDocument) -> Bill | JournalTransaction:
        """The document as saved, with its detail lines (one GET; archived ones too)."""
        if document.kind is DocumentKind.BILL:
            doc_type, _, ref = document.number.rpartition(" ")
            return self.client.get(Bill, doc_type, ref, expand=("Details",), include_archived=True)
        module, _, number = document.number.partition(" ")
        return self.client.get(
            JournalTransaction, module, number, expand=("Details",), include_archived=True
        )

    def create(self, planned: PlannedDocument) -> LedgerDocument:
        """One PUT; the saved document's number. Not retried on a lost answer."""
        document = planned.document
        if isinstance(document, Bill):
            return _bill_doc(self.client.put(document), planned.key)
        return _journal_doc(self.client.put(document), planned.key)

    def release(self, document: LedgerDocument) -> None:
        """Release a created document (``ReleaseBill`` / ``ReleaseJournalTransaction``)."""
        prefix, _, number = document.number.partition(" ")
        if document.kind is DocumentKind.BILL:
            doc_type, _, ref = document.number.rpartition(" ")
            self.client.invoke_action(Bill, "ReleaseBill", Bill(type=doc_type, reference_nbr=ref))
        else:
            self.client.invoke_action(
                JournalTransaction,
                "ReleaseJournalTransaction",
                JournalTransaction(module=prefix, batch_nbr=number),
            )
