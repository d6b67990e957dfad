"""``expense-bridge demo``: both emulators on loopback HTTP, a seeded company, two syncs.

Steps: serve both emulators on 127.0.0.1 (ephemeral ports), seed them from
:func:`build_company` through their control planes, write a temporary configuration and
vault, run a full sync with a progress display, print a summary (documents created by
type, totals by GL account, tax-categorised lines, bills moved out of a closed period,
held reports with their fixes, API calls per side and the Expensify 429s of each run), run
a second sync that must create nothing, then the accounting-depth stage
(:mod:`._accounting`): last month is closed for AP, so the main connection
(``closed_period = "next_open"``) posted bills dated in it into this month; a second
policy is synced by a second connection as expense claims with receipts attached and two
taxed lines in its tax zone (one claim held in the closed period, one dead receipt link a
warning), twice, the second creating nothing. Then one report's audit trail is shown and
both servers stop. The exit code is 1 when the second sync (of either connection) or
provisioning changed anything,
no claim was posted, or Expensify answered any request with 429 (the client's rate
limiter keeps a margin, so there should be none). Nothing is left running and the
temporary directory is removed.
"""

from __future__ import annotations

import itertools
import json
import secrets
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from acumatica_client.emulator import AcumaticaEmulator
from expensify_client import Expense, ReportState
from expensify_client.emulator import ExpenseSpec, ExpensifyEmulator

from .._cli import _default_console, render_audit, render_provisioning
from .._config import AcumaticaSettings, BridgeConfig, ExpensifySettings
from .._factory import open_clients
from .._results import Action, SyncResult
from .._store import SQLiteStore
from .._sync import sync
from .._vault import (
    ACUMATICA_CLIENT_SECRET,
    ACUMATICA_PASSWORD,
    EXPENSIFY_PARTNER_SECRET,
    CredentialVault,
)
from ..provisioning import PolicyRule, ProvisioningSettings, provision_all
from ._accounting import (
    CLAIMS_CONNECTION,
    CLAIMS_POLICY_ID,
    CLAIMS_POLICY_NAME,
    CLAIMS_TAX_ZONE,
    accounting_rows,
    claim_reports,
    claims_categories,
    claims_members,
    claims_rules,
    closed_month,
    main_rules,
)
from ._company import Company, build_company

__all__ = [
    "acumatica_rows",
    "run_demo",
    "seed_acumatica",
    "seed_expensify_policy",
    "seed_expensify_reports",
]

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
    for entity, rows in accounting_rows(company).items():
        seeded[entity] = emulator.seed(entity, rows)
    return seeded


def _expense_spec(expense: Expense) -> ExpenseSpec:
    """The Expensify emulator's seed for one expense (GL codes come from the policy)."""
    return ExpenseSpec(
        amount_cents=expense.amount_cents,
        currency=expense.currency,
        created=expense.created,
        merchant=expense.merchant,
        category=expense.category,
        tags=expense.tags,
        comment=expense.comment,
        reimbursable=expense.reimbursable,
        billable=expense.billable,
        transaction_id=expense.transaction_id,
        modified_amount_cents=expense.modified_amount_cents,
        converted_amount_cents=expense.converted_amount_cents,
        currency_conversion_rate=expense.currency_conversion_rate,
        modified_merchant=expense.modified_merchant,
        modified_created=expense.modified_created,
        inserted=expense.inserted,
        mcc=expense.mcc,
        bank=expense.bank,
        card_id=expense.card_id,
        receipt_url=expense.receipt_url,
        has_tax=expense.has_tax,
        tax_amount_cents=expense.tax_amount_cents,
        tax_name=expense.tax_name,
        tax_rate=expense.tax_rate,
        tax_code=expense.tax_code,
    )


def seed_expensify_policy(emulator: ExpensifyEmulator, company: Company, *, secret: str) -> None:
    """The partner account and the policy: categories with GL codes, project tags.

    Members are NOT seeded from Acumatica: provisioning adds them. Only people Acumatica
    does not know (the new hire without an employee record) are members already, as
    someone added them by hand in Expensify.
    """
    policy = company.policy
    known = {p.email.lower() for p in company.people if p.vendor_id is not None}
    emulator.add_account(_PARTNER_USER_ID, secret, email=company.policy_owner)
    emulator.add_policy(
        policy.policy_id,
        policy.name,
        owner=company.policy_owner,
        output_currency=policy.output_currency or "USD",
        categories=list(policy.categories),
        tag_levels=list(policy.tag_levels),
        report_fields=list(policy.report_fields),
        employees=[e for e in policy.employees if e.email.lower() not in known],
    )


