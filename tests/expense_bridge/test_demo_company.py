"""The demo company: deterministic, realistic, and with exactly two designed problems."""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from expense_bridge.demo import build_company
from expense_bridge.demo._company import UNKNOWN_CATEGORY
from expense_bridge.demo._run import acumatica_rows
from expensify_client import ReportState

TODAY = date(2025, 6, 30)


@pytest.fixture(scope="module")
def company():
    return build_company(7, today=TODAY)


def test_deterministic_for_a_seed(company):
    assert build_company(7, today=TODAY) == company
    other = build_company(8, today=TODAY)
    assert other != company
    assert [r.report_id for r in other.reports] != [r.report_id for r in company.reports]


def test_staff_and_manager_chain(company):
    people = {p.employee_id: p for p in company.people}
    assert 280 <= len(people) <= 320
    assert len({p.email.lower() for p in company.people}) == len(people)
    (ceo,) = [p for p in company.people if p.reports_to is None]
    for person in company.people:
        seen, current = set(), person
        while current.reports_to is not None:
            assert current.employee_id not in seen, "cycle in the reports-to chain"
            seen.add(current.employee_id)
            current = people[current.reports_to]
        assert current == ceo
    for dept in company.departments:
        assert people[dept.manager_id].department_id in {dept.department_id, "EXEC"}
        assert any(p.department_id == dept.department_id for p in company.people)


def test_chart_of_accounts_and_policy(company):
    accounts = {a.code: a for a in company.accounts}
    for category in company.policy.categories:
        assert category.gl_code in accounts, category
        assert accounts[category.gl_code].type == "Expense"
        assert category.gl_code.startswith("6")
    for code in (
        company.ap_account,
        company.employee_liability_account,
        company.card_liability_account,
    ):
        assert accounts[code].type == "Liability"
    (level,) = company.policy.tag_levels
    assert level.name == "Project"
    assert {t.gl_code for t in level.tags} == {p.project_id for p in company.projects}
    assert 18 <= len(company.projects) <= 22
    assert 2 <= len(company.branches) <= 3
    assert all(p.tasks for p in company.projects)


def test_vendors(company):
    vendors = {v.vendor_id: v for v in company.vendors}
    without = [p for p in company.people if p.vendor_id is None]
    assert len(without) == 1
    assert all(vendors[p.vendor_id].email == p.email for p in company.people if p.vendor_id)
    assert [v.kind for v in company.vendors].count("card_issuer") == 1
    assert company.card_vendor_id in vendors
    rows = acumatica_rows(company)
    assert without[0].employee_id not in {e["EmployeeID"] for e in rows["Employee"]}


def test_reports_are_realistic(company):
    reports = company.reports
    assert 140 <= len(reports) <= 160
    assert len({r.report_id for r in reports}) == len(reports)
    ids = [e.transaction_id for r in reports for e in r.expenses]
    assert len(set(ids)) == len(ids)
    assert {r.status for r in reports} == {ReportState.APPROVED, ReportState.REIMBURSED}
    currencies = Counter(e.currency for r in reports for e in r.expenses)
    assert {"USD", "EUR", "GBP", "JPY"} <= set(currencies)
    assert any(not e.reimbursable for r in reports for e in r.expenses)
    assert any(e.amount_cents < 0 for r in reports for e in r.expenses)
    for report in reports:
        assert report.expenses
        assert report.currency == "USD"
        assert report.submitted is not None
        assert report.approved is not None
        assert report.created <= report.submitted <= report.approved
        assert report.approved.date() < TODAY
        assert report.approved.date() > TODAY - timedelta(days=70)
        total = 0
        for e in report.expenses:
            assert isinstance(e.amount_cents, int)
            if e.currency == "USD":
                assert e.converted_amount_cents is None
                total += e.amount_cents
            else:
                assert e.converted_amount_cents is not None
                assert e.currency_conversion_rate is not None
                if e.currency == "JPY":
                    assert e.amount_cents % 100 == 0  # whole yen
                total += e.converted_amount_cents
        assert report.total_cents == total
        assert total > 0


def test_exactly_the_two_designed_problems(company):
    """Structurally: only the designed reports break the policy or the vendor list."""
    categories = {c.name for c in company.policy.categories}
    has_vendor = {v.email for v in company.vendors if v.email}
    problems = {}
    for report in company.reports:
        found = set()
        if any(e.category not in categories for e in report.expenses):
            found.add("CATEGORY_UNKNOWN")
        if report.account_email not in has_vendor:
            found.add("SUBMITTER_NO_VENDOR")
        if found:
            problems[report.report_id] = found
    assert problems == {h.report_id: {h.code} for h in company.held}
    assert len(company.held) == 2
    gift = next(h for h in company.held if h.code == "CATEGORY_UNKNOWN")
    assert UNKNOWN_CATEGORY in gift.reason
    assert all(h.fix for h in company.held)


