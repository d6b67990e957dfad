"""The pure requestJobDescription builders: exact JSON and local validation."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from expensify_client import (
    Category,
    EmployeeRecord,
    ExportFilters,
    ExportRequest,
    InvalidRequestError,
    ReportState,
    Tag,
    TagLevel,
    download_job,
    employee_feed,
    employee_update_job,
    export_job,
    policy_get_job,
    policy_list_job,
    policy_update_job,
    report_status_job,
)

TODAY = date(2025, 6, 15)


class TestExportJob:
    def test_full_job_exact_shape(self):
        """Every key sits where the server reads it: reportState in inputSettings, lists as text."""
        request = ExportRequest(
            filters=ExportFilters(
                report_ids=("R00AAA", "R00BBB"),
                policy_ids=("0123ABCD",),
                start_date=date(2025, 1, 1),
                end_date=date(2025, 1, 31),
                marked_as_exported="acme-gl",
            ),
            report_states=(ReportState.APPROVED, ReportState.REIMBURSED),
            limit=10,
            file_extension="json",
            file_basename="acme",
            mark_as_exported="acme-gl",
        )
        assert export_job(request, today=TODAY) == {
            "type": "file",
            "onReceive": {"immediateResponse": ["returnRandomFileName"]},
            "inputSettings": {
                "type": "combinedReportData",
                "reportState": "APPROVED,REIMBURSED",
                "limit": "10",
                "filters": {
                    "reportIDList": "R00AAA,R00BBB",
                    "policyIDList": "0123ABCD",
                    "startDate": "2025-01-01",
                    "endDate": "2025-01-31",
                    "markedAsExported": "acme-gl",
                },
            },
            "outputSettings": {"fileExtension": "json", "fileBasename": "acme"},
            "test": "false",
            "onFinish": [{"actionName": "markAsExported", "label": "acme-gl"}],
        }

    def test_minimal_job_has_no_optional_keys(self):
        """Without a label, limit or basename the job omits onFinish, limit and fileBasename."""
        job = export_job(
            ExportRequest(filters=ExportFilters(approved_after=date(2025, 6, 1)), test=True),
            today=TODAY,
        )
        assert "onFinish" not in job
        assert "limit" not in job["inputSettings"]
        assert job["outputSettings"] == {"fileExtension": "json"}
        assert job["test"] == "true"
        assert job["inputSettings"]["filters"] == {"approvedAfter": "2025-06-01"}
        assert "credentials" not in job

    def test_job_is_json_serialisable(self):
        """The job round-trips through json (no dates, enums or tuples left in it)."""
        job = export_job(ExportRequest(filters=ExportFilters(report_ids=("R1",))), today=TODAY)
        assert json.loads(json.dumps(job)) == job

    def test_marks_only_when_label_and_not_test(self):
        """An export marks server state only with a label and test off."""
        f = ExportFilters(report_ids=("R1",))
        assert ExportRequest(filters=f, mark_as_exported="x").marks
        assert not ExportRequest(filters=f, mark_as_exported="x", test=True).marks
        assert not ExportRequest(filters=f).marks

    def test_report_states_deduplicated_in_order(self):
        """Repeated states are sent once, in the order given."""
        request = ExportRequest(
            filters=ExportFilters(report_ids=("R1",)),
            report_states=(ReportState.REIMBURSED, ReportState.APPROVED, ReportState.REIMBURSED),
        )
        assert export_job(request, today=TODAY)["inputSettings"]["reportState"] == (
            "REIMBURSED,APPROVED"
        )

    def test_bare_string_report_id_is_one_id(self):
        """A single string passed as report_ids is one ID, not a tuple of characters."""
        assert ExportFilters(report_ids="R00AAA").report_ids == ("R00AAA",)


class TestExportValidation:
    @pytest.mark.parametrize(
        ("filters", "field"),
        [
            (ExportFilters(), "filters"),
            (ExportFilters(policy_ids=("P1",)), "filters"),
            (ExportFilters(report_ids=("R1,R2",)), "filters.reportIDList"),
            (ExportFilters(report_ids=("",)), "filters.reportIDList"),
            (ExportFilters(report_ids=("R1",), policy_ids=("P 1",)), "filters.policyIDList"),
            (ExportFilters(report_ids=("R1",), marked_as_exported=" "), "filters.markedAsExported"),
            (ExportFilters(start_date=date(2024, 1, 1)), "filters.endDate"),
            (ExportFilters(approved_after=date(2024, 6, 14)), "filters.endDate"),
            (
                ExportFilters(start_date=date(2024, 1, 1), end_date=date(2025, 1, 2)),
                "filters.endDate",
            ),
            (
                ExportFilters(start_date=date(2025, 2, 1), end_date=date(2025, 1, 31)),
                "filters.endDate",
            ),
            (
                ExportFilters(approved_after=date(2025, 2, 1), end_date=date(2025, 2, 1)),
                "filters.endDate",
            ),
        ],
    )
    def test_rejected_filters_name_the_field(self, filters, field):
        """Filters the server would reject with 410 raise InvalidRequestError naming the field."""
        with pytest.raises(InvalidRequestError) as info:
            export_job(ExportRequest(filters=filters), today=TODAY)
        assert info.value.field == field
        assert field in str(info.value)
        assert isinstance(info.value, ValueError)

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"report_states": ()}, "inputSettings.reportState"),
            ({"limit": 0}, "inputSettings.limit"),
            ({"file_extension": "docx"}, "outputSettings.fileExtension"),
            ({"file_basename": "a/b"}, "outputSettings.fileBasename"),
            ({"mark_as_exported": ""}, "onFinish.markAsExported.label"),
        ],
    )
    def test_rejected_request_fields(self, changes, field):
        """Invalid request-level values raise InvalidRequestError naming the wire field."""
        request = ExportRequest(filters=ExportFilters(report_ids=("R1",)), **changes)
        with pytest.raises(InvalidRequestError) as info:
            request.validate(today=TODAY)
        assert info.value.field == field

    def test_recent_start_needs_no_end(self):
        """A start date within the last year is valid without an end date."""
        ExportFilters(start_date=TODAY - timedelta(days=364)).validate(today=TODAY)

    def test_exactly_one_year_span_allowed(self):
        """A span of exactly one calendar year is the maximum allowed."""
        ExportFilters(start_date=date(2023, 3, 1), end_date=date(2024, 3, 1)).validate(today=TODAY)

    def test_leap_day_span_uses_shorter_year(self):
        """From 29 Feb the one-year span ends on 28 Feb (the stricter reading)."""
        ok = ExportFilters(start_date=date(2024, 2, 29), end_date=date(2025, 2, 28))
        ok.validate(today=TODAY)
        with pytest.raises(InvalidRequestError):
            ExportFilters(start_date=date(2024, 2, 29), end_date=date(2025, 3, 1)).validate(
                today=TODAY
            )

    @given(
        start=st.dates(min_value=date(2020, 1, 1), max_value=date(2026, 12, 31)),
        span=st.integers(min_value=0, max_value=800),
        with_end=st.booleans(),
        today=st.dates(min_value=date(2021, 1, 1), max_value=date(2027, 12, 31)),
    )
    def test_span_rule_property(self, start, span, with_end, today):
        """Validation accepts exactly the filters whose span and age obey the one-year rule."""
        end = start + timedelta(days=span) if with_end else None
        filters = ExportFilters(start_date=start, end_date=end)
        year_later = _one_year_after(start)
        # Without an end date the anchor may be at most one year old; with one, the span
        # may be at most one year (29 Feb counts its year as ending on 28 Feb).
        expected_ok = year_later >= today if end is None else end <= year_later
        if expected_ok:
            filters.validate(today=today)
        else:
            with pytest.raises(InvalidRequestError) as info:
                filters.validate(today=today)
            assert info.value.field == "filters.endDate"


def _one_year_after(day: date) -> date:
    """Oracle for the tests: the same day a year later, 29 Feb clamped to 28 Feb."""
    if (day.month, day.day) == (2, 29):
        return date(day.year + 1, 2, 28)
    return day.replace(year=day.year + 1)


class TestDownloadJob:
    def test_shape_has_top_level_file_name_and_no_input_settings(self):
        """fileName and fileSystem are top-level; inputSettings is absent (not even empty)."""
        assert download_job("export0fd9-3c.csv") == {
            "type": "download",
            "fileName": "export0fd9-3c.csv",
            "fileSystem": "integrationServer",
        }

    def test_reconciliation_file_system(self):
        """Reconciliation files are fetched from their own file system."""
        assert (
            download_job("is_reconciliation_1.csv", file_system="reconciliation")["fileSystem"]
            == "reconciliation"
        )

    @pytest.mark.parametrize("name", ["", "../etc/passwd", "a b.csv", "x\n.csv"])
    def test_bad_file_names_rejected(self, name):
        """Names that cannot come from the exporter are rejected before sending."""
        with pytest.raises(InvalidRequestError, match="fileName"):
            download_job(name)


class TestGetterJobs:
    def test_policy_list(self):
        """The policy list getter is a get job with inputSettings.type policyList."""
        assert policy_list_job() == {"type": "get", "inputSettings": {"type": "policyList"}}
        assert policy_list_job(admin_only=True)["inputSettings"]["adminOnly"] is True

    def test_policy_get_uses_arrays(self):
        """policyIDList and fields are JSON arrays in the getter (not comma strings)."""
        assert policy_get_job(["P1", "P2", "P1"], ("categories", "tags")) == {
            "type": "get",
            "inputSettings": {
                "type": "policy",
                "policyIDList": ["P1", "P2"],
                "fields": ["categories", "tags"],
            },
        }

    @pytest.mark.parametrize(
        ("ids", "fields", "field"),
        [
            ([], ("tags",), "inputSettings.policyIDList"),
            (["P1"], ("glCodes",), "inputSettings.fields"),
            (["P1"], (), "inputSettings.fields"),
        ],
    )
    def test_policy_get_validation(self, ids, fields, field):
        """Missing IDs, unknown or no sections are rejected naming the field."""
        with pytest.raises(InvalidRequestError) as info:
            policy_get_job(ids, fields)
        assert info.value.field == field


class TestPolicyUpdateJob:
    def test_categories_and_tags_are_top_level(self):
        """categories and tags are siblings of inputSettings, never inside it."""
        job = policy_update_job(
            "P1",
            categories=[
                Category(name="Meals", gl_code="6100", payroll_code="P1"),
                Category(name="Old", enabled=False, max_expense_amount_cents=5000),
            ],
            categories_action="replace",
            tags=[
                TagLevel(
                    name="Project",
                    required=True,
                    tags=(Tag(name="Alpha", gl_code="200"), Tag(name="Beta", enabled=False)),
                )
            ],
        )
        assert job == {
            "type": "update",
            "inputSettings": {"type": "policy", "policyID": "P1"},
            "categories": {
                "action": "replace",
                "data": [
                    {"name": "Meals", "enabled": True, "glCode": "6100", "payrollCode": "P1"},
                    {"name": "Old", "enabled": False, "maxExpenseAmount": 5000},
                ],
            },
            "tags": {
                "source": "inline",
                "data": [
                    {
                        "setRequired": True,
                        "tags": [
                            {"name": "Alpha", "enabled": True, "glCode": "200"},
                            {"name": "Beta", "enabled": False},
                        ],
                    }
                ],
            },
        }

    def test_several_levels_keep_their_names(self):
        """Only a single-level list goes without a name; several levels are named."""
        job = policy_update_job(
            "P1",
            tags=[
                TagLevel(name="Department", tags=(Tag(name="Sales"),)),
                TagLevel(name="Project", tags=(Tag(name="Alpha"),)),
            ],
        )
        assert [level.get("name") for level in job["tags"]["data"]] == ["Department", "Project"]

    def test_unnamed_level_omits_name(self):
        """A level without a name is sent without the optional name key."""
        job = policy_update_job("P1", tags=[TagLevel(name="", tags=(Tag(name="A"),))])
        assert job["tags"]["data"] == [
            {"setRequired": False, "tags": [{"name": "A", "enabled": True}]}
        ]
        assert "categories" not in job

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({}, "categories"),
            (
                {"categories": [Category(name="A")], "categories_action": "upsert"},
                "categories.action",
            ),
            ({"categories": [Category(name="A"), Category(name="A")]}, "categories.data[1].name"),
            ({"categories": [Category(name=" ")]}, "categories.data[0].name"),
            (
                {"tags": [TagLevel(name="L", tags=(Tag(name="x"), Tag(name="x")))]},
                "tags.data[0].tags[1].name",
            ),
        ],
    )
    def test_validation(self, kwargs, field):
        """Empty updates, bad actions, duplicates and blank names are rejected naming the field."""
        with pytest.raises(InvalidRequestError) as info:
            policy_update_job("P1", **kwargs)
        assert info.value.field == field


class TestEmployeeJobs:
    def test_job_flags_are_top_level_with_hyphenated_dry_run(self):
        """dataSource, dry-run (with a hyphen) and the flags sit at the top level."""
        assert employee_update_job(dry_run=True, set_primary_policy="new_employees") == {
            "type": "update",
            "inputSettings": {"type": "employees", "entity": "generic"},
            "dataSource": "request",
            "dry-run": True,
            "setEmployeePrimaryPolicy": "new_employees",
            "shouldFixApprovalChains": True,
            "shouldSkipNotificationEmail": False,
        }

    def test_feed_records(self):
        """Each record becomes the updater's object with its key names; None values are left out."""
        records = [
            EmployeeRecord(
                employee_email="ann@acme.test",
                manager_email="boss@acme.test",
                employee_id="E1",
                policy_id="P1",
                first_name="Ann",
                role="admin",
                approval_limit_cents=100000,
                over_limit_approver="cfo@acme.test",
                additional_policy_ids=("P2",),
            ),
            EmployeeRecord(
                employee_email="bob@acme.test",
                manager_email="ann@acme.test",
                employee_id="E2",
                policy_id="P1",
                is_terminated=True,
            ),
        ]
        assert employee_feed(records) == [
            {
                "employeeEmail": "ann@acme.test",
                "managerEmail": "boss@acme.test",
                "employeeID": "E1",
                "policyID": "P1",
                "firstName": "Ann",
                "role": "admin",
                "approvalLimit": 100000,
                "overLimitApprover": "cfo@acme.test",
                "isTerminated": False,
                "additionalPolicyIDs": ["P2"],
            },
            {
                "employeeEmail": "bob@acme.test",
                "managerEmail": "ann@acme.test",
                "employeeID": "E2",
                "policyID": "P1",
                "isTerminated": True,
            },
        ]

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"employee_email": "not-an-email"}, "employeeEmail"),
            ({"manager_email": "a@b"}, "managerEmail"),
            ({"employee_id": " "}, "employeeID"),
            ({"policy_id": "P,1"}, "policyID"),
            ({"role": "owner"}, "role"),
            ({"approval_limit_cents": 500}, "overLimitApprover"),
            ({"approval_limit_cents": -1, "over_limit_approver": "c@x.test"}, "approvalLimit"),
        ],
    )
    def test_record_validation(self, kwargs, field):
        """Records the updater would skip or reject are refused when built, naming the field."""
        base = {
            "employee_email": "ann@acme.test",
            "manager_email": "boss@acme.test",
            "employee_id": "E1",
            "policy_id": "P1",
        }
        with pytest.raises(InvalidRequestError) as info:
            EmployeeRecord(**{**base, **kwargs})
        assert info.value.field == field

    def test_feed_rejects_duplicates_and_empty(self):
        """A feed with the same email twice (any case) or no record at all is refused."""
        record = EmployeeRecord(
            employee_email="ann@acme.test",
            manager_email="b@acme.test",
            employee_id="1",
            policy_id="P",
        )
        twin = EmployeeRecord(
            employee_email="ANN@acme.test",
            manager_email="b@acme.test",
            employee_id="2",
            policy_id="P",
        )
        with pytest.raises(InvalidRequestError, match=r"data\[1\]"):
            employee_feed([record, twin])
        with pytest.raises(InvalidRequestError, match="empty"):
            employee_feed([])

    def test_unknown_primary_policy_mode(self):
        """An undocumented setEmployeePrimaryPolicy value is refused."""
        with pytest.raises(InvalidRequestError, match="setEmployeePrimaryPolicy"):
            employee_update_job(set_primary_policy="always")  # type: ignore[arg-type]