def seed_expensify_reports(emulator: ExpensifyEmulator, company: Company) -> int:
    """Every report with its workflow (submitted, approved, reimbursed) at its timestamps.

    The company never reimburses a card-only report (the emulator, like Expensify, refuses:
    nothing is owed to the employee, so such a report is final at APPROVED).
    """
    for report in company.reports:
        emulator.add_report(
            report.policy_id,
            submitter=report.account_email,
            report_id=report.report_id,
            name=report.report_name,
            currency=report.currency,
            expenses=[_expense_spec(e) for e in report.expenses],
            created=report.created,
        )
        if report.submitted is not None:
            emulator.submit(report.report_id, report.submitted)
        if report.approved is not None:
            emulator.approve(report.report_id, report.approved, by=report.manager_email)
        if report.reimbursed is not None:
            emulator.reimburse(report.report_id, report.reimbursed)
    return len(company.reports)


def expensify_429s(log: Sequence[Any]) -> int:
    """How many of the emulator's logged answers were rate-limit refusals (HTTP 429, or
    ``responseCode`` 429 in a 200 envelope)."""
    return sum(1 for r in log if r.http_status == 429 or r.response_code == 429)


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


def moved_bills(emulator: Any) -> int:
    """Bills whose ``PostPeriod`` is not their date's period (moved out of a closed one)."""
    moved = 0
    for bill in emulator.records("Bill"):
        day, period = bill.get("Date"), _text(bill.get("PostPeriod"))
        if isinstance(day, date) and period and period != f"{day.month:02d}{day.year:04d}":
            moved += 1
    return moved


def bill_tax_categories(emulator: Any) -> Counter[str]:
    """Bill lines in the emulated ledger by their ``TaxCategory`` (lines without one left out)."""
    found: Counter[str] = Counter()
    for bill in emulator.records("Bill"):
        for line in bill.get("Details") or ():
            category = _text(line.get("TaxCategory"))
            if category:
                found[category] += 1
    return found


def claim_tax_lines(emulator: Any) -> Counter[tuple[str, str]]:
    """Claim lines with a ``TaxCategory``, by ``(zone, category)`` (the line's ``TaxZone``)."""
    found: Counter[tuple[str, str]] = Counter()
    for claim in emulator.records("ExpenseClaim"):
        for line in claim.get("Details") or ():
            category = _text(line.get("TaxCategory"))
            if category:
                found[(_text(line.get("TaxZone")) or "-", category)] += 1
    return found


def _print_summary(
    console: Console, company: Company, emulator: AcumaticaEmulator, result: SyncResult
) -> None:
    documents, by_account = ledger_summary(emulator)
    table = Table(title="Documents created in Acumatica", min_width=32)
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
    taxed = bill_tax_categories(emulator)
    console.print(
        f"Bill lines with a tax category (hotel VAT abroad, rules.tax_categories): "
        f"{sum(taxed.values())}"
        + (f" ({', '.join(f'{c} {n}' for c, n in sorted(taxed.items()))})" if taxed else "")
        + "."
    )
    moved = moved_bills(emulator)
    console.print(
        f"Bills dated in a period closed for AP, posted into the next open period "
        f"(rules.closed_period = 'next_open', date kept): {moved}."
    )
    held = Table(title="Held reports (need an admin)")
    for column in ("report", "submitter", "problem", "fix"):
        held.add_column(column)
    for outcome in result.outcomes:
        if outcome.action is not Action.HELD:
            continue
        report = next((r for r in company.reports if r.report_id == outcome.report_id), None)
        held.add_row(
            outcome.report_id,
            report.account_email if report else "",
            ", ".join(p.code.value for p in outcome.problems),
            " ".join(p.fix for p in outcome.problems),
        )
    console.print(held)


def _seeded_reports_line(company: Company, count: int) -> str:
    states = Counter(r.status for r in company.reports)
    card_only = sum(1 for r in company.reports if not any(e.reimbursable for e in r.expenses))
    return (
        f"Seeded {count} reports in Expensify: {states[ReportState.REIMBURSED]} reimbursed, "
        f"{states[ReportState.APPROVED]} approved ({card_only} card-only, final at APPROVED: "
        "nothing to reimburse)."
    )


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
        rules=main_rules(company),
        # The company's reports span about six weeks (expenses up to three weeks before
        # their trip): the first sync looks back far enough to pull every one of them.
        initial_lookback=timedelta(days=90),
        state_path=tmp / "state.sqlite3",
        vault_path=tmp / "vault.fernet",
        provisioning=ProvisioningSettings(
            default_policy=company.policy.policy_id,
            policy_rule=PolicyRule(by="department"),
            top_approver=company.policy_owner,
        ),
    )


