"""The Acumatica side of the bridge: reference data, existence look-ups, creates.

:class:`AcumaticaLedger` adapts :class:`acumatica_client.AcumaticaClient` to what the bridge
needs, with the call budget in mind: the catalog is read once per sync, existence look-ups
are batched (one query per page of keys and document kind), and a create is exactly one
PUT (never retried by the client: a lost answer is resolved by the next look-up).

Look-ups are safe on every database Acumatica runs on and on IIS's default limits:

* bills are found by ``VendorRef eq '<key>'`` (no ``LIKE``); journals and expense
  claims by ``startswith(Description,'<prefix>')`` where the prefix holds no ``LIKE``
  metacharacter (see :func:`~expense_bridge._keys.description_prefix`); every match is
  confirmed client-side (exact, case-sensitive key) before it is reported;
* they send ``PX-ApiArchive: SHOW`` (``include_archived``), so an archived document is
  found (and adopted) rather than created again;
* pages of keys are cut so that every GET stays within :data:`MAX_URL_BYTES` (2,048) of
  path plus query string, IIS's default ``maxQueryString``, whatever the keys' length.

Expense claims (``DocumentKind.CLAIM``, number ``"Claim <RefNbr>"``): :meth:`release`
takes a claim to ``claim_stage`` through :meth:`ClaimLedger.advance
<expense_bridge._claims.ClaimLedger.advance>`, which reads the claim's status first, so
calling it again after a lost answer sends only the transitions still missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

import attrs
import httpx

from acumatica_client import (
    Account,
    AcumaticaClient,
    AcumaticaError,
    Bill,
    Currency,
    Employee,
    ExpenseClaim,
    Field,
    Filter,
    FinancialPeriod,
    JournalTransaction,
    NonStockItem,
    NotFoundError,
    PermissionDeniedError,
    Project,
    ProjectTask,
    RecordLinks,
    Subaccount,
    TaxZone,
    Vendor,
    entity_url,
    to_wire,
)

from ._catalog import LedgerCatalog
from ._claims import ClaimLedger
from ._keys import DocumentKind, description_prefix, key_from_description
from ._periods import PeriodCalendar
from ._ports import LedgerDocument
from ._rules import ClaimStage, PostingRules, ReceiptTarget, ReimbursableTarget
from .mapping import PlannedDocument

__all__ = ["MAX_URL_BYTES", "AcumaticaLedger", "LedgerDocument", "NoDocumentNumberError"]

logger = logging.getLogger(__name__)

#: Longest path + query string a look-up may send (IIS ``maxQueryString`` default 2,048).
MAX_URL_BYTES = 2048

_BILL_SELECT = ("Type", "ReferenceNbr", "VendorRef", "Status")
_JOURNAL_SELECT = ("Module", "BatchNbr", "Description", "Status")
_CLAIM_SELECT = ("RefNbr", "Description", "Status", "ClaimedBy", "ClaimTotal", "CurrencyID")
#: The number prefix of an expense claim (``"Claim 000123"``).
CLAIM_PREFIX = "Claim"


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


def _claim_doc(claim: ExpenseClaim, key: str) -> LedgerDocument:
    number = _text(claim.ref_nbr)
    if number is None:
        raise NoDocumentNumberError(
            f"Acumatica returned the expense claim for key {key} without its RefNbr"
        )
    return LedgerDocument(
        key=key,
        kind=DocumentKind.CLAIM,
        number=f"{CLAIM_PREFIX} {number}",
        status=_text(claim.status),
    )


def _doc_keys(
    document: LedgerDocument,
) -> tuple[type[Bill | JournalTransaction | ExpenseClaim], tuple[str, ...]]:
    """The entity and key values of a recorded document (for a GET)."""
    if document.kind is DocumentKind.CLAIM:
        return ExpenseClaim, (document.number.removeprefix(CLAIM_PREFIX).strip(),)
    if document.kind is DocumentKind.BILL:
        doc_type, _, ref = document.number.rpartition(" ")
        return Bill, (doc_type, ref)
    module, _, number = document.number.partition(" ")
    return JournalTransaction, (module, number)


def _saved_doc(saved: Bill | JournalTransaction | ExpenseClaim, key: str) -> LedgerDocument:
    """The recorded document of a saved bill, claim or journal transaction."""
    if isinstance(saved, Bill):
        return _bill_doc(saved, key)
    if isinstance(saved, ExpenseClaim):
        return _claim_doc(saved, key)
    return _journal_doc(saved, key)


def _description_key(text: object) -> str | None:
    return key_from_description(text) if isinstance(text, str) else None


class AcumaticaLedger:
    """Acumatica as the bridge uses it (one instance per sync).

    ``claim_stage``: how far :meth:`release` takes an expense claim.
    ``read_expense_items``: :meth:`load_catalog` also lists the non-stock items (expense
    claims name them). ``read_tax_zones``: it also lists the tax zones (``TaxZone``, for
    ``rules.tax_zone``). ``read_periods``: it also reads the financial calendar
    (``FinancialPeriod``, for the closed-period rule). ``line_links``: :meth:`create` and
    :meth:`fetch` also read the saved lines' ``files:put`` links (receipts on lines; the
    create's answer brings its lines, the adoption's read its links: no extra request),
    kept for :meth:`links`.
    """

    def __init__(
        self,
        client: AcumaticaClient,
        *,
        page_size: int = 50,
        claim_stage: ClaimStage = ClaimStage.SUBMIT,
        read_expense_items: bool = False,
        read_periods: bool = False,
        read_tax_zones: bool = False,
        line_links: bool = False,
    ) -> None:
        self.client = client
        self.page_size = page_size
        self.claim_stage = claim_stage
        self.read_expense_items = read_expense_items
        self.read_periods = read_periods
        self.read_tax_zones = read_tax_zones
        self.line_links = line_links
        self._links: dict[str, RecordLinks] = {}  # document number -> last answer's links

    @classmethod
    def for_rules(
        cls, client: AcumaticaClient, rules: PostingRules, *, page_size: int = 50
    ) -> AcumaticaLedger:
        """The ledger a run with ``rules`` needs: the claim stage, expense items read for
        the expense-claim target, the financial calendar read for the period rule."""
        return cls(
            client,
            page_size=page_size,
            claim_stage=ClaimStage.from_rules(rules),
            read_expense_items=rules.reimbursable_target is ReimbursableTarget.EXPENSE_CLAIM,
            read_periods=True,
            read_tax_zones=rules.tax_zone is not None,
            line_links=rules.attach_receipts and rules.receipts_on is ReceiptTarget.LINE,
        )

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
        catalog = LedgerCatalog.from_records(
            accounts=c.iterate(Account),
            subaccounts=c.iterate(Subaccount),
            employees=c.iterate(Employee, expand=("ContactInfo",)),
            vendors=c.iterate(Vendor, expand=("MainContact",)),
            projects=c.iterate(Project),
            project_tasks=c.iterate(ProjectTask),
            branches=c.branches(),
        )
        catalog = attrs.evolve(catalog, currencies=self._currencies())
        if self.read_expense_items:
            items = {
                ident
                for item in c.iterate(NonStockItem)
                if (ident := _text(item.inventory_id)) is not None
                and (_text(item.item_status) or "Active") == "Active"
            }
            catalog = attrs.evolve(catalog, expense_items=items)
        if self.read_periods:
            catalog = attrs.evolve(catalog, periods=self._calendar())
        if self.read_tax_zones:
            catalog = attrs.evolve(catalog, tax_zones=self._tax_zones())
        return catalog

    def _currencies(self) -> frozenset[str] | None:
        """The tenant's active currencies (``Currency``, CM202000): report currencies and
        ``rules.base_currency`` are checked against them; None (not checked) when the
        endpoint does not serve the entity or the list is empty."""
        try:
            codes = frozenset(
                ident
                for row in self.client.iterate(Currency)
                if (ident := _text(row.currency_id)) is not None and row.active is not False
            )
        except NotFoundError:
            return None
        return codes or None

    def _tax_zones(self) -> frozenset[str] | None:
        """The tenant's tax zones (``TaxZone``, TX206000) ``rules.tax_zone`` is checked
        against; None (not checked) when the endpoint does not serve the entity."""
        try:
            return frozenset(
                ident
                for row in self.client.iterate(TaxZone)
                if (ident := _text(row.tax_zone_id)) is not None
            )
        except NotFoundError:
            return None

    def _calendar(self) -> PeriodCalendar | None:
        """The financial calendar; None (check skipped, a logged warning) when the tenant
        has no periods, the endpoint does not serve them or the API user may not read
        them (GL201000)."""
        try:
            years = list(self.client.iterate(FinancialPeriod, expand=("Details",)))
        except (NotFoundError, PermissionDeniedError):  # not served, or not for this user
            years = []
        calendar = PeriodCalendar.from_records(to_wire(y) for y in years)
        if not calendar.periods:
            logger.warning(
                "Acumatica returned no financial periods: the closed-period check "
                "(rules.closed_period) is skipped this run"
            )
            return None
        return calendar

    def _url_bytes(self, entity: str, filter: Filter, select: Sequence[str]) -> int:
        url = entity_url(self.client.base_url, self.client.endpoint, entity)
        params = {"$filter": filter.to_odata(), "$select": ",".join(select)}
        request = httpx.Request("GET", url, params=params)
        return len(request.url.raw_path)

    def _sized_pages(
        self, keys: Sequence[str], entity: str, make: Callable[[list[str]], Filter],
        select: Sequence[str],
    ) -> Iterable[list[str]]:  # fmt: skip
        """Pages of at most ``page_size`` keys whose GET fits :data:`MAX_URL_BYTES`.

        A URL only grows with its keys, so a page is the longest run that fits: one URL
        built per full page, a binary search only where the limit cuts a page short
        (linear in the keys, not one URL per key and page).
        """

        def fits(page: Sequence[str]) -> bool:
            return self._url_bytes(entity, make(list(page)), select) <= MAX_URL_BYTES

        start = 0
        while start < len(keys):
            end = min(len(keys), start + self.page_size)
            if not fits(keys[start:end]):
                good, bad = 0, end - start  # keys[start:start+good] fits, +bad does not
                while bad - good > 1:
                    mid = (good + bad) // 2
                    good, bad = (mid, bad) if fits(keys[start : start + mid]) else (good, mid)
                if good == 0 and start > 0:
                    raise ValueError(f"document key {keys[start]!r} alone makes a look-up too long")
                end = start + max(good, 1)
            yield list(keys[start:end])
            start = end

    def find_documents(self, keys: Sequence[tuple[DocumentKind, str]]) -> dict[str, LedgerDocument]:
        """Existing documents for ``keys`` (archived ones too), confirmed by exact key.

        One query per page of keys and kind; each page's URL fits :data:`MAX_URL_BYTES`.
        """
        found: dict[str, LedgerDocument] = {}
        bills = sorted({k for kind, k in keys if kind is DocumentKind.BILL})
        journals = sorted({k for kind, k in keys if kind is DocumentKind.JOURNAL})
        claims = sorted({k for kind, k in keys if kind is DocumentKind.CLAIM})

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
        for page in self._sized_pages(claims, ExpenseClaim.ENTITY, journal_filter, _CLAIM_SELECT):
            wanted = set(page)
            for claim in self.client.list(
                ExpenseClaim,
                filter=journal_filter(page),
                select=_CLAIM_SELECT,
                include_archived=True,
            ):
                key = _description_key(claim.description)
                if key is not None and key in wanted:
                    found[key] = _claim_doc(claim, key)
        return found

    def fetch(self, document: LedgerDocument) -> Bill | JournalTransaction | ExpenseClaim:
        """The document as saved, with its detail lines (one GET; archived ones too)."""
        cls, keys = _doc_keys(document)
        if self.line_links:  # the same GET brings the links (kept for links())
            saved, self._links[document.number] = self.client.get_with_links(
                cls, *keys, expand=("Details",), include_archived=True
            )
            return saved
        return self.client.get(cls, *keys, expand=("Details",), include_archived=True)

    def create(
        self, planned: PlannedDocument, *, on_body: Callable[[bytes], object] | None = None
    ) -> LedgerDocument:
        """One PUT; the saved document's number. Not retried on a lost answer.
        ``on_body`` gets the exact body bytes before they are sent."""
        document = planned.document
        if self.line_links:  # the saved lines come back with their links (one PUT)
            saved, links = self.client.put_with_links(
                document, expand=("Details",), on_body=on_body
            )
            doc = _saved_doc(saved, planned.key)
            self._links[doc.number] = links
            return doc
        return _saved_doc(self.client.put(document, on_body=on_body), planned.key)

    def attach_file(
        self, document: LedgerDocument, name: str, content: bytes, content_type: str | None = None
    ) -> None:
        """Attach a file to a saved document (``PUT …/files/{name}``; the same name
        replaces, so the client repeats it after a lost answer and one file remains)."""
        cls, keys = _doc_keys(document)
        self.client.attach_file(cls, keys, name, content, content_type=content_type)

    def links(self, document: LedgerDocument, *, read: bool = True) -> RecordLinks | None:
        """The ``_links`` of a saved document and its lines: those of this run's create or
        fetch of it (handed out once), else one GET with its lines (``read=False``: None,
        which just forgets them)."""
        links = self._links.pop(document.number, None)
        if links is None and read:
            cls, keys = _doc_keys(document)
            _, links = self.client.get_with_links(
                cls, *keys, expand=("Details",), include_archived=True
            )
        return links

    def attach_file_at(
        self, link: str, name: str, content: bytes, content_type: str | None = None
    ) -> None:
        """Attach a file through a ``files:put`` link (a document's or one line's)."""
        self.client.attach_file_at(link, name, content, content_type=content_type)

    def advance_claim(
        self,
        document: LedgerDocument,
        *,
        in_flight: Iterable[str] = (),
        on_send: Callable[[str, str], None] | None = None,
    ) -> str:
        """Take an expense claim to :attr:`claim_stage` with the double-send guard of
        :meth:`ClaimLedger.advance <expense_bridge._claims.ClaimLedger.advance>`
        (``in_flight``: statuses an action was sent from without a known outcome;
        ``on_send(action, status)`` before each action). The status reached."""
        ref = document.number.removeprefix(CLAIM_PREFIX).strip()
        return ClaimLedger(self.client).advance(
            ExpenseClaim(ref_nbr=ref), self.claim_stage, in_flight=in_flight, on_send=on_send
        )

    def release(self, document: LedgerDocument) -> None:
        """Release a created document (``ReleaseBill`` / ``ReleaseJournalTransaction``).

        An expense claim is taken to :attr:`claim_stage` instead (submit, approve,
        release: only the transitions its current status still needs).
        """
        prefix, _, number = document.number.partition(" ")
        if document.kind is DocumentKind.CLAIM:
            ref = document.number.removeprefix(CLAIM_PREFIX).strip()
            ClaimLedger(self.client).advance(ExpenseClaim(ref_nbr=ref), self.claim_stage)
            return
        if document.kind is DocumentKind.BILL:
            doc_type, _, ref = document.number.rpartition(" ")
            self.client.invoke_action(Bill, "ReleaseBill", Bill(type=doc_type, reference_nbr=ref))
        else:
            self.client.invoke_action(
                JournalTransaction,
                "ReleaseJournalTransaction",
                JournalTransaction(module=prefix, batch_nbr=number),
            )
