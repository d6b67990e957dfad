"""The pure provisioning planners: employees, categories, tags."""

from __future__ import annotations

import attrs

from acumatica_client import Account, Contact, Employee, EmployeeSettings, Project
from expense_bridge.provisioning import (
    EmployeeAction,
    PolicyRule,
    ProvisionCode,
    ProvisioningSettings,
    active_project_codes,
    plan_categories,
    plan_employees,
    plan_tags,
)
from expensify_client import Category, Policy, Tag, TagLevel
from expensify_client import Employee as Member

SETTINGS = ProvisioningSettings(
    default_policy="P1",
    policy_rule=PolicyRule(by="department", table={"SALES": "P2"}),
    top_approver="owner@firm.test",
    admins=("cfo@firm.test",),
)


def emp(
    employee_id: str,
    email: str | None,
    *,
    reports_to: str | None = None,
    status: str = "Active",
    department: str = "CONSULT",
    first: str = "Ann",
    last: str = "Lee",
) -> Employee:
    return Employee(
        employee_id=employee_id,
        status=status,
        contact_info=Contact(email=email, first_name=first, last_name=last),
        employee_settings=EmployeeSettings(department_id=department, reports_to=reports_to),
    )


def member(email: str, submits_to: str, employee_id: str, **kw: str) -> Member:
    return Member(
        email=email,
        submits_to=submits_to,
        employee_id=employee_id,
        first_name=kw.get("first", "Ann"),
        last_name=kw.get("last", "Lee"),
        role=kw.get("role", "user"),
    )


def policies(*members: tuple[str, Member]) -> dict[str, Policy]:
    grouped: dict[str, list[Member]] = {"P1": [], "P2": []}
    for pid, m in members:
        grouped[pid].append(m)
    return {pid: Policy(policy_id=pid, employees=tuple(ms)) for pid, ms in grouped.items()}


STAFF = [
    emp("E1", "ceo@firm.test"),
    emp("E2", "cfo@firm.test", reports_to="E1"),
    emp("E3", "ann@firm.test", reports_to="E2"),
    emp("E4", "sam@firm.test", reports_to="E2", department="SALES"),
]


def test_first_run_adds_everyone_with_the_reports_to_chain() -> None:
    plan = plan_employees(STAFF, policies(), SETTINGS)
    assert plan.issues == ()
    by_email = {c.email: c for c in plan.changes}
    assert {c.action for c in plan.changes} == {EmployeeAction.ADD}
    assert by_email["ceo@firm.test"].record.manager_email == "owner@firm.test"
    assert by_email["cfo@firm.test"].record.manager_email == "ceo@firm.test"
    assert by_email["ann@firm.test"].record.manager_email == "cfo@firm.test"
    assert by_email["sam@firm.test"].policy_id == "P2"  # the department rule
    assert by_email["ann@firm.test"].policy_id == "P1"  # the default policy
    assert by_email["cfo@firm.test"].record.role == "admin"
    assert by_email["ann@firm.test"].record.role is None
    assert len(plan.feeds()) == 1


def _applied() -> dict[str, Policy]:
    """What the policies look like after the first run's adds."""
    plan = plan_employees(STAFF, policies(), SETTINGS)
    rows = [
        (
            c.policy_id,
            member(
                c.email,
                c.record.manager_email,
                c.record.employee_id,
                role=c.record.role or "user",
            ),
        )
        for c in plan.changes
    ]
    return policies(*rows)


def test_second_run_changes_nothing() -> None:
    plan = plan_employees(STAFF, _applied(), SETTINGS)
    assert plan.changes == ()
    assert plan.unchanged == 4
    assert plan.feeds() == ()


def test_manager_change_is_an_update_naming_the_attribute() -> None:
    moved = [*STAFF[:2], emp("E3", "ann@firm.test", reports_to="E1"), STAFF[3]]
    plan = plan_employees(moved, _applied(), SETTINGS)
    assert len(plan.changes) == 1
    (change,) = plan.changes
    assert change.action is EmployeeAction.UPDATE
    assert change.changed == ("submits_to",)
    assert change.record.manager_email == "ceo@firm.test"


