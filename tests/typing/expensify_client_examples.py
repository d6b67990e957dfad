"""Typed usage examples of expensify_client: checked by mypy, never executed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import httpx

from expensify_client import (
    APIStatusError,
    Category,
    ClientOptions,
    Credentials,
    EmployeeRecord,
    EmployeeUpdateResult,
    ExpensifyClient,
    ExpensifyError,
    ExportFilters,
    ExportParseError,
    ExportRequest,
    FileNotFoundOnServerError,
    Policy,
    PolicyNotFoundError,
    PolicySummary,
    RateLimiter,
    Report,
    ReportProblem,
    ReportState,
    ReportStatusResult,
    RetryPolicy,
    Tag,
    TagLevel,
    UnparsedReport,
    export_job,
    iter_report_export,
    parse_report_export,
)


def examples(transport: httpx.BaseTransport) -> None:
    creds: Credentials = Credentials.from_env()
    limiter = RateLimiter()
    options = ClientOptions(timeout=30.0, retry=RetryPolicy(attempts=4), limits=limiter)
    with ExpensifyClient(credentials=creds, transport=transport, options=options) as client:
        request = ExportRequest(
            filters=ExportFilters(approved_after=date(2025, 1, 1), marked_as_exported="gl"),
            report_states=(ReportState.APPROVED,),
            mark_as_exported="gl",
        )
        job: dict[str, object] = export_job(request, today=date(2025, 6, 1))
        name: str = client.export_reports(request, "<#list reports as r>${r.reportID}</#list>")
        names: tuple[str, ...] = client.export_files(request, "${1}")
        content: bytes = client.download(name, max_polls=3, poll_interval=1.0)
        both: bytes = client.export_and_download(request, "x", today=date(2025, 6, 1))
        summaries: tuple[PolicySummary, ...] = client.get_policy_list(admin_only=True)
        policies: dict[str, Policy] = client.get_policies(["P1"], fields=("categories",))
        client.update_policy(
            "P1",
            categories=[Category(name="Meals", gl_code="6100")],
            categories_action="replace",
            tags=[TagLevel(name="Dept", tags=(Tag(name="Sales"),))],
        )
        result: EmployeeUpdateResult = client.update_employees(
            [
                EmployeeRecord(
                    employee_email="a@x.test",
                    manager_email="b@x.test",
                    employee_id="1",
                    policy_id="P1",
                )
            ],
            dry_run=True,
            set_primary_policy="new_employees",
        )
        status: ReportStatusResult = client.mark_reimbursed(["R1"])
        for skipped in status.skipped:
            report_id: str = skipped.report_id
        fast: ExpensifyClient = client.with_options(timeout=5.0)
        try:
            fast.get_policy_list()
        except APIStatusError as exc:
            code: int = exc.response_code
        except ExpensifyError as exc:
            retry: bool = exc.retryable
    del job, names, content, both, summaries, policies, result, report_id, code, retry


def export_examples(data: bytes, chunks: Iterator[bytes]) -> None:
    """Streaming export parsing: a Report (maybe with soft problems) or an UnparsedReport."""
    for item in iter_report_export(chunks):
        if isinstance(item, UnparsedReport):
            rid: str | None = item.report_id
            for problem in item.problems:
                where: str = problem.field
                what: str = problem.message
                shown: str = problem.value_repr
        else:
            report: Report = item
            state: ReportState | None = report.status
            raw_status: str | None = report.status_text
            soft: tuple[ReportProblem, ...] = report.problems
            codes: list[str | None] = [e.category_gl_code for e in report.expenses]
    try:
        reports: list[Report] = parse_report_export(data)
    except ExportParseError as exc:
        bad: tuple[UnparsedReport, ...] = exc.unparsed
    limiter = RateLimiter(margin=2.0)
    margin: float = limiter.margin
    server: tuple[tuple[int, float], ...] = limiter.server_windows
    try:
        pass
    except PolicyNotFoundError as exc:
        ids: tuple[str, ...] = exc.policy_ids
    except FileNotFoundOnServerError as exc:
        name: str = exc.file_name
    del rid, where, what, shown, report, state, raw_status, soft, codes, reports, bad
    del margin, server, ids, name
