"""The Acumatica side of the bridge: reference data, existence look-ups, creates.

:class:`AcumaticaLedger` adapts :class:`acumatica_client.AcumaticaClient` to what the bridge
needs, with the call budget in mind: the catalog is read once per sync, existence look-ups
are batched (one query per page of keys and document kind), and a create is exactly one
PUT (never retried by the client: a lost answer is resolved by the next look-up).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from acumatica_client import (
    Account,
    AcumaticaClient,
    Bill,
    Employee,
    Field,
    Filter,
    JournalTransaction,
    Project,
    ProjectTask,
    Subaccount,
    Vendor,
)

from ._catalog import LedgerCatalog
from ._keys import DocumentKind, key_from_description
from ._ports import LedgerDocument
from .mapping import PlannedDocument

__all__ = ["AcumaticaLedger", "LedgerDocument"]


def _bill_doc(bill: Bill, key: str) -> LedgerDocument:
    return LedgerDocument(
        key=key,
        kind=DocumentKind.BILL,
        number=f"{bill.type} {bill.reference_nbr}",
        status=bill.status if isinstance(bill.status, str) else None,
    )


def _journal_doc(batch: JournalTransaction, key: str) -> LedgerDocument:
    return LedgerDocument(
        key=key,
        kind=DocumentKind.JOURNAL,
        number=f"{batch.module} {batch.batch_nbr}",
        status=batch.status if isinstance(batch.status, str) else None,
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

    def find_documents(self, keys: Sequence[tuple[DocumentKind, str]]) -> dict[str, LedgerDocument]:
        """Existing documents for ``keys``: one query per page of keys and kind."""
        found: dict[str, LedgerDocument] = {}
        bills = sorted({k for kind, k in keys if kind is DocumentKind.BILL})
        journals = sorted({k for kind, k in keys if kind is DocumentKind.JOURNAL})
        for page in _pages(bills, self.page_size):
            for bill in self.client.list(
                Bill,
                filter=Field("VendorRef").in_(page),
                select=("Type", "ReferenceNbr", "VendorRef", "Status"),
            ):
                if isinstance(bill.vendor_ref, str) and bill.vendor_ref in page:
                    found[bill.vendor_ref] = _bill_doc(bill, bill.vendor_ref)
        for page in _pages(journals, self.page_size):
            wanted = Filter.any_of(Field("Description").startswith(f"[{k}]") for k in page)
            for batch in self.client.list(
                JournalTransaction,
                filter=wanted,
                select=("Module", "BatchNbr", "Description", "Status"),
            ):
                key = (
                    key_from_description(batch.description)
                    if isinstance(batch.description, str)
                    else None
                )
                if key is not None and key in page:
                    found[key] = _journal_doc(batch, key)
        return found

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


def _pages(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