@contextmanager
def _servers(acumatica: Any, expensify: Any) -> Iterator[tuple[str, str, str]]:
    with ExitStack() as stack:
        acu = stack.enter_context(acumatica.serve())
        exp = stack.enter_context(expensify.serve())
        yield acu.base_url, getattr(exp, "url", exp.base_url), str(exp.base_url).rstrip("/")


# --------------------------------------------------------------------- expense claims


def seed_claims_policy(emulator: ExpensifyEmulator, company: Company, receipts_base: str) -> int:
    """The Field Services policy, its reports (approved) and their receipts; the count."""
    emulator.add_policy(
        CLAIMS_POLICY_ID,
        CLAIMS_POLICY_NAME,
        owner=company.policy_owner,
        categories=claims_categories(company),
        employees=claims_members(company),
    )
    reports = claim_reports(company, receipts_base)
    for report in reports:
        for name, content, kind in report.receipts:
            emulator.add_receipt(name, content, kind)
        rid = emulator.add_report(
            CLAIMS_POLICY_ID,
            submitter=report.submitter,
            name=report.name,
            currency="USD",
            expenses=list(report.expenses),
            created=report.created,
        )
        emulator.submit(rid, report.submitted)
        emulator.approve(rid, report.approved, by=company.policy_owner)
    return len(reports)


def claims_summary(emulator: Any) -> list[tuple[str, str, str, str, int]]:
    """``(RefNbr, claimant, total, status, files)`` of every claim in the ledger."""
    rows = []
    for claim in emulator.records("ExpenseClaim"):
        ref = _text(claim.get("RefNbr"))
        files = dict(emulator.files("ExpenseClaim", ref))
        for line in claim.get("Details") or ():  # receipts on lines (rules.receipts_on)
            files.update(emulator.backend.files.get(str(line.get("id")), {}))
        total = f"{_wire_decimal(claim.get('ClaimTotal')):,.2f}"
        rows.append((ref, _text(claim.get("ClaimedBy")), total, _text(claim.get("Status")),
                     len(files)))  # fmt: skip
    return sorted(rows)


def _print_claims(console: Console, emulator: Any, result: SyncResult) -> None:
    table = Table(title="Expense claims (connection demo-claims)")
    for column in ("claim", "claimed by", "total", "status", "receipts"):
        table.add_column(column, justify="right" if column in ("total", "receipts") else "left")
    for ref, who, total, status, files in claims_summary(emulator):
        table.add_row(ref, who, total, status, str(files))
    console.print(table)
    taxed = claim_tax_lines(emulator)
    console.print(
        f"Taxed claim lines (rules.tax_categories, tax zone {CLAIMS_TAX_ZONE} from "
        f"rules.tax_zone on each claim and line; the tenant computes the tax): "
        f"{sum(taxed.values())}"
        + (f" ({', '.join(f'{c} in {z} {n}' for (z, c), n in sorted(taxed.items()))})"
           if taxed else "")
        + "."
    )  # fmt: skip
    for outcome in result.outcomes:
        for problem in outcome.problems:
            console.print(f"Held {outcome.report_id}: {problem.code.value}: {problem.message}")
        for warning in outcome.warnings:
            console.print(f"Warning {outcome.report_id}: {warning}")