class TestReportStatusJob:
    def test_shape(self):
        """Status REIMBURSED with the report IDs as a comma string in filters."""
        assert report_status_job(["R1", "R2"]) == {
            "type": "update",
            "inputSettings": {
                "type": "reportStatus",
                "status": "REIMBURSED",
                "filters": {"reportIDList": "R1,R2"},
            },
        }

    def test_needs_ids(self):
        """An empty ID list is refused rather than sent."""
        with pytest.raises(InvalidRequestError):
            report_status_job([])


def _first_seen(values: list[str]) -> tuple[str, ...]:
    """Independent oracle: keep the first occurrence of each value, in order."""
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        if value not in seen:
            seen.add(value)
            out.append(value)
    return tuple(out)


_ID_VALUES = st.lists(st.sampled_from([f"R{i}" for i in range(12)]), max_size=60)


class TestLinearBuilders:
    """ID de-duplication keeps the first-seen order, and scales linearly."""

    @given(_ID_VALUES)
    def test_export_report_ids_keep_order(self, ids: list[str]):
        filters = ExportFilters(report_ids=tuple(ids) or ("R0",))
        wire = filters.to_wire()
        assert wire["reportIDList"].split(",") == list(_first_seen(list(ids) or ["R0"]))

    @given(_ID_VALUES.filter(bool))
    def test_report_status_and_policy_getter_keep_order(self, ids: list[str]):
        status = report_status_job(ids)
        assert status["inputSettings"]["filters"]["reportIDList"].split(",") == list(
            _first_seen(ids)
        )
        getter = policy_get_job(ids, ["categories", "tags", "categories"])
        assert getter["inputSettings"]["policyIDList"] == list(_first_seen(ids))
        assert getter["inputSettings"]["fields"] == ["categories", "tags"]

    def test_a_hundred_thousand_ids(self):
        """200,000 IDs (half repeated) in one job: a quadratic builder would not finish."""
        ids = [f"R{i}" for i in range(100_000)] * 2
        job = report_status_job(ids)
        assert job["inputSettings"]["filters"]["reportIDList"].count(",") == 99_999
        categories = [Category(name=f"C{i}") for i in range(50_000)]
        update = policy_update_job("P1", categories=categories)
        assert len(update["categories"]["data"]) == 50_000
