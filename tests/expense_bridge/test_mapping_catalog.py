"""The ledger catalog the mapping checks against, built from Acumatica records."""

from __future__ import annotations

from acumatica_client import (
    Account,
    Branch,
    Contact,
    Employee,
    Project,
    ProjectTask,
    Subaccount,
    Vendor,
)
from expense_bridge._catalog import AccountInfo, LedgerCatalog


class TestLedgerCatalog:
    """Look-ups are case-insensitive for e-mails and exact for codes."""

    def test_values_are_normalised(self):
        catalog = LedgerCatalog(
            accounts=[AccountInfo(code="6100"), AccountInfo(code="6200", active=False)],
            vendor_by_email={" Ann@Firm.TEST ": "EMP1"},
            subaccounts=["000"],
            project_tasks=[("P", "T")],
            currencies=["USD"],
        )
        assert catalog.account_is_active("6100")
        assert not catalog.account_is_active("6200")
        assert not catalog.account_is_active("6300")
        assert catalog.vendor_for("ann@firm.test") == "EMP1"
        assert catalog.vendor_for("ANN@FIRM.TEST ") == "EMP1"
        assert catalog.vendor_for("bob@firm.test") is None
        assert catalog.subaccounts == frozenset({"000"})
        assert catalog.project_tasks == frozenset({("P", "T")})
        assert catalog.currencies == frozenset({"USD"})
        assert catalog.cost_codes is None

    def test_from_records(self):
        catalog = LedgerCatalog.from_records(
            accounts=[
                Account(account_cd="61000", active=True, type="Expense", description="Travel"),
                Account(account_cd="64000", active=False),
                Account(description="no code"),
            ],
            subaccounts=[
                Subaccount(subaccount_cd="000000"),
                Subaccount(subaccount_cd="9", active=False),
            ],
            employees=[
                Employee(
                    employee_id="EMP2", status="Active", contact_info=Contact(email="Ann@Firm.test")
                ),
                Employee(
                    employee_id="EMP1", status="Active", contact_info=Contact(email="ann@firm.test")
                ),
                Employee(
                    employee_id="EMP3",
                    status="Inactive",
                    contact_info=Contact(email="old@firm.test"),
                ),
                Employee(employee_id="EMP4"),
            ],
            vendors=[
                Vendor(
                    vendor_id="AMEX", status="Active", main_contact=Contact(email="ann@firm.test")
                ),
                Vendor(
                    vendor_id="VISA", status="Active", main_contact=Contact(email="cards@visa.test")
                ),
                Vendor(vendor_id="GONE", status="Inactive"),
            ],
            projects=[
                Project(project_id="P1", status="Active"),
                Project(project_id="P2", status="Planned"),
                Project(project_id="P3", status="Completed"),
                Project(project_id="P4", status="Active", hold=True),
            ],
            project_tasks=[
                ProjectTask(project_id="P1", project_task_id="T1", status="Active"),
                ProjectTask(project_id="P1", project_task_id="T9", status="Completed"),
                ProjectTask(project_id="P3", project_task_id="T1", status="Active"),
            ],
            branches=[
                Branch(branch_id="MAIN", branch_status=True),
                Branch(branch_id="OLD", branch_status=False),
            ],
            currencies=["USD", "EUR"],
        )
        assert catalog.accounts == {
            "61000": AccountInfo(code="61000", active=True, type="Expense", description="Travel"),
            "64000": AccountInfo(code="64000", active=False),
        }
        assert catalog.subaccounts == {"000000"}
        # Lowest employee ID wins a shared address; employees before vendors.
        assert catalog.vendor_by_email == {"ann@firm.test": "EMP1", "cards@visa.test": "VISA"}
        assert catalog.vendors == {"EMP1", "EMP2", "EMP4", "AMEX", "VISA"}
        assert catalog.projects == {"P1", "P2"}
        assert catalog.project_tasks == {("P1", "T1")}
        assert catalog.branches == {"MAIN"}
        assert catalog.currencies == {"USD", "EUR"}