def test_the_mapping_holds_exactly_the_designed_reports(company):
    from expense_bridge._errors import MappingError
    from expense_bridge.mapping import plan_report

    rules, catalog = company.rules(), company.catalog()
    held = {}
    kinds = Counter()
    for report in company.reports:
        try:
            for doc in plan_report(
                report, policy=company.policy, catalog=catalog, rules=rules, posting_date=TODAY
            ):
                kinds[doc.kind.name] += 1
        except MappingError as exc:
            held[report.report_id] = {p.code.name for p in exc.problems}
    assert held == {h.report_id: {h.code} for h in company.held}
    assert kinds["BILL"] >= 140
    assert kinds["JOURNAL"] >= 10


def _card_only(report):
    return not any(e.reimbursable for e in report.expenses)


def test_card_only_reports_stay_approved(company):
    """Expensify never reimburses a report with nothing reimbursable: it is final at APPROVED."""
    card_only = [r for r in company.reports if _card_only(r)]
    assert card_only, "the company has an all-card report"
    for report in card_only:
        assert report.status is ReportState.APPROVED, report.report_id
        assert report.reimbursed is None
    reimbursed = [r for r in company.reports if r.status is ReportState.REIMBURSED]
    assert reimbursed, "some reimbursable reports are paid (the cash trigger has work)"
    assert all(r.reimbursed is not None and not _card_only(r) for r in reimbursed)
    assert any(r.status is ReportState.APPROVED and not _card_only(r) for r in company.reports)


@pytest.mark.parametrize("seed", [7, 8, 11])
def test_the_faithful_expensify_emulator_accepts_the_seeding(seed):
    """Every report's workflow is one the emulator (like Expensify) allows, in any company."""
    from expense_bridge.demo._run import seed_expensify_policy, seed_expensify_reports
    from expensify_client.emulator import ExpensifyEmulator

    company = build_company(seed, today=TODAY)
    emulator = ExpensifyEmulator()
    seed_expensify_policy(emulator, company, secret="demo-secret")
    assert seed_expensify_reports(emulator, company) == len(company.reports)
    for report in company.reports:
        assert emulator.report(report.report_id)["state"] == report.status.value, report


def test_expensify_429s_counts_both_envelopes():
    from expense_bridge.demo._run import expensify_429s
    from expensify_client.emulator import LoggedRequest

    def logged(http_status, response_code):
        return LoggedRequest(at=datetime(2025, 6, 30, tzinfo=UTC), method="POST",
                             path="/Integration-Server/ExpensifyIntegrations", job="file",
                             partner_user_id="p", http_status=http_status,
                             response_code=response_code, retry_count=None)  # fmt: skip

    log = [logged(200, 200), logged(429, 429), logged(200, 429), logged(200, None)]
    assert expensify_429s(log) == 2
    assert expensify_429s(log[:1]) == 0


def test_non_terminal_console_keeps_lines_whole_and_rules_short():
    from expense_bridge._cli import RULE_WIDTH, _default_console

    out = io.StringIO()
    console = _default_console(out)
    assert not console.is_terminal
    email = "approver.with.a.very.long.address@" + "subsidiary" * 30 + ".example.com"
    console.rule("Northwind Advisory LLP demo")
    console.print(f"held for {email}")
    rule, line = out.getvalue().splitlines()
    assert "Northwind Advisory LLP demo" in rule
    assert len(rule) == RULE_WIDTH
    assert line == f"held for {email}"


def test_hotel_tax_abroad_is_included_and_mapped(company):
    """Foreign hotel bills carry their VAT (inside the amount); every code is mapped."""
    from expense_bridge.demo._company import TAX_CATEGORIES

    taxed = [e for r in company.reports for e in r.expenses if e.has_tax]
    assert {e.tax_code for e in taxed} <= set(TAX_CATEGORIES)
    assert len({e.tax_code for e in taxed}) >= 3
    assert dict(company.rules().tax_categories) == TAX_CATEGORIES
    for expense in taxed:
        assert expense.category == "Lodging"
        assert expense.currency != "USD"
        assert expense.tax_rate is not None
        assert expense.tax_amount_cents is not None
        rate = expense.tax_rate / 100
        net = expense.amount_cents - expense.tax_amount_cents
        # tax-inclusive: the tax is the rate applied to the net, to the nearest minor unit
        # (whole yen for JPY, whose amounts are in hundredths)
        unit = 100 if expense.currency == "JPY" else 1
        assert abs(net * rate - expense.tax_amount_cents) <= unit, expense
        if expense.currency == "JPY":
            assert expense.tax_amount_cents % 100 == 0
    assert not any(e.has_tax for r in company.reports for e in r.expenses if e.currency == "USD")


