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
    UnparsedReport,
    export_template,
    iter_report_export,
)
from expensify_client._export import report_ids as ids_in_export

#: Every state a posted report can be found in (re-opened, approved, reimbursed, closed):
#: the acknowledgement and the re-read of carried-over reports ask for all of them.
ALL_STATES: tuple[ReportState, ...] = tuple(ReportState)

__all__ = ["ALL_STATES", "ExpensifySource"]


class ExpensifySource:
    """Expensify as the bridge uses it."""

    def __init__(
        self,
        client: ExpensifyClient,
        *,
        today: date | None = None,
        report_fields: Sequence[str] = (),
    ) -> None:
        self.client = client
        self.today = today
        #: The export template: the packaged one, also reading ``report_fields`` (by name).
        self.template = export_template(report_fields)

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
    ) -> list[Report | UnparsedReport]:
        """One export (no marking) of reports in ``states`` not yet carrying ``exclude_label``.

        Read report by report: one that cannot be built comes back as an
        :class:`~expensify_client.UnparsedReport` naming its problems; the others are
        unaffected.
        """
        filters = ExportFilters(
            policy_ids=tuple(policy_ids),
            approved_after=approved_after,
            start_date=start_date,
            end_date=end_date,
            marked_as_exported=exclude_label,
        )
        request = ExportRequest(filters=filters, report_states=tuple(states))
        data = self.client.export_and_download(request, self.template, today=self.today)
        return list(iter_report_export(data))

    def fetch_by_ids(
        self, report_ids: Sequence[str], states: Sequence[ReportState]
    ) -> list[Report | UnparsedReport]:
        """The current content of ``report_ids`` if they are (still) in ``states``."""
        request = ExportRequest(
            filters=ExportFilters(report_ids=tuple(report_ids)), report_states=tuple(states)
        )
        data = self.client.export_and_download(request, self.template, today=self.today)
        return list(iter_report_export(data))

    def get_policies(self, ids: Iterable[str]) -> Mapping[str, Policy]:
        """The synced policies with categories and tags (one getter call)."""
        return self.client.get_policies(tuple(ids), ("categories", "tags", "reportFields"))

    def acknowledge(
        self, report_ids: Sequence[str], label: str, states: Sequence[ReportState] = ALL_STATES
    ) -> frozenset[str]:
        """Mark ``report_ids`` exported with ``label``; the IDs confirmed to carry it.

        One export job (``reportIDList``, every state in ``states``, ``onFinish``
        ``markAsExported``) and the download of its file: the reports in that file are
        the ones the job exported. Expensify can export a report without the mark taking
        effect, and its answer does not say so, so the label is then verified by a
        second read (an export without marking, of the same IDs, filtered on
        ``markedAsExported``: a report still returned does not carry the label). Only
        reports exported by the job and absent from that read are confirmed; a report
        missing from the job's file (deleted, in another state) is not confirmed either.
        """
        if not report_ids:
            return frozenset()
        wanted = tuple(dict.fromkeys(report_ids))
        request = ExportRequest(
            filters=ExportFilters(report_ids=wanted),
            report_states=tuple(states),
            mark_as_exported=label,
        )
        names = self.client.export_files(request, self.template, today=self.today)
        exported: set[str] = set()
        for name in names[:1]:  # only the IDs are needed: the reports are not built
            exported.update(ids_in_export(self.client.download(name)))
        exported &= set(wanted)
        if not exported:
            return frozenset()
        check = ExportRequest(
            filters=ExportFilters(report_ids=tuple(sorted(exported)), marked_as_exported=label),
            report_states=tuple(states),
        )
        unmarked = set(
            ids_in_export(self.client.export_and_download(check, self.template, today=self.today))
        )
        return frozenset(exported - unmarked)
