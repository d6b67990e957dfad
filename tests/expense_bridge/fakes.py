"""Strict in-memory implementations of the bridge's ports, with fault injection.

:class:`FakeLedger` implements :class:`expense_bridge._ports.Ledger` and
:class:`FakeSource` implements :class:`expense_bridge._ports.ExpenseSource`. They are
adversaries, not stubs:

* every call is counted (``calls``), look-ups per page (``lookups``) and writes
  (``writes``) separately, so tests can check the call budget;
* the ledger keeps EVERY document it was asked to create (a duplicate stays visible in
  ``documents``), checks that each planned document carries its key where the bridge's
  look-up will search for it (bill ``VendorRef``; journal ``Description`` prefix and
  every line's ``ReferenceNbr``), and can apply a write and then lose the answer;
* the source applies Expensify's export filters (label, ``approvedAfter`` excluding its
  own day, ``endDate`` on the later of created/submitted, the one-year rule, a required
  date anchor) and can lose an acknowledgement after or before the marking.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from acumatica_client import (
    APIConnectionError,
    APITimeoutError,
    Bill,
    EndpointVersionError,
    JournalTransaction,
    ValidationError,
)
from acumatica_client import FieldError as AcumaticaFieldError
from expense_bridge._catalog import AccountInfo, LedgerCatalog
from expense_bridge._config import AcumaticaSettings, BridgeConfig, ExpensifySettings
from expense_bridge._keys import DocumentKind, description_prefix, parse_key
from expense_bridge._ports import LedgerDocument
from expense_bridge._rules import CardTarget, PostingRules
from expense_bridge.mapping import PlannedDocument
from expensify_client import APITimeoutError as ExpensifyTimeout
from expensify_client import (
    Category,
    Expense,
    InvalidRequestError,
    Policy,
    Report,
    ReportState,
    UnparsedReport,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POLICY = Policy(
    policy_id="POL1",
    categories=(
        Category(name="Travel", gl_code="61000"),
        Category(name="Meals", gl_code="62000"),
        Category(name="Mystery", gl_code=None),
    ),
)
CATALOG = LedgerCatalog(
    accounts=[
        AccountInfo(code="61000", active=True, type="Expense", description="Travel"),
        AccountInfo(code="62000", active=True, type="Expense", description="Meals"),
        AccountInfo(code="21000", active=True, type="Liability", description="Employees"),
        AccountInfo(code="22000", active=True, type="Liability", description="Card"),
    ],
    subaccounts=["000000"],
    vendor_by_email={"ann@firm.test": "EMP0001"},
    vendors=["EMP0001", "AMEXCO"],
)


class Clock:
    """A settable clock (tz-aware)."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def config(**rules: Any) -> BridgeConfig:
    """A configuration for the fakes: bills for reimbursable spend, journals for cards."""
    base: dict[str, Any] = {
        "employee_liability_account": "21000",
        "card_liability_account": "22000",
        "card_target": CardTarget.JOURNAL,
    }
    base.update(rules)
    return BridgeConfig(
        acumatica=AcumaticaSettings(
            base_url="https://erp.test",
            endpoint_version="24.200.001",
            username="admin",
            client_id="expense-bridge@Company",
        ),
        expensify=ExpensifySettings(partner_user_id="aa_bridge"),
        policies=("POL1",),
        rules=PostingRules(**base),
    )


def expense(tid: str, cents: int, category: str = "Travel", **kw: Any) -> Expense:
    """One USD expense of report ``tid.split('-')[0]``."""
    return Expense(
        transaction_id=tid,
        report_id=tid.split("-")[0],
        amount_cents=cents,
        currency="USD",
        created=date(2026, 11, 10),
        merchant="Airline",
        category=category,
        **kw,
    )


def report(
    rid: str,
    *expenses: Expense,
    approved: datetime = NOW - timedelta(days=3),
    card: bool = False,
    state: ReportState = ReportState.APPROVED,
    email: str = "ann@firm.test",
) -> Report:
    """An approved report (two reimbursable expenses; ``card`` adds a card expense)."""
    exps = expenses or (
        expense(f"{rid}-1", 12345),
        expense(f"{rid}-2", 2050, "Meals"),
        *((expense(f"{rid}-3", 999, reimbursable=False),) if card else ()),
    )
    return Report(
        report_id=rid,
        report_name=f"Trip {rid}",
        status=state,
        policy_id="POL1",
        currency="USD",
        total_cents=sum(e.amount_cents for e in exps),
        account_email=email,
        created=approved - timedelta(days=2),
        submitted=approved - timedelta(days=1),
        approved=approved,
        reimbursed=approved + timedelta(hours=1) if state is ReportState.REIMBURSED else None,
        expenses=exps,
    )


