"""ExpensifyEmulator: report export filters, markAsExported, test mode and downloads."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from expensify_client import (
    ClientOptions,
    Credentials,
    ExpensifyClient,
    ExportFilters,
    ExportRequest,
    FileNotReadyError,
    RateLimiter,
    ReportState,
    RetryPolicy,
    ValidationError,
)
from expensify_client._template import EXPORT_TEMPLATE
from expensify_client.emulator import API_PATH, ExpenseSpec, ExpensifyEmulator, category, employee

URL = "https://integrations.expensify.com" + API_PATH
PID = "aa_ex_example_com"
SECRET = "s3cr3t"
OWNER = "owner@acme.test"
TODAY = date(2025, 3, 1)
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def make(**kwargs: Any) -> ExpensifyEmulator:
    kwargs.setdefault("rate_limits", False)
    emu = ExpensifyEmulator(clock=lambda: NOW, **kwargs)
    emu.add_account(PID, SECRET, email=OWNER)
    emu.add_policy(
        "P1",
        "Acme US",
        owner=OWNER,
        categories=[category("Meals", "6100")],
        employees=[employee("ann@acme.test", submits_to="boss@acme.test")],
    )
    emu.add_policy("P2", "Acme EU", owner=OWNER, output_currency="EUR")
    return emu


def add(
    emu: ExpensifyEmulator,
    *,
    created: str,
    submitted: str | None = None,
    approved: datetime | None = None,
    reimbursed: str | None = None,
    policy: str = "P1",
    name: str = "report",
) -> str:
    rid = emu.add_report(
        policy,
        submitter="ann@acme.test",
        name=name,
        currency="USD",
        expenses=[
            ExpenseSpec(
                amount_cents=1250,
                currency="USD",
                created=date.fromisoformat(created),
                category="Meals",
                merchant="Diner",
            )
        ],
        created=at(created),
    )
    if submitted:
        emu.submit(rid, at(submitted))
    if approved:
        emu.approve(rid, approved)
    if reimbursed:
        emu.reimburse(rid, at(reimbursed))
    return rid


def export_job(
    filters: dict[str, Any],
    *,
    report_state: str | None = "OPEN,SUBMITTED,APPROVED,REIMBURSED,ARCHIVED",
    **top: Any,
) -> dict[str, Any]:
    settings: dict[str, Any] = {"type": "combinedReportData", "filters": filters}
    if report_state is not None:
        settings["reportState"] = report_state
    job: dict[str, Any] = {
        "type": "file",
        "credentials": {"partnerUserID": PID, "partnerUserSecret": SECRET},
        "onReceive": {"immediateResponse": ["returnRandomFileName"]},
        "inputSettings": settings,
        "outputSettings": {"fileExtension": "json"},
    }
    job.update(top)
    return job


def post(emu: ExpensifyEmulator, job: dict[str, Any], **fields: str) -> httpx.Response:
    with httpx.Client(transport=emu.transport()) as http:
        return http.post(URL, data={"requestJobDescription": json.dumps(job), **fields})


def download(
    emu: ExpensifyEmulator, name: str, partner: str = PID, secret: str = SECRET
) -> httpx.Response:
    job = {
        "type": "download",
        "credentials": {"partnerUserID": partner, "partnerUserSecret": secret},
        "fileName": name,
        "fileSystem": "integrationServer",
    }
    return post(emu, job)


def exported(emu: ExpensifyEmulator, filters: dict[str, Any], **kwargs: Any) -> list[str]:
    """The report IDs an export with these filters yields (export, then download)."""
    response = post(emu, export_job(filters, **kwargs), template=EXPORT_TEMPLATE)
    assert response.status_code == 200, response.text
    assert not response.text.startswith("{"), response.text
    content = json.loads(download(emu, response.text).content)
    return [report["reportID"] for report in content["reports"]]


def error(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    return body["responseCode"], body["responseMessage"]


def api(emu: ExpensifyEmulator) -> ExpensifyClient:
    return ExpensifyClient(
        credentials=Credentials(partner_user_id=PID, partner_user_secret=SECRET),
        transport=emu.transport(),
        options=ClientOptions(
            retry=RetryPolicy(attempts=1),
            limits=RateLimiter(windows=((1000, 1.0),)),
            sleep=lambda _: None,
            today=lambda: TODAY,
        ),
    )


class TestExportFilters:
    """Every filter of the export, at its edges."""

    def test_report_id_list(self) -> None:
        emu = make()
        a = add(emu, created="2025-02-01")
        add(emu, created="2025-02-01")
        assert exported(emu, {"reportIDList": f"{a},R0UNKNOWN"}) == [a]

    def test_report_id_list_must_be_a_comma_string(self) -> None:
        emu = make()
        a = add(emu, created="2025-02-01")
        response = post(emu, export_job({"reportIDList": [a]}), template=EXPORT_TEMPLATE)
        assert error(response)[0] == 410

    def test_policy_id_list(self) -> None:
        emu = make()
        add(emu, created="2025-02-01")
        b = add(emu, created="2025-02-01", policy="P2")
        assert exported(emu, {"startDate": "2025-01-01", "policyIDList": "P2"}) == [b]

    def test_start_and_end_are_inclusive_on_the_later_of_created_and_submitted(self) -> None:
        emu = make()
        rid = add(emu, created="2025-01-10", submitted="2025-01-20")
        assert exported(emu, {"startDate": "2025-01-20"}) == [rid]
        assert exported(emu, {"startDate": "2025-01-21"}) == []
        assert exported(emu, {"startDate": "2025-01-01", "endDate": "2025-01-20"}) == [rid]
        # The created date alone is inside, but the reference date (submitted) is not.
        assert exported(emu, {"startDate": "2025-01-01", "endDate": "2025-01-19"}) == []

    def test_approved_after_excludes_the_day_itself(self) -> None:
        emu = make()
        late = datetime(2025, 2, 3, 23, 59, 59, tzinfo=UTC)
        rid = add(emu, created="2025-02-01", submitted="2025-02-02", approved=late)
        add(emu, created="2025-02-01", submitted="2025-02-02")  # never approved
        assert exported(emu, {"approvedAfter": "2025-02-03"}) == []
        assert exported(emu, {"approvedAfter": "2025-02-02"}) == [rid]

    def test_marked_as_exported_is_per_label(self) -> None:
        emu = make()
        a = add(emu, created="2025-02-01")
        b = add(emu, created="2025-02-02")
        emu.mark_exported(a, "acme-gl")
        assert exported(emu, {"startDate": "2025-01-01", "markedAsExported": "acme-gl"}) == [b]
        assert exported(emu, {"startDate": "2025-01-01", "markedAsExported": "acme-ap"}) == [a, b]

    def test_report_state(self) -> None:
        emu = make()
        opened = add(emu, created="2025-02-01")
        approved = add(emu, created="2025-02-01", submitted="2025-02-02", approved=at("2025-02-03"))
        paid = add(
            emu,
            created="2025-02-01",
            submitted="2025-02-02",
            approved=at("2025-02-03"),
            reimbursed="2025-02-04",
        )
        start = {"startDate": "2025-01-01"}
        assert exported(emu, start, report_state="APPROVED") == [approved]
        assert exported(emu, start, report_state="APPROVED,REIMBURSED") == [approved, paid]
        assert opened in exported(emu, start, report_state=None)
        bad = post(emu, export_job(start, report_state="Approved"), template=EXPORT_TEMPLATE)
        assert error(bad) == (410, "Invalid reportState 'Approved'")

    def test_report_state_inside_filters_is_rejected(self) -> None:
        emu = make()
        job = export_job({"startDate": "2025-01-01", "reportState": "APPROVED"})
        assert error(post(emu, job, template=EXPORT_TEMPLATE)) == (
            410,
            "Unknown parameter 'reportState' in 'filters'",
        )

    def test_at_least_one_anchor_filter(self) -> None:
        emu = make()
        only_state = post(emu, export_job({"policyIDList": "P1"}), template=EXPORT_TEMPLATE)
        assert error(only_state) == (
            410,
            "Required parameter 'reportIDList', 'startDate' or 'approvedAfter' is missing",
        )
        job = export_job({})
        del job["inputSettings"]["filters"]
        assert error(post(emu, job, template=EXPORT_TEMPLATE)) == (
            410,
            "Required parameter 'filters' is missing",
        )

    @pytest.mark.parametrize(
        ("filters", "ok"),
        [
            ({"startDate": "2024-03-01"}, True),  # exactly one year: no endDate needed
            ({"startDate": "2024-02-29"}, False),  # more than a year, no endDate
            ({"startDate": "2024-02-29", "endDate": "2025-02-28"}, True),
            ({"startDate": "2024-01-10", "endDate": "2025-01-11"}, False),  # span > 1 year
            ({"approvedAfter": "2023-12-31"}, False),
            ({"approvedAfter": "2024-01-01", "endDate": "2024-12-31"}, True),
        ],
    )
    def test_one_year_rule(self, filters: dict[str, str], ok: bool) -> None:
        emu = make()
        response = post(emu, export_job(filters), template=EXPORT_TEMPLATE)
        if ok:
            assert response.text.startswith("export")
        else:
            code, message = error(response)
            assert code == 410
            assert "year" in message

    def test_malformed_date(self) -> None:
        response = post(make(), export_job({"startDate": "25-01-01"}), template=EXPORT_TEMPLATE)
        assert error(response) == (410, "Malformed date '25-01-01'. Expected format is yyyy-MM-dd")

    def test_limit_keeps_the_oldest_and_must_be_a_string(self) -> None:
        emu = make()
        ids = [add(emu, created=f"2025-02-0{d}") for d in (3, 1, 2)]
        assert exported(emu, {"startDate": "2025-01-01"}, report_state="OPEN") == [
            ids[1],
            ids[2],
            ids[0],
        ]
        job = export_job({"startDate": "2025-01-01"})
        job["inputSettings"]["limit"] = "2"
        body = post(emu, job, template=EXPORT_TEMPLATE).text
        content = json.loads(download(emu, body).content)
        assert [r["reportID"] for r in content["reports"]] == [ids[1], ids[2]]
        job["inputSettings"]["limit"] = 2
        assert error(post(emu, job, template=EXPORT_TEMPLATE))[0] == 410

    def test_other_logins_reports_are_invisible(self) -> None:
        emu = make()
        emu.add_policy("X", "Foreign", owner="z@else.test")
        rid = emu.add_report(
            "X",
            submitter="z@else.test",
            name="x",
            currency="USD",
            expenses=[],
            created=at("2025-02-01"),
        )
        assert exported(emu, {"reportIDList": rid}) == []

    @given(
        created=st.integers(0, 60),
        submit_after=st.none() | st.integers(0, 30),
        start=st.integers(0, 90),
        length=st.none() | st.integers(0, 60),
    )
    def test_date_window_property(
        self, created: int, submit_after: int | None, start: int, length: int | None
    ) -> None:
        """The startDate/endDate window keeps exactly the reports whose reference day fits."""
        base = date(2025, 1, 1)
        emu = make()
        created_day = base + timedelta(days=created)
        submitted_day = None if submit_after is None else created_day + timedelta(days=submit_after)
        rid = add(
            emu,
            created=created_day.isoformat(),
            submitted=None if submitted_day is None else submitted_day.isoformat(),
        )
        start_day = base + timedelta(days=start)
        filters = {"startDate": start_day.isoformat()}
        end_day = None if length is None else start_day + timedelta(days=length)
        if end_day is not None:
            filters["endDate"] = end_day.isoformat()
        reference = submitted_day or created_day
        expected = start_day <= reference and (end_day is None or reference <= end_day)
        assert exported(emu, filters) == ([rid] if expected else [])


class TestMarkAsExported:
    """The label is applied at the END of the job, never in test mode or on failure."""

    def test_label_applies_after_the_file_is_built(self) -> None:
        emu = make()
        rid = add(emu, created="2025-02-01", submitted="2025-02-02", approved=at("2025-02-03"))
        label = [{"actionName": "markAsExported", "label": "acme-gl"}]
        filters = {"startDate": "2025-01-01", "markedAsExported": "acme-gl"}
        # The report is in the file of the job that marks it ...
        assert exported(emu, filters, onFinish=label) == [rid]
        assert emu.exported_labels(rid) == {"acme-gl"}
        # ... and excluded from every later job filtering on that label.
        assert exported(emu, filters, onFinish=label) == []
        assert emu.report(rid)["exportedLabels"] == ["acme-gl"]

    def test_marked_even_if_never_downloaded(self) -> None:
        emu = make()
        rid = add(emu, created="2025-02-01")
        job = export_job(
            {"reportIDList": rid}, onFinish=[{"actionName": "markAsExported", "label": "x"}]
        )
        assert post(emu, job, template=EXPORT_TEMPLATE).status_code == 200
        assert emu.exported_labels(rid) == {"x"}

    def test_test_mode_does_not_mark(self) -> None:
        emu = make()
        rid = add(emu, created="2025-02-01")
        onfinish = [{"actionName": "markAsExported", "label": "acme-gl"}]
        assert exported(emu, {"reportIDList": rid}, onFinish=onfinish, test="true") == [rid]
        assert emu.exported_labels(rid) == frozenset()

    def test_test_must_be_a_string(self) -> None:
        emu = make()
        rid = add(emu, created="2025-02-01")
        onfinish = [{"actionName": "markAsExported", "label": "acme-gl"}]
        job = export_job({"reportIDList": rid}, onFinish=onfinish, test=True)
        assert error(post(emu, job, template=EXPORT_TEMPLATE)) == (
            410,
            "Argument 'test' is missing or malformed",
        )
        assert emu.exported_labels(rid) == frozenset()

    def test_unsupported_template_fails_without_marking(self) -> None:
        # renderer="python": the rendition knows only the project's template.
        emu = make(renderer="python")
        rid = add(emu, created="2025-02-01")
        job = export_job(
            {"reportIDList": rid}, onFinish=[{"actionName": "markAsExported", "label": "x"}]
        )
        response = post(emu, job, template="<#list reports as r>${r.reportID}</#list>")
        code, message = error(response)
        assert code == 410
        assert message.startswith("Unsupported template")
        assert emu.exported_labels(rid) == frozenset()
        assert emu.files() == {}

    def test_template_must_be_a_form_field(self) -> None:
        emu = make()
        rid = add(emu, created="2025-02-01")
        assert error(post(emu, export_job({"reportIDList": rid}))) == (410, "No Template Submitted")
        nested = export_job({"reportIDList": rid}, template=EXPORT_TEMPLATE)
        assert error(post(emu, nested))[0] == 410

    def test_client_export_with_mark(self) -> None:
        emu = make()
        rid = add(emu, created="2025-02-01", submitted="2025-02-02", approved=at("2025-02-03"))
        request = ExportRequest(
            filters=ExportFilters(start_date=date(2025, 1, 1), marked_as_exported="acme-gl"),
            report_states=(ReportState.APPROVED,),
            mark_as_exported="acme-gl",
            file_basename="acme",
        )
        with api(emu) as client:
            content = client.export_and_download(request, EXPORT_TEMPLATE)
        report = json.loads(content)["reports"][0]
        assert report["reportID"] == rid
        assert report["total"] == 1250
        assert report["transactionList"][0]["categoryGlCode"] == "6100"
        assert report["managerEmail"] == "boss@acme.test"
        assert emu.exported_labels(rid) == {"acme-gl"}
        assert next(iter(emu.files())).startswith("acme")

    def test_missing_on_receive_is_a_bare_500(self) -> None:
        emu = make()
        job = export_job({"startDate": "2025-01-01"})
        del job["onReceive"]
        response = post(emu, job, template=EXPORT_TEMPLATE)
        assert response.status_code == 500
        assert "responseCode" not in response.text

    @pytest.mark.parametrize("extension", ["xls", "docx"])  # pdf: one file per report
    def test_unrendered_extensions(self, extension: str) -> None:
        job = export_job({"startDate": "2025-01-01"})
        job["outputSettings"] = {"fileExtension": extension}
        assert error(post(make(), job, template=EXPORT_TEMPLATE))[0] == 410


class TestDownloads:
    """Not-ready answers, then the file; unknown files answer 'File not found'."""

    def test_not_ready_polls_then_file(self) -> None:
        emu = make(download_not_ready_polls=2)
        rid = add(emu, created="2025-02-01")
        name = post(emu, export_job({"reportIDList": rid}), template=EXPORT_TEMPLATE).text
        first, second, third = (download(emu, name) for _ in range(3))
        assert (first.status_code, first.content) == (200, b"")
        assert second.content == b""
        assert json.loads(third.content)["reports"][0]["reportID"] == rid

    def test_client_polls_until_ready(self) -> None:
        emu = make(download_not_ready_polls=2)
        rid = add(emu, created="2025-02-01")
        request = ExportRequest(
            filters=ExportFilters(report_ids=(rid,)), report_states=(ReportState.OPEN,)
        )
        with api(emu) as client:
            name = client.export_reports(request, EXPORT_TEMPLATE)
            with pytest.raises(FileNotReadyError):
                client.download(name, max_polls=2)
            assert json.loads(client.download(name, max_polls=3))["reports"][0]["reportID"] == rid
        jobs = [entry.job for entry in emu.request_log]
        assert jobs == ["file/combinedReportData"] + ["download"] * 3

    def test_unknown_file(self) -> None:
        response = download(make(), "export00000000-0000-4000-8000-000000000000.json")
        assert response.status_code == 200
        assert response.json() == {"responseMessage": "File not found"}

    def test_other_accounts_file_is_not_found(self) -> None:
        emu = make()
        emu.add_account("aa_other", "other", email="other@else.test")
        rid = add(emu, created="2025-02-01")
        name = post(emu, export_job({"reportIDList": rid}), template=EXPORT_TEMPLATE).text
        assert download(emu, name, partner="aa_other", secret="other").json() == {
            "responseMessage": "File not found"
        }

    def test_download_rejects_input_settings(self) -> None:
        job = {
            "type": "download",
            "credentials": {"partnerUserID": PID, "partnerUserSecret": SECRET},
            "fileName": "x.json",
            "inputSettings": {},
        }
        assert error(post(make(), job))[0] == 410

    def test_client_maps_missing_file_name(self) -> None:
        job = {
            "type": "download",
            "credentials": {"partnerUserID": PID, "partnerUserSecret": SECRET},
        }
        assert error(post(make(), job)) == (410, "Required parameter 'fileName' is missing")
        with pytest.raises(ValidationError):
            raise_for(post(make(), job))


def raise_for(response: httpx.Response) -> None:
    from expensify_client._envelope import check_envelope

    check_envelope(response, job="download")