def test_leaver_is_terminated_and_rehire_is_added_again() -> None:
    gone = [*STAFF[:3], emp("E4", "sam@firm.test", reports_to="E2", status="Inactive")]
    plan = plan_employees(gone, _applied(), SETTINGS)
    (change,) = plan.changes
    assert change.action is EmployeeAction.TERMINATE
    assert change.record.is_terminated is True
    assert change.policy_id == "P2"

    without_sam = {
        pid: Policy(
            policy_id=pid,
            employees=tuple(m for m in p.employees if m.email != "sam@firm.test"),
        )
        for pid, p in _applied().items()
    }
    rehired = plan_employees(STAFF, without_sam, SETTINGS)
    (again,) = rehired.changes
    assert again.action is EmployeeAction.ADD
    assert again.email == "sam@firm.test"


def test_policy_move_adds_then_terminates_in_separate_feeds() -> None:
    moved = [*STAFF[:2], emp("E3", "ann@firm.test", reports_to="E2", department="SALES"), STAFF[3]]
    plan = plan_employees(moved, _applied(), SETTINGS)
    actions = sorted((c.action.value, c.policy_id) for c in plan.changes)
    assert actions == [("add", "P2"), ("terminate", "P1")]
    feeds = plan.feeds()
    assert len(feeds) == 2
    assert feeds[0][0].is_terminated is False
    assert feeds[1][0].is_terminated is True


def test_bad_data_is_reported_with_codes_not_guessed() -> None:
    staff = [
        *STAFF,
        emp("E5", None, reports_to="E2"),
        emp("E6", "dup@firm.test", reports_to="E2"),
        emp("E7", "dup@firm.test", reports_to="E2"),
        emp("E8", "lone@firm.test", reports_to="E99"),
    ]
    plan = plan_employees(staff, policies(), SETTINGS)
    codes = {(i.code, i.subject) for i in plan.issues}
    assert codes == {
        (ProvisionCode.NO_EMAIL, "E5"),
        (ProvisionCode.DUPLICATE_EMAIL, "dup@firm.test"),
        (ProvisionCode.MANAGER_OUTSIDE_SET, "E8"),
    }
    assert all(i.fix for i in plan.issues)
    emails = {c.email for c in plan.changes}
    assert "dup@firm.test" not in emails
    assert "lone@firm.test" not in emails
    assert len(emails) == 4


def test_head_of_chain_without_top_approver_is_reported() -> None:
    settings = ProvisioningSettings(default_policy="P1")
    plan = plan_employees(STAFF[:1], policies(), settings)
    assert [i.code for i in plan.issues] == [ProvisionCode.NO_MANAGER]
    assert plan.changes == ()


def test_existing_admin_is_never_demoted_and_strangers_are_untouched() -> None:
    current = _applied()
    p1 = current["P1"]
    current["P1"] = Policy(
        policy_id="P1",
        employees=(
            *(
                member(m.email, m.submits_to or "", m.employee_id or "", role="admin")
                if m.email == "ann@firm.test"
                else m
                for m in p1.employees
            ),
            member("outside@accountants.test", "owner@firm.test", "X1"),
        ),
    )
    plan = plan_employees(STAFF, current, SETTINGS)
    assert plan.changes == ()


ACCOUNTS = [
    Account(account_cd="61000", description="Travel - Air", type="Expense", active=True),
    Account(account_cd="62000", description="Meals", type="Expense", active=True),
    Account(account_cd="63000", description="Old", type="Expense", active=False),
    Account(account_cd="20000", description="AP", type="Liability", active=True),
]


