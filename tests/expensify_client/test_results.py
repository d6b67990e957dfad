"""Parsing getter and updater answers into typed results."""

from __future__ import annotations

import pytest

from expensify_client import (
    Category,
    Employee,
    NotFoundError,
    PolicyNotFoundError,
    ReportField,
    ResponseValidationError,
    Tag,
    TagLevel,
)
from expensify_client._results import (
    parse_employee_update,
    parse_policies,
    parse_policy_list,
    parse_report_status,
)


class TestParsePolicies:
    def test_flat_tags_kept_whole_in_unnamed_level(self):
        """Flat tags with ':' names stay whole, in one unnamed level, so they match expense tags."""
        body = {
            "responseCode": 200,
            "policyInfo": {
                "P1": {
                    "tags": [
                        {"name": "Dept:Sales", "enabled": True, "glCode": "200"},
                        {"name": "Enterprise:Jean-Luc Picard", "enabled": False},
                    ]
                }
            },
        }
        policy = parse_policies(body, ("P1",))["P1"]
        assert policy.tag_levels == (
            TagLevel(
                name="",
                tags=(
                    Tag(name="Dept:Sales", gl_code="200"),
                    Tag(name="Enterprise:Jean-Luc Picard", enabled=False),
                ),
            ),
        )

    def test_level_list_tags(self):
        """A level list becomes one TagLevel per level, with its tags and required flag."""
        body = {
            "policyInfo": {
                "P1": {
                    "tags": [
                        {
                            "name": "Department",
                            "required": True,
                            "tags": [{"name": "Sales", "glCode": "S1"}],
                        },
                        {"name": "Project", "tags": [{"name": "Alpha", "enabled": False}]},
                    ]
                }
            }
        }
        levels = parse_policies(body, ("P1",))["P1"].tag_levels
        assert levels == (
            TagLevel(name="Department", required=True, tags=(Tag(name="Sales", gl_code="S1"),)),
            TagLevel(name="Project", tags=(Tag(name="Alpha", enabled=False),)),
        )

    def test_all_sections(self):
        """Categories (with optional GL codes), report fields and employees are parsed."""
        body = {
            "policyInfo": {
                "P1": {
                    "categories": [
                        {
                            "name": "Meals",
                            "enabled": True,
                            "glCode": "6100",
                            "areCommentsRequired": False,
                        },
                        {"name": "Travel", "enabled": False},
                    ],
                    "reportFields": [
                        {"name": "title", "type": "formula", "values": []},
                        {
                            "name": "Dept",
                            "type": "dropdown",
                            "values": ["A", {"name": "B"}, {"value": "C"}],
                        },
                    ],
                    "employees": [
                        {
                            "email": "a@x.test",
                            "role": "admin",
                            "submitsTo": "b@x.test",
                            "employeeID": 7,
                        }
                    ],
                    "tax": {},
                }
            }
        }
        policy = parse_policies(body, ("P1",))["P1"]
        assert policy.categories == (
            Category(name="Meals", gl_code="6100", are_comments_required=False),
            Category(name="Travel", enabled=False),
        )
        assert policy.report_fields[1] == ReportField(
            name="Dept", type="dropdown", values=("A", "B", "C")
        )
        assert policy.employees == (
            Employee(email="a@x.test", role="admin", submits_to="b@x.test", employee_id="7"),
        )
        assert policy.tag_levels == ()

    def test_missing_requested_policy(self):
        """A requested policy absent from policyInfo is an error naming it, not an omission."""
        with pytest.raises(PolicyNotFoundError, match="P2") as info:
            parse_policies({"policyInfo": {"P1": {}}}, ("P1", "P2"))
        assert info.value.policy_ids == ("P2",)
        assert isinstance(info.value, NotFoundError)

    @pytest.mark.parametrize(
        ("info", "field"),
        [
            ({"P1": {"categories": [{"enabled": True}]}}, "policyInfo.P1.categories[0].name"),
            (
                {"P1": {"categories": [{"name": "A", "enabled": "yes"}]}},
                "policyInfo.P1.categories[0].enabled",
            ),
            ({"P1": {"tags": [{"name": "L", "tags": "x"}]}}, "policyInfo.P1.tags[0].tags"),
            ({"P1": []}, "policyInfo.P1"),
        ],
    )
    def test_errors_name_field(self, info, field):
        """Malformed sections raise ResponseValidationError naming the field path."""
        with pytest.raises(ResponseValidationError) as exc:
            parse_policies({"policyInfo": info}, ("P1",))
        assert exc.value.field == field
        assert exc.value.job == "get/policy"


class TestParsePolicyList:
    def test_missing_field(self):
        """A policy summary without outputCurrency is reported with its index."""
        body = {
            "policyList": [{"id": "P", "name": "n", "type": "team", "role": "user", "owner": "o"}]
        }
        with pytest.raises(ResponseValidationError, match=r"policyList\[0\]\.outputCurrency"):
            parse_policy_list(body)

    def test_no_list(self):
        """A body without policyList is a contract error."""
        with pytest.raises(ResponseValidationError):
            parse_policy_list({"responseCode": 200})


class TestParseReportStatus:
    def test_all_reimbursed(self):
        """A plain 200 with reportIDs only is complete."""
        result = parse_report_status({"responseCode": 200, "reportIDs": ["R1", "R2"]})
        assert result.reimbursed == ("R1", "R2")
        assert result.complete

    def test_live_shape_all_skipped(self):
        """A 200 whose only list is skippedReports (live behaviour) is not complete."""
        result = parse_report_status(
            {
                "responseCode": 200,
                "reportIDs": [],
                "skippedReports": [{"reportID": "R1", "reason": "x"}],
            }
        )
        assert result.reimbursed == ()
        assert [s.report_id for s in result.skipped] == ["R1"]
        assert not result.complete


class TestParseEmployeeUpdate:
    def test_full(self):
        """Counts, diffs, security groups and skips are read; maps are read-only."""
        result = parse_employee_update(
            {
                "responseCode": 200,
                "dry-run": False,
                "updatedEmployeesCount": 2,
                "diff": {"diffToAdd": {"P1": ["a@x.test"]}, "diffToRemove": {"P2": ["b@x.test"]}},
                "securityGroupEmployeesMap": {"G1": ["a@x.test"]},
                "skippedEmployees": [
                    {"email": "c@x.test", "reason": "No policy found for 'Marketing'"}
                ],
            }
        )
        assert result.updated_count == 2
        assert result.diff_to_remove == {"P2": ("b@x.test",)}
        assert result.security_groups == {"G1": ("a@x.test",)}
        assert result.skipped[0].email == "c@x.test"
        assert result.skipped[0] == ("c@x.test", "No policy found for 'Marketing'")
        with pytest.raises(TypeError):
            result.diff_to_add["P9"] = ()  # type: ignore[index]

    def test_missing_count(self):
        """An answer without updatedEmployeesCount is a contract error."""
        with pytest.raises(ResponseValidationError, match="updatedEmployeesCount"):
            parse_employee_update({"responseCode": 200})
