"""Provisioning against both emulators: employees, categories and tags follow Acumatica."""

from __future__ import annotations

import attrs
import pytest

from expense_bridge.provisioning import (
    EmployeeAction,
    PolicyRule,
    ProvisionCode,
    ProvisioningSettings,
    provision_all,
)
from tests.bridge_world import OWNER, World

from .test_bridge_end_to_end import world  # noqa: F401 - the fixture, used by name

SETTINGS = ProvisioningSettings(
    default_policy="POL1",
    policy_rule=PolicyRule(by="department", table={"SALES": "POL2"}),
    top_approver=OWNER,
)


def employee(eid: str, email: str | None, reports_to: str | None, *, dept: str = "CONSULT",
             status: str = "Active", first: str = "Ann") -> dict[str, object]:  # fmt: skip
    contact: dict[str, object] = {"FirstName": first, "LastName": eid, "Active": True}
    if email is not None:
        contact["Email"] = email
    return {
        "EmployeeID": eid,
        "Status": status,
        "ContactInfo": contact,
        "EmployeeSettings": {"DepartmentID": dept, "ReportsTo": reports_to, "BranchID": "HQ"},
    }


STAFF = [
    employee("E1", "ceo@firm.test", None),
    employee("E2", "cfo@firm.test", "E1"),
    employee("E3", "ann@firm.test", "E2"),
    employee("E4", "sam@firm.test", "E2", dept="SALES"),
]


@pytest.fixture
def prov(request: pytest.FixtureRequest) -> World:
    w: World = request.getfixturevalue("world")
    w.expensify.add_policy("POL2", "Sales", owner=OWNER)
    w.acumatica.seed("Employee", STAFF)
    w.acumatica.seed("Project", [
        {"ProjectID": "ACME01", "Description": "Acme audit", "Status": "Active"},
        {"ProjectID": "OLD01", "Description": "Closed job", "Status": "Completed"},
    ])  # fmt: skip
    w.config = attrs.evolve(w.config, policies=("POL1", "POL2"), provisioning=SETTINGS)
    return w


def run(w: World, *, dry_run: bool = False):  # type: ignore[no-untyped-def]
    return provision_all(w.config, acumatica=w.acu_client, expensify=w.exp_client, dry_run=dry_run)


def members(w: World, policy_id: str) -> dict[str, str | None]:
    view = w.expensify.policy(policy_id)
    return {e["email"]: e.get("submitsTo") for e in view["employees"]}


def test_first_run_adds_with_chain_second_run_changes_nothing(prov: World) -> None:
    first = run(prov)
    plan = first.employees.plan
    assert plan.count(EmployeeAction.ADD) == 3
    (update,) = [c for c in plan.changes if c.action is EmployeeAction.UPDATE]
    assert update.email == "ann@firm.test"  # already a member, submitting to the owner
    assert update.changed == ("submits_to", "employee_id")
    assert first.employees.feeds_sent == 1
    pol1, pol2 = members(prov, "POL1"), members(prov, "POL2")
    assert pol1["ann@firm.test"] == "cfo@firm.test"
    assert pol1["cfo@firm.test"] == "ceo@firm.test"
    assert pol1["ceo@firm.test"] == OWNER
    assert pol2["sam@firm.test"] == "cfo@firm.test"  # the department rule
    assert first.expensify_calls <= 5  # one getter, updates only where something changed

    second = run(prov)
    assert second.employees.plan.changes == ()
    assert second.employees.feeds_sent == 0
    assert second.expensify_calls == 1  # the getter only


def test_dry_run_sends_nothing(prov: World) -> None:
    result = run(prov, dry_run=True)
    assert result.employees.plan.count(EmployeeAction.ADD) == 3
    assert "cfo@firm.test" not in members(prov, "POL1")
    assert members(prov, "POL1")["ann@firm.test"] == OWNER
    assert result.expensify_calls == 1


