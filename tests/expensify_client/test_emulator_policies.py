"""ExpensifyEmulator: policy getters and updaters, the employee updater, report status."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import attrs
import httpx
import pytest

from expensify_client import (
    Category,
    ClientOptions,
    Credentials,
    EmployeeRecord,
    ExpensifyClient,
    NotFoundError,
    RateLimiter,
    RetryPolicy,
    Tag,
    TagLevel,
    ValidationError,
)
from expensify_client.emulator import (
    API_PATH,
    EmulatorStateError,
    ExpenseSpec,
    ExpensifyEmulator,
    category,
    employee,
    tag_level,
)

URL = "https://integrations.expensify.com" + API_PATH
PID = "aa_ex_example_com"
SECRET = "s3cr3t"
OWNER = "owner@acme.test"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def make() -> ExpensifyEmulator:
    emu = ExpensifyEmulator(clock=lambda: NOW, rate_limits=False)
    emu.add_account(PID, SECRET, email=OWNER)
    emu.add_policy(
        "P1",
        "Acme US",
        owner=OWNER,
        categories=[category("Meals", "6100"), category("Travel", "6200")],
        tag_levels=[tag_level("Dept", {"Sales": "200", "Ops": "300"})],
        employees=[
            employee("boss@acme.test", role="admin", submits_to=OWNER),
            employee("ann@acme.test", submits_to="boss@acme.test", employee_id="E1"),
        ],
    )
    emu.add_policy("P2", "Acme EU", owner=OWNER, output_currency="EUR")
    emu.add_policy("OTHER", "Not ours", owner="someone@else.test")
    return emu


def api(emu: ExpensifyEmulator) -> ExpensifyClient:
    return ExpensifyClient(
        credentials=Credentials(partner_user_id=PID, partner_user_secret=SECRET),
        transport=emu.transport(),
        options=ClientOptions(
            retry=RetryPolicy(attempts=1),
            limits=RateLimiter(windows=((1000, 1.0),)),
            sleep=lambda _: None,
        ),
    )


def post(emu: ExpensifyEmulator, body: dict[str, Any], **fields: str) -> dict[str, Any]:
    full = {
        "type": body.pop("type"),
        "credentials": {"partnerUserID": PID, "partnerUserSecret": SECRET},
        **body,
    }
    with httpx.Client(transport=emu.transport()) as http:
        response = http.post(URL, data={"requestJobDescription": json.dumps(full), **fields})
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["name"] for item in items]


class TestPolicyGetters:
    """policyList and policy answer what the login can see, per requested field."""

    def test_policy_list_roles_and_admin_only(self) -> None:
        emu = make()
        emu.add_policy(
            "P3", "Member only", owner="x@else.test", employees=[employee(OWNER, role="user")]
        )
        listed = {p.policy_id: p.role for p in api(emu).get_policy_list()}
        assert listed == {"P1": "admin", "P2": "admin", "P3": "user"}
        assert {p.policy_id for p in api(emu).get_policy_list(admin_only=True)} == {"P1", "P2"}

    def test_only_requested_sections(self) -> None:
        body = post(
            make(),
            {
                "type": "get",
                "inputSettings": {"type": "policy", "policyIDList": ["P1"], "fields": ["tags"]},
            },
        )
        assert set(body["policyInfo"]["P1"]) == {"tags"}
        level = body["policyInfo"]["P1"]["tags"][0]
        assert level["name"] == "Dept"
        assert level["tags"][0] == {"name": "Sales", "enabled": True, "glCode": "200"}

    def test_client_reads_every_section(self) -> None:
        emu = make()
        emu.options = attrs.evolve(emu.options, category_gl_codes=True, forward_keys="updater")
        policy = api(emu).get_policies(["P1"])["P1"]
        assert [(c.name, c.gl_code) for c in policy.categories] == [
            ("Meals", "6100"),
            ("Travel", "6200"),
        ]
        assert policy.tag_levels[0].tags[1] == Tag(name="Ops", gl_code="300")
        boss = next(e for e in policy.employees if e.email == "boss@acme.test")
        assert (boss.role, boss.submits_to) == ("admin", OWNER)

    def test_invisible_policy_is_omitted(self) -> None:
        body = post(
            make(),
            {
                "type": "get",
                "inputSettings": {
                    "type": "policy",
                    "policyIDList": ["P1", "OTHER", "NOPE"],
                    "fields": ["categories"],
                },
            },
        )
        assert list(body["policyInfo"]) == ["P1"]

    def test_missing_policy_id_list(self) -> None:
        body = post(
            make(), {"type": "get", "inputSettings": {"type": "policy", "fields": ["tags"]}}
        )
        assert body == {
            "responseCode": 410,
            "responseMessage": "Required parameter 'policyIDList' is missing",
        }

    def test_policy_id_list_must_be_an_array_here(self) -> None:
        body = post(
            make(),
            {
                "type": "get",
                "inputSettings": {"type": "policy", "policyIDList": "P1", "fields": ["tags"]},
            },
        )
        assert body["responseCode"] == 410

    def test_unknown_field(self) -> None:
        body = post(
            make(),
            {
                "type": "get",
                "inputSettings": {"type": "policy", "policyIDList": ["P1"], "fields": ["rules"]},
            },
        )
        assert body["responseCode"] == 410


class TestPolicyUpdater:
    """categories merge vs replace, tags always replace, sections placed at the top level."""

    def test_categories_merge_keeps_others_and_updates_given_keys(self) -> None:
        emu = make()
        api(emu).update_policy(
            "P1",
            categories=[Category(name="Meals", gl_code="6150"), Category(name="Hotel")],
        )
        cats = {c["name"]: c for c in emu.policy("P1")["categories"]}
        assert set(cats) == {"Meals", "Travel", "Hotel"}
        assert cats["Meals"]["glCode"] == "6150"
        assert cats["Travel"]["glCode"] == "6200"
        assert "glCode" not in cats["Hotel"]

    def test_merge_without_gl_code_keeps_the_old_one(self) -> None:
        emu = make()
        post(
            emu,
            {
                "type": "update",
                "inputSettings": {"type": "policy", "policyID": "P1"},
                "categories": {"action": "merge", "data": [{"name": "Meals", "enabled": False}]},
            },
        )
        meals = emu.policy("P1")["categories"][0]
        assert meals == {"name": "Meals", "enabled": False, "glCode": "6100"}

    def test_categories_replace_deletes_unlisted(self) -> None:
        emu = make()
        api(emu).update_policy(
            "P1", categories=[Category(name="Hotel", gl_code="6300")], categories_action="replace"
        )
        assert emu.policy("P1")["categories"] == [
            {"name": "Hotel", "enabled": True, "glCode": "6300"}
        ]

    def test_tags_replace_the_whole_list_even_with_merge(self) -> None:
        emu = make()
        body = post(
            emu,
            {
                "type": "update",
                "inputSettings": {"type": "policy", "policyID": "P1"},
                "tags": {
                    "action": "merge",
                    "data": [{"name": "Project", "tags": [{"name": "Apollo", "glCode": "P1"}]}],
                },
            },
        )
        assert body == {"responseCode": 200}
        tags = emu.policy("P1")["tags"]
        assert names(tags) == ["Project"]
        assert tags[0]["tags"] == [{"name": "Apollo", "enabled": True, "glCode": "P1"}]

    def test_client_multi_level_tags(self) -> None:
        emu = make()
        api(emu).update_policy(
            "P1",
            tags=[
                TagLevel(name="Dept", tags=(Tag(name="Sales", enabled=False, gl_code="200"),)),
                TagLevel(name="Project", tags=(Tag(name="X", gl_code="PX"),), required=True),
            ],
        )
        levels = api(emu).get_policies(["P1"], ["tags"])["P1"].tag_levels
        assert [lvl.name for lvl in levels] == ["Dept", "Project"]
        assert levels[0].tags[0].enabled is True  # multi-level tags are always enabled
        assert levels[1].required is True

    def test_sections_inside_input_settings_are_silently_ignored(self) -> None:
        emu = make()
        body = post(
            emu,
            {
                "type": "update",
                "inputSettings": {
                    "type": "policy",
                    "policyID": "P1",
                    "categories": {"action": "replace", "data": [{"name": "X"}]},
                },
            },
        )
        assert body == {"responseCode": 200}
        assert names(emu.policy("P1")["categories"]) == ["Meals", "Travel"]

    @pytest.mark.parametrize(
        "section",
        [
            {"data": [{"name": "X"}]},
            {"action": "upsert", "data": [{"name": "X"}]},
            {"action": "merge", "data": [{"name": ""}]},
            {"action": "merge", "data": [{"name": "X", "glcode": "1"}]},
            {"action": "merge", "data": [{"name": "X", "enabled": "yes"}]},
            {"action": "merge", "data": [{"name": "X"}, {"name": "X"}]},
            {"action": "merge", "data": [{"name": "X", "maxExpenseAmount": 12.5}]},
        ],
    )
    def test_malformed_categories(self, section: dict[str, Any]) -> None:
        emu = make()
        body = post(
            emu,
            {
                "type": "update",
                "inputSettings": {"type": "policy", "policyID": "P1"},
                "categories": section,
            },
        )
        assert body == {"responseCode": 410, "responseMessage": "'categories' object malformed"}
        assert names(emu.policy("P1")["categories"]) == ["Meals", "Travel"]

    def test_unknown_or_foreign_policy_is_404_and_nothing_changes(self) -> None:
        emu = make()
        body = post(
            emu,
            {
                "type": "update",
                "inputSettings": {"type": "policy", "policyIDList": ["P2", "OTHER"]},
                "categories": {"action": "replace", "data": []},
            },
        )
        assert body["responseCode"] == 404
        with pytest.raises(NotFoundError):
            api(emu).update_policy("NOPE", categories=[Category(name="X")])
        assert names(emu.policy("OTHER")["categories"]) == []

    def test_report_fields_merge_and_value_objects(self) -> None:
        emu = make()
        section = {
            "action": "merge",
            "data": [
                {"name": "Project", "type": "dropdown", "values": [{"name": "A"}, {"name": "B"}]},
                {"name": "PO", "type": "text", "defaultValue": "none"},
            ],
        }
        body = post(
            emu,
            {
                "type": "update",
                "inputSettings": {"type": "policy", "policyID": "P1"},
                "reportFields": section,
            },
        )
        assert body == {"responseCode": 200}
        fields = emu.policy("P1")["reportFields"]
        assert fields[0] == {"name": "Project", "type": "dropdown", "values": ["A", "B"]}
        # The docs' table keys value objects "value" (the example "name"): both accepted,
        # but not both in one object.
        keyed_value = {
            "action": "merge",
            "data": [{"name": "P", "type": "dropdown", "values": [{"value": "A"}]}],
        }
        body = post(
            emu,
            {
                "type": "update",
                "inputSettings": {"type": "policy", "policyID": "P1"},
                "reportFields": keyed_value,
            },
        )
        assert body == {"responseCode": 200}
        assert emu.policy("P1")["reportFields"][-1]["values"] == ["A"]
        bad = {
            "action": "merge",
            "data": [{"name": "P", "type": "dropdown", "values": [{"value": "A", "name": "B"}]}],
        }
        body = post(
            emu,
            {
                "type": "update",
                "inputSettings": {"type": "policy", "policyID": "P1"},
                "reportFields": bad,
            },
        )
        assert body["responseCode"] == 410


def record(email: str, manager: str = "boss@acme.test", **extra: Any) -> EmployeeRecord:
    return EmployeeRecord(
        employee_email=email,
        manager_email=manager,
        employee_id=extra.pop("employee_id", email.split("@")[0].upper()),
        policy_id=extra.pop("policy_id", "P1"),
        **extra,
    )


def members(emu: ExpensifyEmulator, policy_id: str = "P1") -> dict[str, dict[str, Any]]:
    return {e["email"]: e for e in emu.policy(policy_id)["employees"]}


class TestEmployeeUpdater:
    """Add, update, terminate, approval chains, dry runs and per-record skips."""

    def test_add_new_employee(self) -> None:
        emu = make()
        result = api(emu).update_employees([record("new@acme.test", first_name="New")])
        assert result.dry_run is False
        assert result.updated_count == 1
        assert dict(result.diff_to_add) == {"P1": ("new@acme.test",)}
        new = members(emu)["new@acme.test"]
        assert new == {
            "email": "new@acme.test",
            "role": "user",
            "submitsTo": "boss@acme.test",
            "employeeID": "NEW",
            "firstName": "New",
            "customField1": "NEW",
        }

    def test_update_existing_keeps_names_and_changes_chain(self) -> None:
        emu = make()
        result = api(emu).update_employees(
            [
                record(
                    "ann@acme.test",
                    manager=OWNER,
                    employee_id="E1",
                    role="auditor",
                    approves_to="boss@acme.test",
                    first_name="Annie",
                )
            ]
        )
        assert result.updated_count == 1
        assert dict(result.diff_to_add) == {}
        ann = members(emu)["ann@acme.test"]
        assert (ann["role"], ann["submitsTo"], ann["approvesTo"]) == (
            "auditor",
            OWNER,
            "boss@acme.test",
        )
        assert ann["firstName"] == "Annie"  # was unset, so it is set now

    def test_unchanged_record_is_not_counted(self) -> None:
        emu = make()
        api(emu).update_employees([record("new@acme.test")])
        again = api(emu).update_employees([record("new@acme.test")])
        assert again.updated_count == 0

    def test_terminate_removes_from_policy(self) -> None:
        emu = make()
        result = api(emu).update_employees(
            [record("ann@acme.test", employee_id="E1", is_terminated=True)]
        )
        assert dict(result.diff_to_remove) == {"P1": ("ann@acme.test",)}
        assert "ann@acme.test" not in members(emu)

    def test_dry_run_changes_nothing(self) -> None:
        emu = make()
        before = emu.policy("P1")
        result = api(emu).update_employees(
            [
                record("new@acme.test"),
                record("ann@acme.test", employee_id="E1", is_terminated=True),
            ],
            dry_run=True,
        )
        assert result.dry_run is True
        assert result.updated_count == 2
        assert dict(result.diff_to_add) == {"P1": ("new@acme.test",)}
        assert dict(result.diff_to_remove) == {"P1": ("ann@acme.test",)}
        assert emu.policy("P1") == before

    def test_missing_approvers_are_invited_when_fixing_chains(self) -> None:
        emu = make()
        result = api(emu).update_employees(
            [record("new@acme.test", manager="vp@acme.test", approves_to="cfo@acme.test")]
        )
        assert dict(result.diff_to_add) == {
            "P1": ("new@acme.test", "vp@acme.test", "cfo@acme.test")
        }
        assert members(emu)["vp@acme.test"]["role"] == "user"

    def test_missing_approver_skips_when_not_fixing_chains(self) -> None:
        emu = make()
        result = api(emu).update_employees(
            [record("new@acme.test", manager="vp@acme.test")], fix_approval_chains=False
        )
        assert result.updated_count == 0
        assert result.skipped[0].email == "new@acme.test"
        assert "vp@acme.test" in result.skipped[0].reason
        assert "new@acme.test" not in members(emu)

    def test_on_leave_manager_is_replaced_by_their_manager(self) -> None:
        emu = make()
        api(emu).update_employees(
            [
                record("mgr@acme.test", manager=OWNER, worker_status="On Leave"),
                record("new@acme.test", manager="mgr@acme.test"),
            ]
        )
        assert members(emu)["new@acme.test"]["submitsTo"] == OWNER

    def test_additional_policies(self) -> None:
        emu = make()
        result = api(emu).update_employees(
            [record("new@acme.test", manager=OWNER, additional_policy_ids=("P2",))]
        )
        assert dict(result.diff_to_add) == {"P1": ("new@acme.test",), "P2": ("new@acme.test",)}

    def test_owner_cannot_be_demoted(self) -> None:
        emu = make()
        result = api(emu).update_employees([record(OWNER, manager=OWNER, role="user")])
        assert result.skipped[0].reason.startswith("Cannot change the role")
        assert members(emu)[OWNER]["role"] == "admin"

    def test_documented_skip_reasons_from_a_raw_feed(self) -> None:
        emu = make()
        feed = {
            "Employees": [
                {
                    "employeeEmail": "a@acme.test",
                    "managerEmail": "manager@domain ",
                    "employeeID": "A",
                    "policyID": "P1",
                },
                {
                    "employeeEmail": "b@acme.test",
                    "managerEmail": OWNER,
                    "employeeID": "B",
                    "policyID": "Marketing",
                },
                {
                    "employeeEmail": "c@acme.test",
                    "managerEmail": OWNER,
                    "employeeID": "C",
                    "policyID": "OTHER",
                },
                {
                    "employeeEmail": "d@acme.test",
                    "managerEmail": OWNER,
                    "employeeID": "D",
                    "policyID": "P1",
                    "approvalLimit": 10000,
                },
                {
                    "employeeEmail": "e@acme.test",
                    "managerEmail": OWNER,
                    "employeeID": "E",
                    "policyID": "P1",
                    "role": "owner",
                },
                {"employeeEmail": "f@acme.test", "managerEmail": OWNER, "policyID": "P1"},
                {
                    "employeeEmail": "g@acme.test",
                    "managerEmail": OWNER,
                    "employeeID": "G",
                    "policyID": "P1",
                    "nickname": "gee",
                },
            ]
        }
        body = post(
            emu,
            {
                "type": "update",
                "inputSettings": {"type": "employees", "entity": "generic"},
                "dataSource": "request",
            },
            data=json.dumps(feed),
        )
        assert body["responseCode"] == 200
        reasons = {s["email"]: s["reason"] for s in body["skippedEmployees"]}
        assert reasons == {
            "a@acme.test": "Invalid manager email address 'manager@domain '",
            "b@acme.test": "No policy found for 'Marketing'",
            "c@acme.test": "No policy found for 'OTHER'",
            "d@acme.test": "Missing overLimitApprover for approvalLimit",
            "e@acme.test": "Invalid role 'owner'",
            "f@acme.test": "Missing employeeID",
            "g@acme.test": "Unknown field 'nickname'",
        }
        assert body["updatedEmployeesCount"] == 0

    def test_missing_feed_and_bad_flags(self) -> None:
        emu = make()
        base = {
            "inputSettings": {"type": "employees", "entity": "generic"},
            "dataSource": "request",
        }
        assert post(emu, {"type": "update", **base}) == {
            "responseCode": 410,
            "responseMessage": "Required parameter 'data' is missing",
        }
        feed = json.dumps(
            [
                {
                    "employeeEmail": "a@acme.test",
                    "managerEmail": OWNER,
                    "employeeID": "A",
                    "policyID": "P1",
                }
            ]
        )
        assert (
            post(emu, {"type": "update", **base, "dry-run": "true"}, data=feed)["responseCode"]
            == 410
        )
        assert (
            post(emu, {"type": "update", **base, "dataSource": "sftp"}, data=feed)["responseCode"]
            == 410
        )

    def test_security_groups_only_when_every_record_has_one(self) -> None:
        emu = make()
        some = api(emu).update_employees(
            [record("a@acme.test", domain_group_id="G1"), record("b@acme.test")]
        )
        assert dict(some.security_groups) == {}
        every = api(emu).update_employees(
            [
                record("a@acme.test", domain_group_id="G1"),
                record("b@acme.test", domain_group_id="G1"),
            ]
        )
        assert dict(every.security_groups) == {"G1": ("a@acme.test", "b@acme.test")}


def seed_reports(emu: ExpensifyEmulator) -> dict[str, str]:
    ids: dict[str, str] = {}
    for label, steps in (("open", 0), ("submitted", 1), ("approved", 2), ("reimbursed", 3)):
        rid = emu.add_report(
            "P1",
            submitter="ann@acme.test",
            name=label,
            currency="USD",
            expenses=[ExpenseSpec(amount_cents=1000, currency="USD", created=date(2025, 2, 1))],
            created=datetime(2025, 2, 1, 9, tzinfo=UTC),
        )
        if steps >= 1:
            emu.submit(rid, datetime(2025, 2, 2, tzinfo=UTC))
        if steps >= 2:
            emu.approve(rid, datetime(2025, 2, 3, tzinfo=UTC), by="boss@acme.test")
        if steps >= 3:
            emu.reimburse(rid, datetime(2025, 2, 4, tzinfo=UTC))
        ids[label] = rid
    return ids


class TestReportStatus:
    """Only Approved -> Reimbursed; others skipped with the documented reason."""

    def test_mark_reimbursed_mixed(self) -> None:
        emu = make()
        ids = seed_reports(emu)
        result = api(emu).mark_reimbursed(
            [ids["approved"], ids["open"], ids["submitted"], ids["reimbursed"], "R0GHOST"]
        )
        assert result.response_code == 200
        assert result.reimbursed == (ids["approved"],)
        assert dict(result.skipped) == {
            ids["open"]: "Report is in status 'Open'",
            ids["submitted"]: "Report is in status 'Processing'",
            ids["reimbursed"]: "Report is in status 'Reimbursed'",
            "R0GHOST": "Report not found",
        }
        assert result.failed == ()
        view = emu.report(ids["approved"])
        assert (view["state"], view["reimbursed"]) == ("REIMBURSED", "2025-03-01 12:00:00")
        assert view["entryID"] is not None

    def test_other_status_is_rejected(self) -> None:
        body = post(
            make(),
            {
                "type": "update",
                "inputSettings": {
                    "type": "reportStatus",
                    "status": "APPROVED",
                    "filters": {"reportIDList": "R1"},
                },
            },
        )
        assert body == {
            "responseCode": 410,
            "responseMessage": "Status 'APPROVED' is not supported",
        }

    def test_by_start_date(self) -> None:
        emu = make()
        ids = seed_reports(emu)
        body = post(
            emu,
            {
                "type": "update",
                "inputSettings": {
                    "type": "reportStatus",
                    "status": "REIMBURSED",
                    "filters": {"startDate": "2025-02-01"},
                },
            },
        )
        assert body["reportIDs"] == [ids["approved"]]
        assert len(body["skippedReports"]) == 3

    def test_filters_required(self) -> None:
        body = post(
            make(),
            {"type": "update", "inputSettings": {"type": "reportStatus", "status": "REIMBURSED"}},
        )
        assert body == {
            "responseCode": 410,
            "responseMessage": "Required parameter 'filters' is missing",
        }

    def test_foreign_policy_reports_are_not_reimbursed(self) -> None:
        emu = make()
        rid = emu.add_report(
            "OTHER",
            submitter="z@else.test",
            name="x",
            currency="USD",
            expenses=[],
            created=datetime(2025, 2, 1, tzinfo=UTC),
        )
        emu.submit(rid, datetime(2025, 2, 2, tzinfo=UTC))
        emu.approve(rid, datetime(2025, 2, 3, tzinfo=UTC))
        result = api(emu).mark_reimbursed([rid])
        assert result.reimbursed == ()
        assert emu.report(rid)["state"] == "APPROVED"

    def test_client_validation_error(self) -> None:
        emu = make()
        emu.inject(job_type="update/reportStatus", response_code=410)
        with pytest.raises(ValidationError):
            api(emu).mark_reimbursed(["R1"])


class TestWorkflow:
    """The control plane enforces the report workflow."""

    def test_transitions(self) -> None:
        emu = make()
        ids = seed_reports(emu)
        with pytest.raises(EmulatorStateError):
            emu.approve(ids["open"], NOW)
        with pytest.raises(EmulatorStateError):
            emu.reimburse(ids["submitted"], NOW)
        emu.reject(ids["approved"], NOW)
        view = emu.report(ids["approved"])
        assert (view["state"], view["submitted"], view["approved"]) == ("OPEN", None, None)
        emu.reopen(ids["reimbursed"], NOW)
        assert emu.report(ids["reimbursed"])["status"] == "Open"

    def test_naive_datetimes_are_refused(self) -> None:
        emu = make()
        with pytest.raises(ValueError, match="timezone"):
            emu.add_report(
                "P1",
                submitter="a@acme.test",
                name="x",
                currency="USD",
                expenses=[],
                created=datetime(2025, 1, 1),
            )

    def test_foreign_currency_needs_a_conversion(self) -> None:
        emu = make()
        spec = ExpenseSpec(amount_cents=1000, currency="EUR", created=date(2025, 1, 1))
        with pytest.raises(ValueError, match="converted"):
            emu.add_report(
                "P1",
                submitter="a@acme.test",
                name="x",
                currency="USD",
                expenses=[spec],
                created=NOW,
            )
