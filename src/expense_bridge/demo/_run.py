"""``expense-bridge demo``: both emulators on loopback HTTP, a seeded company, two syncs.

Steps: serve both emulators on 127.0.0.1 (ephemeral ports), seed them from
:func:`build_company` through their control planes, write a temporary configuration and
vault, run a full sync with a progress display, print a summary (documents created by
type, totals by GL account, held reports with their fixes, API calls per side), run a
second sync that must create nothing, show one report's audit trail, and stop both
servers. Nothing is left running and the temporary directory is removed.
"""

from __future__ import annotations

import importlib
import inspect
import secrets
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
from rich.console import Console
from rich.table import Table

from .._config import AcumaticaSettings, BridgeConfig, ExpensifySettings
from .._factory import open_clients
from .._vault import (
    ACUMATICA_CLIENT_SECRET,
    ACUMATICA_PASSWORD,
    EXPENSIFY_PARTNER_SECRET,
    CredentialVault,
)
from ._company import Company, build_company

__all__ = ["acumatica_rows", "run_demo", "seed_acumatica", "seed_expensify"]

_PARTNER_USER_ID = "aa_demo_northwind_test"
_API_USER = "expense-bridge"


# --------------------------------------------------------------------------- seeding


def acumatica_rows(company: Company) -> dict[str, list[dict[str, Any]]]:
    """The company's Acumatica reference data as wire-named rows, by entity (pure)."""
    people = [p for p in company.people if p.vendor_id is not None]
    dept = {d.department_id: d for d in company.departments}
    return {
        "Account": [
            {"AccountCD": a.code, "Description": a.description, "Type": a.type,
             "Active": a.active, "CurrencyID": company.base_currency}
            for a in company.accounts
        ],
        "Subaccount": [
            {"SubaccountCD": s.code, "Description": s.description, "Active": True}
            for s in company.subaccounts
        ],
        "Employee": [
            {
                "EmployeeID": p.employee_id,
                "EmployeeName": p.name,
                "Status": "Active",
                "ContactInfo": {"Email": p.email, "FirstName": p.first_name,
                                "LastName": p.last_name, "DisplayName": p.name,
                                "JobTitle": p.title, "Active": True},
                "EmployeeSettings": {"BranchID": p.branch_id,
                                     "DepartmentID": dept[p.department_id].department_id,
                                     "ReportsTo": p.reports_to, "EmployeeClass": "EMPSTAND",
                                     "CurrencyID": company.base_currency},
            }
            for p in people
        ],
        "Vendor": [
            {"VendorID": v.vendor_id, "VendorName": v.name, "Status": "Active",
             "VendorClass": "EMPLOYEE" if v.kind == "employee" else "CARD",
             "APAccount": v.ap_account, "CurrencyID": company.base_currency,
             **({"MainContact": {"Email": v.email}} if v.email else {})}
            for v in company.vendors
        ],
        "Project": [
            {"ProjectID": p.project_id, "Description": p.description, "Status": "Active",
             "Hold": False, "Customer": p.customer}
            for p in company.projects
        ],
        "ProjectTask": [
            {"ProjectID": p.project_id, "ProjectTaskID": task, "Description": text,
             "Status": "Active", "Default": index == 0}
            for p in company.projects
            for index, (task, text) in enumerate(p.tasks)
        ],
    }  # fmt: skip


def seed_acumatica(emulator: Any, company: Company) -> Counter[str]:
    """Seed an ``AcumaticaEmulator`` through its control plane; returns rows per entity."""
    seeded: Counter[str] = Counter()
    for entity, rows in acumatica_rows(company).items():
        seeded[entity] = emulator.seed(entity, rows)
    branches = [
        {"BranchID": b.branch_id, "BranchName": b.name, "BranchStatus": True,
         "BranchCountry": b.country, "BaseCurrencyID": b.currency,
         "CompanyID": "NORTHWIND", "CompanyName": company.name}
        for b in company.branches
    ]  # fmt: skip
    seeded["Branch"] = emulator.seed_branches(branches)
    return seeded


def _call(function: Callable[..., Any], *args: Any, **candidates: Any) -> Any:
    """Call ``function`` with the keyword arguments it accepts (the others are dropped)."""
    parameters = inspect.signature(function).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return function(*args, **candidates)
    return function(*args, **{k: v for k, v in candidates.items() if k in parameters})


def _expense_spec(expense: Any) -> Any:
    """An ``ExpenseSpec`` for the Expensify emulator built from an ``Expense`` model."""
    emulator = importlib.import_module("expensify_client.emulator")
    spec = getattr(emulator, "ExpenseSpec", None)
    if spec is None:  # the emulator takes Expense models directly
        return expense
    values = {f.name: getattr(expense, f.name) for f in attrs.fields(type(expense))}
    values.setdefault("amount", expense.amount_cents)
    values.setdefault("date", expense.created)
    values.setdefault("tag_values", expense.tags)
    return _call(spec, **values)


