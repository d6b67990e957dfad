"""The two ports of the bridge: what ``sync``/``post_report`` need from each side.

The orchestration (:mod:`._posting`, :mod:`._sync`, :mod:`._replay`) is written against
these protocols only; :mod:`._adapters` implements them over the real clients
(:class:`~expense_bridge._adapters.AcumaticaLedger`,
:class:`~expense_bridge._adapters.ExpensifySource`) and the tests over strict in-memory
fakes. Each method states its call budget, which the sync's budget rests on:

* :class:`Ledger` -- ``load_catalog`` once per sync; ``find_documents`` one query per page
  of keys and document kind (archived documents included, exact keys confirmed);
  ``fetch`` one read, only for a document found by key before it is adopted; ``create``
  exactly one write, never retried after a lost answer (the next look-up resolves it);
  ``release`` one action.
* :class:`ExpenseSource` -- ``fetch_reports`` one export job plus download polls, never
  marking; ``get_policies`` one getter; ``acknowledge`` one export job whose ``onFinish``
  marks the listed reports exported with the label, and the download of its file (the
  reports it lists are the ones marked).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import Protocol, runtime_checkable

import attrs

from acumatica_client import Bill, ExpenseClaim, JournalTransaction
from expensify_client import Policy, Report, ReportState, UnparsedReport

from ._catalog import LedgerCatalog
from ._keys import DocumentKind
from .mapping import PlannedDocument

__all__ = ["ExpenseSource", "Ledger", "LedgerDocument"]


@attrs.frozen(kw_only=True)
class LedgerDocument:
    """A document found in (or created in) the ledger for a key."""

    key: str
    kind: DocumentKind
    number: str  # "Bill 000123" / "GL 000045" / "Claim 000007"
    status: str | None = None


@runtime_checkable
class Ledger(Protocol):
    """The ERP side (Acumatica): reference data, existence look-ups, creates, release."""

    @property
    def calls(self) -> int:
        """Requests sent so far (for the run's call counts)."""
        ...

    def check(self) -> None:
        """Preflight: the pinned endpoint version is served (raises otherwise)."""
        ...

    def load_catalog(self) -> LedgerCatalog:
        """The reference-data snapshot the mapping checks against."""
        ...

    def find_documents(
        self, keys: Sequence[tuple[DocumentKind, str]]
    ) -> Mapping[str, LedgerDocument]:
        """Existing documents for ``keys`` (by key); one query per page of keys and kind."""
        ...

    def fetch(self, document: LedgerDocument) -> Bill | JournalTransaction | ExpenseClaim:
        """The document as saved, with its lines (one read); archived documents too."""
        ...

    def create(
        self, planned: PlannedDocument, *, on_body: Callable[[bytes], object] | None = None
    ) -> LedgerDocument:
        """Exactly one write; the saved document. A lost answer raises a connection error.

        ``on_body``, when the ledger has a request body, is called once with its exact
        bytes before they are sent (the audit digest hashes what was sent).
        """
        ...

    def release(self, document: LedgerDocument) -> None:
        """Release a created document."""
        ...


@runtime_checkable
class ExpenseSource(Protocol):
    """The expense side (Expensify): pull reports, read policies, mark reports exported."""

    @property
    def calls(self) -> int:
        """Requests sent so far (for the run's call counts)."""
        ...

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
        """One export (no marking) of reports in ``states`` not carrying ``exclude_label``.

        A report the export carries but that cannot be built is an ``UnparsedReport``.

        ``approved_after`` keeps reports approved strictly after that day; ``start_date`` /
        ``end_date`` bound the later of created/submitted, inclusive.
        """
        ...

    def fetch_by_ids(
        self, report_ids: Sequence[str], states: Sequence[ReportState]
    ) -> list[Report | UnparsedReport]:
        """The current content of ``report_ids`` that are (still) in ``states``."""
        ...

    def get_policies(self, ids: Iterable[str]) -> Mapping[str, Policy]:
        """The policies with categories and tags (one getter call)."""
        ...

    def acknowledge(
        self, report_ids: Sequence[str], label: str, states: Sequence[ReportState]
    ) -> frozenset[str]:
        """Mark ``report_ids`` (in any of ``states``) exported with ``label``.

        Returns the IDs Expensify confirms it marked (the job's own answer); only those
        are recorded as acknowledged. One export job plus its download; none when empty.
        """
        ...