def test_categories_merge_new_fix_codes_and_disable_never_delete() -> None:
    policy = Policy(
        policy_id="P1",
        categories=(
            Category(name="Airfare", gl_code="61000"),  # renamed by the admin: kept
            Category(name="Meals", gl_code=None),  # matched by name: gets its code
            Category(name="Legacy", gl_code="63000"),  # inactive account: disabled
        ),
    )
    plan = plan_categories(ACCOUNTS, policy, SETTINGS)
    by_reason = {c.reason: c.category for c in plan.changes}
    assert by_reason["gl_code"] == Category(name="Meals", gl_code="62000")
    assert by_reason["disable"] == Category(name="Legacy", gl_code="63000", enabled=False)
    assert "new" not in by_reason  # 20000 is not an expense account
    assert [i.code for i in plan.issues] == [ProvisionCode.CATEGORY_ACCOUNT_INACTIVE]

    fresh = plan_categories(ACCOUNTS, Policy(policy_id="P1"), SETTINGS)
    assert [c.category for c in fresh.changes] == [
        Category(name="Travel - Air", gl_code="61000"),
        Category(name="Meals", gl_code="62000"),
    ]
    off = ProvisioningSettings(default_policy="P1", new_categories_enabled=False)
    assert all(
        not c.enabled for c in plan_categories(ACCOUNTS, Policy(policy_id="P1"), off).categories
    )


def test_categories_second_run_is_empty() -> None:
    policy = Policy(
        policy_id="P1",
        categories=(
            Category(name="Travel - Air", gl_code="61000"),
            Category(name="Meals", gl_code="62000"),
            Category(name="Legacy", gl_code="63000", enabled=False),
        ),
    )
    plan = plan_categories(ACCOUNTS, policy, SETTINGS)
    assert plan.changes == ()
    assert len(plan.issues) == 1  # still reported, but nothing to send


def test_tags_from_active_projects_keep_other_levels() -> None:
    projects = [
        Project(project_id="ACME01", description="Acme audit", status="Active"),
        Project(project_id="OLD01", description="Closed", status="Completed"),
        Project(project_id="HOLD1", description="On hold", status="Active", hold=True),
    ]
    codes = active_project_codes(projects)
    assert codes == {"ACME01": "Acme audit"}
    policy = Policy(
        policy_id="P1",
        tag_levels=(
            TagLevel(name="Project", tags=(Tag(name="OLD01 - Closed", gl_code="OLD01"),)),
            TagLevel(name="Region", tags=(Tag(name="East"),)),
        ),
    )
    plan = plan_tags(codes, policy, SETTINGS)
    assert plan.levels is not None
    project, region = plan.levels
    assert region == policy.tag_levels[1]
    assert project.tags == (
        Tag(name="ACME01 - Acme audit", gl_code="ACME01"),
        Tag(name="OLD01 - Closed", gl_code="OLD01", enabled=False),
    )
    assert plan.added == ("ACME01",)
    assert plan.disabled == ("OLD01",)
    again = plan_tags(codes, Policy(policy_id="P1", tag_levels=plan.levels), SETTINGS)
    assert again.levels is None


def test_plan_tags_treats_a_policys_only_level_as_the_configured_one_whatever_its_name() -> None:
    """The single-level tag form carries no level name: Expensify names a new list "Tag"."""
    codes = {"ACME01": "Acme audit"}
    first = plan_tags(codes, Policy(policy_id="P1", tag_levels=()), SETTINGS)
    assert first.levels is not None
    (level,) = first.levels
    as_stored = Policy(policy_id="P1", tag_levels=(attrs.evolve(level, name="Tag"),))
    again = plan_tags(codes, as_stored, SETTINGS)
    assert again.levels is None  # no change planned on every run
    codes["BETA02"] = "Beta review"
    grown = plan_tags(codes, as_stored, SETTINGS)
    assert grown.levels is not None
    assert len(grown.levels) == 1  # still one level, never a second copy in front
    assert grown.added == ("BETA02",)
