"""The Expensify side of the bridge: pull reports, read policies, mark reports exported.

:class:`ExpensifySource` adapts :class:`expensify_client.ExpensifyClient` with the
Integration Server's budget (5 calls per 10 s, 20 per 60 s) in mind: a pull is one export
job plus its download polls, a policy read is one getter for every synced policy, and the
acknowledgement of a whole sync is one export job with ``reportIDList`` and the
``markAsExported`` action.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from expensify_client import (
    ExpensifyClient,
    ExportFilters,
    ExportRequest,
    Policy,
    Report,
    ReportState,
    parse_report_export,
)

__all__ = ["ExpensifySource"]


class ExpensifySource:
    """Expensify as the bridge uses it."""

    def __init__(self, client: ExpensifyClient, *, today: date | None = None) -> None:
        self.client = client
        self.today = today

    @property
    def calls(self) -> int:
        """HTTP requests the underlying client has sent."""
        return self.client.calls

    def fetch_reports(
        self,
        *,
        policy_ids: Sequence[str],
        states: Sequence[ReportState],
        approved_after: date | None,
        start_date: date | None,
        end_date: date | None,
        exclude_label: str,
    ) -> list[Report]:
        """One export (no marking) of reports in ``states`` not yet carrying ``exclude_label``."""
        filters = ExportFilters(
            policy_ids=tuple(policy_ids),
            approved_after=approved_after,
            start_date=start_date,
            end_date=end_date,
            marked_as_exported=exclude_label,
        )
        request = ExportRequest(filters=filters, report_states=tuple(states))
        data = self.client.export_and_download(request, today=self.today)
        return parse_report_export(data)

    def fetch_by_ids(
        self, report_ids: Sequence[str], states: Sequence[ReportState]
    ) -> list[Report]:
        """The current content of ``report_ids`` if they are (still) in ``states``."""
        request = ExportRequest(
            filters=ExportFilters(report_ids=tuple(report_ids)), report_states=tuple(states)
        )
        return parse_report_export(self.client.export_and_download(request, today=self.today))

    def get_policies(self, ids: Iterable[str]) -> Mapping[str, Policy]:
        """The synced policies with categories and tags (one getter call)."""
        return self.client.get_policies(tuple(ids), ("categories", "tags", "reportFields"))

    def acknowledge(self, report_ids: Sequence[str], label: str) -> None:
        """Mark ``report_ids`` exported with ``label``: one export job, ``onFinish`` marking."""
        if not report_ids:
            return
        filters = ExportFilters(report_ids=tuple(report_ids))
        request = ExportRequest(filters=filters, mark_as_exported=label)
        self.client.export_files(request, today=self.today)