def test_manager_change_leaver_and_rehire(prov: World) -> None:
    run(prov)
    prov.acumatica.seed("Employee", [employee("E3", "ann@firm.test", "E1")])
    prov.acumatica.seed("Employee", [employee("E4", "sam@firm.test", "E2", dept="SALES",
                                              status="Inactive")])  # fmt: skip
    changed = run(prov)
    actions = {(c.action, c.email) for c in changed.employees.plan.changes}
    assert actions == {
        (EmployeeAction.UPDATE, "ann@firm.test"),
        (EmployeeAction.TERMINATE, "sam@firm.test"),
    }
    assert members(prov, "POL1")["ann@firm.test"] == "ceo@firm.test"
    assert "sam@firm.test" not in members(prov, "POL2")

    prov.acumatica.seed("Employee", [employee("E4", "sam@firm.test", "E2", dept="SALES")])
    rehired = run(prov)
    assert [(c.action, c.email) for c in rehired.employees.plan.changes] == [
        (EmployeeAction.ADD, "sam@firm.test")
    ]
    assert "sam@firm.test" in members(prov, "POL2")


def test_bad_data_is_reported_not_guessed(prov: World) -> None:
    prov.acumatica.seed("Employee", [
        employee("E5", None, "E2"),
        employee("E6", "dup@firm.test", "E2"),
        employee("E7", "dup@firm.test", "E2"),
        employee("E8", "lone@firm.test", "E99"),
    ])  # fmt: skip
    result = run(prov)
    codes = {(i.code, i.subject) for i in result.employees.plan.issues}
    assert codes == {
        (ProvisionCode.NO_EMAIL, "E5"),
        (ProvisionCode.DUPLICATE_EMAIL, "dup@firm.test"),
        (ProvisionCode.MANAGER_OUTSIDE_SET, "E8"),
    }
    assert "lone@firm.test" not in members(prov, "POL1")


def test_categories_merged_and_disabled_never_deleted(prov: World) -> None:
    # The getter answers category GL codes (emulator switch): 'Meals' is known to be on 62000.
    prov.expensify.options = attrs.evolve(prov.expensify.options, category_gl_codes=True)
    prov.acumatica.seed("Account", [
        {"AccountCD": "63000", "Type": "Expense", "Active": True, "Description": "Software"},
        {"AccountCD": "62000", "Type": "Expense", "Active": False, "Description": "Meals"},
    ])  # fmt: skip
    result = run(prov)
    (plan, _) = sorted(result.categories.category_plans, key=lambda p: p.policy_id)
    reasons = {c.category.name: c.reason for c in plan.changes}
    assert reasons == {"Software": "new", "Meals": "disable"}
    categories = {c["name"]: c for c in prov.expensify.policy("POL1")["categories"]}
    assert categories["Software"]["glCode"] == "63000"
    assert categories["Meals"]["enabled"] is False  # disabled, still there
    assert "Travel" in categories


def test_documented_getter_disables_nothing_it_cannot_identify(prov: World) -> None:
    """Without GL codes in the getter answer no category can be tied to an inactive account."""
    prov.acumatica.seed("Account", [
        {"AccountCD": "62000", "Type": "Expense", "Active": False, "Description": "Meals"},
    ])  # fmt: skip
    result = run(prov)
    reasons = {
        c.category.name: c.reason for p in result.categories.category_plans for c in p.changes
    }
    assert "Meals" not in reasons
    categories = {c["name"]: c for c in prov.expensify.policy("POL1")["categories"]}
    assert categories["Meals"]["enabled"] is True


def test_tags_follow_active_projects(prov: World) -> None:
    result = run(prov)
    (plan, _) = sorted(result.tags.tag_plans, key=lambda p: p.policy_id)
    assert plan.added == ("ACME01",)
    view = prov.expensify.policy("POL1")["tags"]
    assert "ACME01" in str(view)
    assert "OLD01" not in str(view)
    assert run(prov).tags.tag_plans[0].levels is None  # second run: nothing to send


def test_tags_can_follow_branches(prov: World) -> None:
    prov.acumatica.seed_branches([
        {"BranchID": "HQ", "BranchName": "Head office", "BranchStatus": True},
        {"BranchID": "OLD", "BranchName": "Closed", "BranchStatus": False},
    ])  # fmt: skip
    settings = attrs.evolve(SETTINGS, tag_source="branches", tag_level="Branch")
    prov.config = attrs.evolve(prov.config, provisioning=settings)
    result = run(prov)
    (plan, _) = sorted(result.tags.tag_plans, key=lambda p: p.policy_id)
    assert plan.added == ("HQ",)
    assert "HQ - Head office" in str(prov.expensify.policy("POL1")["tags"])