def _run_claims_stage(
    console: Console, company: Company, config: BridgeConfig, *, acumatica: Any,
    expensify: ExpensifyEmulator, receipts_base: str, store: SQLiteStore, clients: Any,
) -> tuple[SyncResult, SyncResult, int, bool]:  # fmt: skip
    """Seed Field Services, sync it twice as expense claims; ``(first, second, created
    again)``."""
    acu_client, exp_client = clients
    year, month = closed_month(company.today)
    console.rule("[bold]Expense claims[/] (second connection, second policy)")
    count = seed_claims_policy(expensify, company, receipts_base)
    console.print(
        f"Seeded policy {CLAIMS_POLICY_NAME} with {count} approved reports and their receipts. "
        f"Connection {CLAIMS_CONNECTION}: reimbursable_target = 'expense_claim', "
        "claim_stage = 'submit', attach_receipts = true. Period "
        f"{month:02d}-{year} is closed for AP: the main connection posted bills dated in it "
        "into the next open period (closed_period = 'next_open', PostPeriod set, date kept); "
        "this connection holds a claim dated in it instead (closed_period = 'hold')."
    )
    claims_config = attrs.evolve(
        config, connection=CLAIMS_CONNECTION, policies=(CLAIMS_POLICY_ID,),
        rules=claims_rules(company), provisioning=attrs.evolve(config.provisioning),
    )  # fmt: skip
    first = sync(claims_config, acumatica=acu_client, expensify=exp_client, store=store)
    _print_claims(console, acumatica, first)
    late = [r for r in claim_reports(company, receipts_base) if r.late]
    for report in late:  # the dead receipt links answer now
        for name, content, kind in report.late:
            expensify.add_receipt(name, content, kind)
    on_lines = claim_line_receipts(acumatica)
    console.print(
        f"Receipts on claim lines (rules.receipts_on = 'line', each line's files:put link): "
        f"{on_lines}. The dead receipt link of {', '.join(r.name for r in late)} answers now: "
        "the second sync re-exports just that report and attaches the receipt to its line "
        "(a retry, rules.receipt_attempts), without posting anything again."
    )
    before = len(acumatica.records("ExpenseClaim"))
    second = sync(claims_config, acumatica=acu_client, expensify=exp_client, store=store)
    retried = claim_line_receipts(acumatica) - on_lines
    console.print(f"Second claims sync: {retried} receipt(s) attached on retry.")
    created = len(acumatica.records("ExpenseClaim")) - before
    return first, second, created, retried == sum(len(r.late) for r in late) > 0


def claim_line_receipts(emulator: Any) -> int:
    """Receipts attached to expense claim lines (``receipt-*`` files of the lines)."""
    files = emulator.backend.files
    return sum(
        1
        for claim in emulator.records("ExpenseClaim")
        for line in claim.get("Details") or ()
        for name in files.get(str(line.get("id")), {})
        if name.startswith("receipt-")
    )