def seed_expensify(emulator: Any, company: Company, *, partner_user_secret: str) -> int:
    """Seed an ``ExpensifyEmulator``: the partner account, the policy, every report and its
    workflow (submitted, approved, reimbursed) at the company's timestamps."""
    policy = company.policy
    emulator.add_account(_PARTNER_USER_ID, partner_user_secret, email=company.policy_owner)
    _call(
        emulator.add_policy,
        policy.policy_id,
        policy.name,
        owner=company.policy_owner,
        output_currency=policy.output_currency or "USD",
        categories=list(policy.categories),
        tag_levels=list(policy.tag_levels),
        report_fields=list(policy.report_fields),
        employees=list(policy.employees),
    )
    for report in company.reports:
        report_id = _call(
            emulator.add_report,
            report.policy_id,
            submitter=report.account_email,
            report_id=report.report_id,
            name=report.report_name,
            currency=report.currency,
            expenses=[_expense_spec(e) for e in report.expenses],
            created=report.created,
        )
        report_id = report_id or report.report_id
        if report.submitted is not None:
            emulator.submit(report_id, report.submitted)
        if report.approved is not None:
            _call(emulator.approve, report_id, report.approved, by=report.manager_email)
        if report.reimbursed is not None:
            emulator.reimburse(report_id, report.reimbursed)
    return len(company.reports)


# --------------------------------------------------------------------------- summary


def _wire_decimal(value: Any) -> Decimal:
    if isinstance(value, Mapping):
        value = value.get("value")
    return Decimal(str(value)) if value is not None else Decimal(0)


def _text(value: Any) -> str:
    if isinstance(value, Mapping):
        value = value.get("value")
    return "" if value is None else str(value)


def ledger_summary(emulator: Any) -> tuple[Counter[str], dict[str, Decimal]]:
    """Documents in the emulated ledger by type, and net amounts by GL account."""
    documents: Counter[str] = Counter()
    by_account: dict[str, Decimal] = defaultdict(Decimal)
    for bill in emulator.records("Bill"):
        documents[f"AP {_text(bill.get('Type')) or 'Bill'}"] += 1
        sign = -1 if _text(bill.get("Type")) == "Debit Adj." else 1
        for line in bill.get("Details") or ():
            amount = line.get("ExtendedCost") or line.get("Amount")
            by_account[_text(line.get("Account"))] += sign * _wire_decimal(amount)
    for batch in emulator.records("JournalTransaction"):
        documents["GL Journal"] += 1
        for line in batch.get("Details") or ():
            net = _wire_decimal(line.get("DebitAmount")) - _wire_decimal(line.get("CreditAmount"))
            by_account[_text(line.get("Account"))] += net
    return documents, dict(by_account)


def _print_summary(console: Console, company: Company, emulator: Any, result: Any) -> None:
    documents, by_account = ledger_summary(emulator)
    table = Table(title="Documents created in Acumatica")
    table.add_column("type")
    table.add_column("count", justify="right")
    for kind, count in sorted(documents.items()):
        table.add_row(kind, str(count))
    console.print(table)
    names = {a.code: a.description for a in company.accounts}
    totals = Table(title="Net amounts by GL account (USD)")
    totals.add_column("account")
    totals.add_column("description")
    totals.add_column("amount", justify="right")
    for code, amount in sorted(by_account.items()):
        totals.add_row(code, names.get(code, ""), f"{amount:,.2f}")
    console.print(totals)
    held = Table(title="Held reports (need an admin)")
    for column in ("report", "submitter", "problem", "fix"):
        held.add_column(column)
    outcomes = getattr(result, "outcomes", None) or ()
    shown = 0
    for outcome in outcomes.values() if isinstance(outcomes, Mapping) else outcomes:
        if not str(getattr(outcome, "status", "")).endswith("HELD"):
            continue
        problems = getattr(outcome, "problems", ()) or ()
        report = next((r for r in company.reports if r.report_id == outcome.report_id), None)
        held.add_row(
            str(outcome.report_id),
            report.account_email if report else "",
            ", ".join(str(getattr(getattr(p, "code", p), "value", p)) for p in problems),
            " ".join(str(getattr(p, "fix", "")) for p in problems),
        )
        shown += 1
    if not shown:  # the sync result did not list them: show the designed ones
        for h in company.held:
            report = next(r for r in company.reports if r.report_id == h.report_id)
            held.add_row(h.report_id, report.account_email, h.reason, h.fix)
    console.print(held)


# --------------------------------------------------------------------------- the run