def _request(path: str) -> httpx.Request:
    return httpx.Request("PUT", f"https://erp.test/entity/Default/24.200.001/{path}")


class FakeLedger:
    """A strict in-memory Acumatica (implements the ``Ledger`` port)."""

    def __init__(
        self,
        catalog: LedgerCatalog = CATALOG,
        *,
        page_size: int = 50,
        served_version: str = "24.200.001",
    ) -> None:
        self.catalog = catalog
        self.page_size = page_size
        self.served_version = served_version
        self.documents: list[LedgerDocument] = []  # every document ever created
        #: What each document (by number) posts, as saved; tests may edit it.
        self.contents: dict[str, Bill | JournalTransaction] = {}
        self.fetches = 0
        self.released: list[str] = []
        self.calls = 0
        self.lookups = 0
        self.writes = 0
        #: Faults for the next creates, in order: "drop" (applied, answer lost),
        #: "refuse" (connection failed, nothing applied), "reject" (validation error),
        #: anything else (e.g. "ok"): no fault for that create.
        self.faults: list[str] = []
        #: Called after every look-up (e.g. to let another worker run in between).
        self.after_lookup: Callable[[], None] | None = None
        self._numbers = itertools.count(1)
        self._lock = threading.RLock()

    # -- inspection helpers
    def keys(self) -> list[str]:
        """The key of every document, duplicates included, sorted."""
        return sorted(d.key for d in self.documents)

    # -- the port
    def check(self) -> None:
        with self._lock:
            self.calls += 1
        if self.served_version != "24.200.001":
            raise EndpointVersionError("Default", "24.200.001", [self.served_version])

    def load_catalog(self) -> LedgerCatalog:
        with self._lock:
            self.calls += 1
        return self.catalog

    def find_documents(
        self, keys: Sequence[tuple[DocumentKind, str]]
    ) -> Mapping[str, LedgerDocument]:
        found: dict[str, LedgerDocument] = {}
        for kind in DocumentKind:
            wanted = sorted({k for knd, k in keys if knd is kind})
            for start in range(0, len(wanted), self.page_size):
                page = set(wanted[start : start + self.page_size])
                for key in page:
                    if parse_key(key) is None:
                        raise ValueError(f"not a document key: {key!r}")
                with self._lock:
                    self.calls += 1
                    self.lookups += 1
                    for doc in self.documents:
                        if doc.kind is kind and doc.key in page and doc.key not in found:
                            found[doc.key] = doc
        if self.after_lookup is not None:
            self.after_lookup()
        return found

    def create(
        self, planned: PlannedDocument, *, on_body: Callable[[bytes], object] | None = None
    ) -> LedgerDocument:
        document = planned.document  # no request body: on_body is not called
        with self._lock:
            self.calls += 1
            self.writes += 1
            fault = self.faults.pop(0) if self.faults else None
            if isinstance(document, Bill):
                assert planned.kind is DocumentKind.BILL
                assert document.vendor_ref == planned.key  # the look-up searches VendorRef
                path, prefix = "Bill", "Bill"
            else:
                assert isinstance(document, JournalTransaction)
                assert planned.kind is DocumentKind.JOURNAL
                assert isinstance(document.description, str)
                assert document.description.startswith(description_prefix(planned.key))
                assert all(line.reference_nbr == planned.key for line in document.details)
                path, prefix = "JournalTransaction", "GL"
            if fault == "refuse":
                raise APIConnectionError("connection refused", request=_request(path))
            if fault == "reject":
                request = _request(path)
                raise ValidationError(
                    "Account '61000' is inactive",
                    request=request,
                    response=httpx.Response(422, request=request),
                    errors=[AcumaticaFieldError("Details[0].Account", "'61000' is inactive")],
                )
            doc = LedgerDocument(
                key=planned.key,
                kind=planned.kind,
                number=f"{prefix} {next(self._numbers):06d}",
                status="Balanced",
            )
            self.documents.append(doc)
            self.contents[doc.number] = document
            if fault == "drop":
                raise APITimeoutError("read timed out", request=_request(path))
            return doc

    def fetch(self, document: LedgerDocument) -> Bill | JournalTransaction:
        with self._lock:
            self.calls += 1
            self.fetches += 1
            assert document in self.documents, f"fetching an unknown document {document}"
            return self.contents[document.number]

    def release(self, document: LedgerDocument) -> None:
        with self._lock:
            self.calls += 1
            assert document in self.documents
            self.released.append(document.number)


def _minus_year(day: date) -> date:
    if (day.month, day.day) == (2, 29):
        return date(day.year - 1, 3, 1)
    return day.replace(year=day.year - 1)