def test_taxed_bill_lines_get_their_tax_category(company):
    from expense_bridge._tax import plan_with_tax, tax_code_of
    from expense_bridge.mapping import plan_report

    rules, catalog = company.rules(), company.catalog()
    held_ids = {h.report_id for h in company.held}
    seen = Counter()
    for report in company.reports:
        if report.report_id in held_ids or not any(e.has_tax for e in report.expenses):
            continue
        docs = plan_with_tax(
            lambda r=report: plan_report(
                r, policy=company.policy, catalog=catalog, rules=rules, posting_date=TODAY
            ),
            report,
            rules,
        )
        (bill,) = [d.document for d in docs if d.kind.name == "BILL"]
        reimbursable = [e for e in report.expenses if e.reimbursable]
        for expense, line in zip(reimbursable, bill.details, strict=True):
            code = tax_code_of(expense)
            expected = None if code is None else rules.tax_categories[code]
            actual = line.tax_category if isinstance(line.tax_category, str) else None
            assert actual == expected, (report.report_id, expense.transaction_id)
            seen[expected] += 1
    assert seen["VATGB"] > 0
    assert seen["VATEU"] > 0
    assert seen["CTJP"] > 0


@pytest.mark.loopback
def test_the_demo_runs_clean_end_to_end(capsys):
    """The README's first command: exit 0, nothing new on the second sync, zero 429s.

    Run with ``--json``: stdout holds only the JSON document, the narrative goes to stderr
    (a non-terminal console: whole lines, rules 100 wide). Waits on the Expensify
    emulator's real 5-per-10 s and 20-per-60 s limits (about a minute with the claims
    connection's two syncs).
    """
    from rich.console import Console

    from expense_bridge._cli import RULE_WIDTH
    from expense_bridge.demo._run import run_demo

    today = datetime.now(UTC).date()
    out = io.StringIO()
    code = run_demo(console=Console(file=out, width=80), today=today, json_output=True)
    text = capsys.readouterr().err
    assert code == 0, text
    doc = json.loads(out.getvalue())
    assert doc["ok"] is True
    assert doc["expensify_429s"] == {
        "provisioning": 0, "first_sync": 0, "second_sync": 0, "provisioning_again": 0,
        "claims": 0,
    }  # fmt: skip
    company = build_company(7, today=today)
    assert doc["first"]["pulled"] == len(company.reports)
    assert doc["first"]["counts"]["posted"] == len(company.reports) - len(company.held)
    held = {o["report_id"] for o in doc["first"]["outcomes"] if o["action"] == "held"}
    assert held == {h.report_id for h in company.held}
    assert doc["second"]["counts"]["posted"] == 0
    assert doc["second"]["outcomes"] == []
    first_line = text.splitlines()[0]
    assert "Northwind Advisory LLP" in first_line
    assert len(first_line) == RULE_WIDTH
    assert "Second sync pulled 0 reports, posted 0 and created 0 documents" in text
    assert "Expensify answered 0 requests with 429" in text
    assert (
        "second provisioning found 0 employee changes, 0 category changes and 0 tag lists" in text
    )
    assert "(as expected)" in text
    assert "EB-CATEGORY-UNKNOWN" in text
    assert "EB-SUBMITTER-NO-VENDOR" in text
    assert re.search(r"Bill lines with a tax category \(.*\): [1-9]", text), text
    # Accounting depth: a closed period (bills moved, a claim held), claims, receipts.
    assert re.search(r"posted into the next open period \(.*\): [1-9]", text), text
    claims = {o["report_id"]: o for o in doc["claims_first"]["outcomes"]}
    posted = [o for o in claims.values() if o["action"] == "posted"]
    assert len(posted) == 3
    assert all(d.startswith("Claim ") for o in posted for d in o["documents"])
    (held,) = [o for o in claims.values() if o["action"] == "held"]
    assert [p["code"] for p in held["problems"]] == ["EB-PERIOD-CLOSED"]
    (warned,) = [o for o in posted if o["warnings"]]
    assert "HTTP 404" in warned["warnings"][0]
    assert doc["claims_second"]["counts"].get("posted", 0) == 0
    assert "the second posted 0 and created 0 claims" in text
    assert "Expense claims (connection demo-claims)" in text