def _demo_config(
    company: Company, *, acumatica_url: str, version: str, expensify_url: str, tmp: Path
) -> BridgeConfig:
    return BridgeConfig(
        connection="demo",
        acumatica=AcumaticaSettings(
            base_url=acumatica_url,
            endpoint_version=version,
            username=_API_USER,
            client_id="expense-bridge@Northwind",
            requests_per_minute=6000,
            max_concurrent=4,
        ),
        expensify=ExpensifySettings(partner_user_id=_PARTNER_USER_ID, base_url=expensify_url),
        policies=(company.policy.policy_id,),
        rules=company.rules(),
        state_path=tmp / "state.sqlite3",
        vault_path=tmp / "vault.fernet",
    )


@contextmanager
def _servers(acumatica: Any, expensify: Any) -> Iterator[tuple[str, str]]:
    with ExitStack() as stack:
        acu = stack.enter_context(acumatica.serve())
        exp = stack.enter_context(expensify.serve())
        yield acu.base_url, getattr(exp, "url", exp.base_url)


def run_demo(*, console: Console, today: date | None = None, json_output: bool = False) -> int:
    """Run the demo (see the module docstring); returns the exit code (0 on success)."""
    from acumatica_client.emulator import AcumaticaEmulator

    sync_module = importlib.import_module("expense_bridge._sync")
    store_module = importlib.import_module("expense_bridge._store")
    expensify_emulator = importlib.import_module("expensify_client.emulator")

    today = today or datetime.now(UTC).date()
    company = build_company(7, today=today)
    password, client_secret = secrets.token_urlsafe(16), secrets.token_urlsafe(24)
    partner_secret = secrets.token_urlsafe(24)
    acumatica = AcumaticaEmulator(
        users={_API_USER: password},
        tenant="Northwind",
        oauth_clients={"expense-bridge@Northwind": client_secret},
    )
    expensify = expensify_emulator.ExpensifyEmulator()
    console.rule(f"[bold]{company.name}[/] demo ({today:%Y-%m-%d})")
    seeded = seed_acumatica(acumatica, company)
    seed_expensify(expensify, company, partner_user_secret=partner_secret)
    console.print(
        f"Seeded Acumatica: {', '.join(f'{n} {e}' for e, n in sorted(seeded.items()))}; "
        f"Expensify: policy {company.policy.policy_id} with {len(company.policy.employees)} "
        f"members and {len(company.reports)} reports."
    )
    with tempfile.TemporaryDirectory(prefix="expense-bridge-demo-") as tmp_name:
        tmp = Path(tmp_name)
        with _servers(acumatica, expensify) as (acu_url, exp_url):
            config = _demo_config(
                company,
                acumatica_url=acu_url,
                version=acumatica.version,
                expensify_url=exp_url,
                tmp=tmp,
            )
            (tmp / "config.toml").write_text(config.to_toml(), encoding="utf-8")
            vault = CredentialVault(config.vault_path or tmp / "vault.fernet", env={})
            vault.create_key()
            vault.set_many(
                {
                    ACUMATICA_PASSWORD: password,
                    ACUMATICA_CLIENT_SECRET: client_secret,
                    EXPENSIFY_PARTNER_SECRET: partner_secret,
                }
            )
            store = store_module.SQLiteStore(config.state_path)
            with open_clients(config, vault=vault) as (acu_client, exp_client):
                with console.status("First sync: pulling, planning and posting…"):
                    first = sync_module.sync(
                        config, acumatica=acu_client, expensify=exp_client, store=store
                    )
                _print_summary(console, company, acumatica, first)
                before = ledger_summary(acumatica)[0]
                with console.status("Second sync: nothing new should be posted…"):
                    second = sync_module.sync(
                        config, acumatica=acu_client, expensify=exp_client, store=store
                    )
                after = ledger_summary(acumatica)[0]
            calls = Table(title="API calls (both syncs)")
            calls.add_column("side")
            calls.add_column("HTTP requests", justify="right")
            calls.add_row("Acumatica", str(len(acumatica.request_log)))
            calls.add_row("Expensify", str(len(getattr(expensify, "request_log", ()))))
            console.print(calls)
            created_again = sum(after.values()) - sum(before.values())
            console.print(
                f"Second sync created {created_again} documents "
                f"({'as expected' if created_again == 0 else 'UNEXPECTED'})."
            )
            reader = getattr(store, "audit_trail", None) or getattr(store, "audit", None)
            posted = next(
                (r.report_id for r in company.reports
                 if r.report_id not in {h.report_id for h in company.held}),
                None,
            )  # fmt: skip
            if callable(reader) and posted is not None:
                from .._cli import render_audit

                render_audit(console, posted, list(reader(posted)))
            close = getattr(store, "close", None)
            if callable(close):
                close()
    del second, json_output
    return 0 if created_again == 0 else 1