def _plus_year(day: date) -> date:
    if (day.month, day.day) == (2, 29):
        return date(day.year + 1, 2, 28)
    return day.replace(year=day.year + 1)


class FakeSource:
    """A strict in-memory Expensify (implements the ``ExpenseSource`` port)."""

    def __init__(
        self,
        reports: Iterable[Report] = (),
        *,
        policies: Iterable[Policy] = (POLICY,),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.reports = {r.report_id: r for r in reports}
        self.policies = {p.policy_id: p for p in policies}
        self.labels: dict[str, set[str]] = {}
        self.clock = clock or Clock()
        self.calls = 0
        self.exports: list[dict[str, Any]] = []
        self.acks: list[tuple[str, ...]] = []
        self.by_ids: list[tuple[str, ...]] = []  # re-reads by report ID
        #: Faults for the next acknowledgements: "lost" (marked, answer lost),
        #: "refused" (nothing marked).
        self.faults: list[str] = []
        #: Reports the export carries but that cannot be read (returned by every pull).
        self.unparsed: list[UnparsedReport] = []
        #: Reports whose marking silently does not apply.
        self.refuses_marks: set[str] = set()
        self._lock = threading.RLock()

    def add(self, *reports: Report) -> None:
        """New or changed reports (a change re-opens the report: its labels are lost)."""
        for r in reports:
            self.reports[r.report_id] = r
            self.labels.pop(r.report_id, None)

    def fetch_reports(
        self,
        *,
        policy_ids: Sequence[str],
        states: Sequence[ReportState],
        approved_after: date | None,
        start_date: date | None,
        end_date: date | None,
        exclude_label: str,
    ) -> list[Report | UnparsedReport]:
        with self._lock:
            self.calls += 1
            self.exports.append(
                {"approved_after": approved_after, "start_date": start_date, "end_date": end_date}
            )
            if approved_after is None and start_date is None:
                raise InvalidRequestError("startDate or approvedAfter required", field="filters")
            if not exclude_label:
                raise InvalidRequestError("empty label", field="filters.markedAsExported")
            today = self.clock().date()
            for anchor in (a for a in (approved_after, start_date) if a is not None):
                if end_date is None and anchor < _minus_year(today):
                    raise InvalidRequestError("endDate required", field="filters.endDate")
                if end_date is not None and end_date > _plus_year(anchor):
                    raise InvalidRequestError("span over a year", field="filters.endDate")
            out = []
            for r in self.reports.values():
                reference = max(r.created, r.submitted or r.created).date()
                if exclude_label in self.labels.get(r.report_id, set()):
                    continue
                if r.status not in states or r.policy_id not in policy_ids:
                    continue
                if approved_after is not None and (
                    r.approved is None or r.approved.date() <= approved_after
                ):
                    continue
                if start_date is not None and reference < start_date:
                    continue
                if end_date is not None and reference > end_date:
                    continue
                out.append(r)
            return [*out, *self.unparsed]

    def fetch_by_ids(
        self, report_ids: Sequence[str], states: Sequence[ReportState]
    ) -> list[Report]:
        with self._lock:
            self.calls += 1
            self.by_ids.append(tuple(report_ids))
            return [
                self.reports[i]
                for i in report_ids
                if i in self.reports and self.reports[i].status in states
            ]

    def get_policies(self, ids: Iterable[str]) -> Mapping[str, Policy]:
        with self._lock:
            self.calls += 1
            return {i: self.policies[i] for i in ids if i in self.policies}

    def acknowledge(
        self, report_ids: Sequence[str], label: str, states: Sequence[ReportState] = ()
    ) -> frozenset[str]:
        """Marks the listed reports that are in ``states``; answers with those it marked.

        ``refuses_marks`` reports are left unlabelled and missing from the answer (as a
        report deleted or in another state would be).
        """
        with self._lock:
            assert report_ids, "an empty acknowledgement is a wasted export job"
            assert states, "the acknowledgement must name the states it covers"
            self.calls += 1
            fault = self.faults.pop(0) if self.faults else None
            if fault == "refused":
                raise ExpensifyTimeout("file: connect timed out")
            unknown = [i for i in report_ids if i not in self.reports]
            assert not unknown, f"acknowledging unknown reports {unknown}"
            self.acks.append(tuple(report_ids))
            marked = set()
            for rid in report_ids:
                if self.reports[rid].status in states and rid not in self.refuses_marks:
                    self.labels.setdefault(rid, set()).add(label)
                    marked.add(rid)
            if fault == "lost":
                raise ExpensifyTimeout("file: read timed out")
            return frozenset(marked)

    def labelled(self, label: str = "Acumatica") -> set[str]:
        """Report IDs carrying ``label``."""
        return {rid for rid, labels in self.labels.items() if label in labels}