def run_demo(*, console: Console, today: date | None = None, json_output: bool = False) -> int:
    """Run the demo (see the module docstring); returns the exit code (0 on success).

    With ``json_output`` the narrative goes to stderr and ``console`` receives only one
    JSON document: both sync results, the Expensify 429s of each run and ``ok``.
    """
    out = console
    if json_output:
        console = _default_console(sys.stderr)
    today = today or datetime.now(UTC).date()
    company = build_company(7, today=today)
    password, client_secret = secrets.token_urlsafe(16), secrets.token_urlsafe(24)
    partner_secret = secrets.token_urlsafe(24)
    acumatica = AcumaticaEmulator(
        users={_API_USER: password},
        tenant="Northwind",
        oauth_clients={"expense-bridge@Northwind": client_secret},
    )
    expensify = ExpensifyEmulator()
    console.rule(f"[bold]{company.name}[/] demo ({today:%Y-%m-%d})")
    seeded = seed_acumatica(acumatica, company)
    seed_expensify_policy(expensify, company, secret=partner_secret)
    console.print(
        f"Seeded Acumatica: {', '.join(f'{n} {e}' for e, n in sorted(seeded.items()))}; "
        f"Expensify: policy {company.policy.policy_id} ({len(company.policy.categories)} "
        "categories with GL codes, client projects as tags). Expensify's policy getter "
        "answers categories without GL codes (its documented shape): each line's account "
        "comes from the export's categoryGlCode."
    )
    with tempfile.TemporaryDirectory(prefix="expense-bridge-demo-") as tmp_name:
        tmp = Path(tmp_name)
        with _servers(acumatica, expensify) as (acu_url, exp_url, exp_base):
            config = _demo_config(
                company, acumatica_url=acu_url, version=acumatica.version,
                expensify_url=exp_url, tmp=tmp,
            )  # fmt: skip
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
            store = SQLiteStore(config.state_path)
            with open_clients(config, vault=vault) as (acu_client, exp_client):
                marks = [len(expensify.request_log)]
                with console.status("Provisioning employees, categories and tags…"):
                    provisioned = provision_all(config, acumatica=acu_client, expensify=exp_client)
                marks.append(len(expensify.request_log))
                render_provisioning(console, provisioned)
                count = seed_expensify_reports(expensify, company)
                console.print(_seeded_reports_line(company, count))
                with Progress(console=console, transient=True) as bar:
                    task = bar.add_task("First sync: posting", total=None)

                    def progress(step: str, done: int, total: int) -> None:
                        bar.update(task, completed=done, total=total)

                    first = sync(config, acumatica=acu_client, expensify=exp_client,
                                 store=store, progress=progress)  # fmt: skip
                marks.append(len(expensify.request_log))
                _print_summary(console, company, acumatica, first)
                before = ledger_summary(acumatica)[0]
                with console.status("Second sync: nothing new should be posted…"):
                    second = sync(config, acumatica=acu_client, expensify=exp_client,
                                  store=store)  # fmt: skip
                marks.append(len(expensify.request_log))
                after = ledger_summary(acumatica)[0]
                with console.status("Provisioning again: nothing should change…"):
                    again = provision_all(config, acumatica=acu_client, expensify=exp_client)
                marks.append(len(expensify.request_log))
                claims_first, claims_second, claims_again, claims_retried = _run_claims_stage(
                    console, company, config, acumatica=acumatica, expensify=expensify,
                    receipts_base=exp_base, store=store, clients=(acu_client, exp_client),
                )  # fmt: skip
                marks.append(len(expensify.request_log))
            log = expensify.request_log
            throttled = [expensify_429s(log[a:b]) for a, b in itertools.pairwise(marks)]
            created_again = sum(after.values()) - sum(before.values())
            calls = Table(title="API calls")
            for column in ("run", "Acumatica", "Expensify", "Expensify 429s"):
                calls.add_column(column, justify="right" if column != "run" else "left")
            calls.add_row("provisioning", "-", str(provisioned.expensify_calls), str(throttled[0]))
            calls.add_row("first sync", str(first.calls.acumatica), str(first.calls.expensify),
                          str(throttled[1]))  # fmt: skip
            calls.add_row("second sync", str(second.calls.acumatica),
                          str(second.calls.expensify), str(throttled[2]))  # fmt: skip
            calls.add_row("provisioning again", "-", str(again.expensify_calls), str(throttled[3]))
            calls.add_row("claims syncs (two)",
                          str(claims_first.calls.acumatica + claims_second.calls.acumatica),
                          str(claims_first.calls.expensify + claims_second.calls.expensify),
                          str(throttled[4]))  # fmt: skip
            console.print(calls)
            changes_again = len(again.employees.plan.changes)
            categories_again = sum(len(p.changes) for p in again.categories.category_plans)
            tags_again = sum(1 for p in again.tags.tag_plans if p.levels is not None)
            posted_again = sum(1 for o in second.outcomes if o.action is Action.POSTED)
            total_429s = sum(throttled)
            ok = created_again == posted_again == changes_again == 0
            ok = ok and categories_again == tags_again == 0
            ok = ok and total_429s == 0
            claims_posted = sum(1 for o in claims_first.outcomes if o.action is Action.POSTED)
            claims_posted_again = sum(
                1 for o in claims_second.outcomes if o.action is Action.POSTED
            )
            ok = ok and claims_posted > 0 and claims_posted_again == claims_again == 0
            ok = ok and claims_retried  # the receipt that failed once is on its line now
            console.print(
                f"Second sync pulled {second.pulled} reports, posted {posted_again} and created "
                f"{created_again} documents; second provisioning found {changes_again} employee "
                f"changes, {categories_again} category changes and {tags_again} tag lists to "
                f"send; Expensify answered {total_429s} requests with 429 (rate limited) "
                f"({'as expected' if ok else 'UNEXPECTED'})."
            )
            console.print(
                f"Claims: the first sync posted {claims_posted} expense claims; the second "
                f"posted {claims_posted_again} and created {claims_again} claims."
            )
            shown = next((o.report_id for o in first.outcomes if o.action is Action.POSTED), None)
            if shown is not None:
                render_audit(console, shown, store.audit_trail(shown, config.connection))
            store.close()
    if json_output:
        runs = ("provisioning", "first_sync", "second_sync", "provisioning_again", "claims")
        doc = {
            "ok": ok,
            "first": first.to_dict(),
            "second": second.to_dict(),
            "claims_first": claims_first.to_dict(),
            "claims_second": claims_second.to_dict(),
            "expensify_429s": dict(zip(runs, throttled, strict=True)),
        }
        out.file.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        out.file.flush()
    return 0 if ok else 1
