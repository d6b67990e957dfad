"""Golden examples: hand-computed documents for typical reports, and the mapping decisions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import attrs
import pytest

from acumatica_client import UNSET, Bill, BillDetail, JournalTransaction, JournalTransactionDetail
from expense_bridge._catalog import AccountInfo, LedgerCatalog
from expense_bridge._errors import ErrorCode, MappingError
from expense_bridge._keys import DocumentKind, DocumentPart
from expense_bridge._rules import (
    AcumaticaField,
    CardTarget,
    DateRule,
    PostingRules,
    ReimbursableTarget,
    TagMapping,
)
from expense_bridge.mapping import plan_report, report_to_bill, report_to_journal
from expensify_client import Category, Expense, Policy, Report, ReportState, TagLevel, TagValue

D = Decimal
POSTING_DATE = date(2025, 1, 31)

POLICY = Policy(
    policy_id="POL1",
    categories=(
        Category(name="Travel", gl_code="61000"),
        Category(name="Lodging", gl_code="62000"),
        Category(name="Meals", gl_code="63000"),
        Category(name="Gifts", gl_code=None),
    ),
    tag_levels=(TagLevel(name="Project"), TagLevel(name="Task"), TagLevel(name="Dept")),
)
CATALOG = LedgerCatalog(
    accounts=[
        AccountInfo(code="61000", type="Expense"),
        AccountInfo(code="62000", type="Expense"),
        AccountInfo(code="63000", type="Expense"),
        AccountInfo(code="64000", type="Expense", active=False),
        AccountInfo(code="21000", type="Liability"),
        AccountInfo(code="22000", type="Liability"),
    ],
    subaccounts={"000000", "100000"},
    vendor_by_email={"Ann@Firm.test": "EMP0001"},
    vendors={"EMP0001", "AMEX"},
    projects={"PRJ1", "PRJ2"},
    project_tasks={("PRJ1", "T1")},
    branches={"MAIN"},
)
RULES = PostingRules(
    employee_liability_account="21000",
    card_liability_account="22000",
    card_vendor="AMEX",
    default_branch="MAIN",
    timezone="America/New_York",
    tag_map=(
        TagMapping(level=1, field=AcumaticaField.PROJECT, values={"Alpha": "PRJ1"}),
        TagMapping(level=2, field=AcumaticaField.PROJECT_TASK, use_gl_code=False),
    ),
)


def exp(tid: str, cents: int, category: str, **kw) -> Expense:
    values = {"currency": "USD", "created": date(2024, 2, 20), "merchant": "Shop"}
    values.update(kw)
    return Expense(
        transaction_id=tid, report_id="R100", amount_cents=cents, category=category, **values
    )


def report(*expenses: Expense, **kw) -> Report:
    values = {
        "report_id": "R100",
        "report_name": "Trip to Oslo",
        "status": ReportState.APPROVED,
        "policy_id": "POL1",
        "currency": "USD",
        "total_cents": 0,
        "account_email": "ann@firm.TEST",
        "created": datetime(2024, 2, 26, tzinfo=UTC),
        "submitted": datetime(2024, 2, 28, 15, 0, tzinfo=UTC),
        "approved": datetime(2024, 3, 1, 3, 30, tzinfo=UTC),
        "expenses": expenses,
    }
    values.update(kw)
    return Report(**values)


def plan(rep: Report, *, rules: PostingRules = RULES, catalog: LedgerCatalog = CATALOG):
    return plan_report(rep, policy=POLICY, catalog=catalog, rules=rules, posting_date=POSTING_DATE)


def problems(rep: Report, **kw):
    with pytest.raises(MappingError) as info:
        plan(rep, **kw)
    return [(p.code, p.field) for p in info.value.problems]


class TestGoldenDocuments:
    """Typical reports give exactly these documents."""

    def test_usd_bill(self):
        rep = report(
            exp(
                "1",
                1234,
                "Travel",
                merchant="Uber",
                comment="airport\nrun",
                category_gl_code="61000",  # the export's code (the line account)
                tags=(
                    TagValue(level=1, name="Alpha", gl_code="IGNORED"),
                    TagValue(level=2, name="T1"),
                    TagValue(level=3, name="Sales"),  # unmapped, not required: ignored
                ),
            ),
            exp("2", 25000, "Lodging", merchant="Hotel Metropol"),
        )
        (doc,) = plan(rep)
        assert (doc.report_id, doc.part, doc.kind, doc.key) == (
            "R100",
            DocumentPart.REIMBURSABLE,
            DocumentKind.BILL,
            "EXB-R100",
        )
        assert doc.total == D("262.34")
        assert doc.currency == "USD"
        assert doc.document == Bill(
            type="Bill",
            vendor="EMP0001",
            vendor_ref="EXB-R100",
            date=date(2024, 2, 29),  # 03:30 UTC on 1 March is 29 February in New York
            description="Trip to Oslo",
            currency_id="USD",
            hold=False,
            branch_id="MAIN",
            details=(
                BillDetail(
                    account="61000",
                    branch="MAIN",
                    qty=D("1"),
                    unit_cost=D("12.34"),
                    extended_cost=D("12.34"),
                    transaction_description="Uber - airport run",
                    project="PRJ1",
                    project_task="T1",
                    non_billable=True,
                ),
                BillDetail(
                    account="62000",
                    branch="MAIN",
                    qty=D("1"),
                    unit_cost=D("250.00"),
                    extended_cost=D("250.00"),
                    transaction_description="Hotel Metropol",
                    non_billable=True,
                ),
            ),
        )
        assert str(doc.document.details[1].extended_cost) == "250.00"
        assert doc.document.terms is UNSET
        assert doc.document.amount is UNSET

    def test_eur_journal_with_a_foreign_expense(self):
        rules = attrs.evolve(
            RULES,
            reimbursable_target=ReimbursableTarget.JOURNAL,
            date_rule=DateRule.SUBMITTED,
            timezone="UTC",
            default_subaccount="000000",
        )
        rep = report(
            exp("1", 10000, "Meals", merchant="Diner", converted_amount_cents=9185),
            exp("2", 4000, "Travel", currency="EUR", merchant="Taxi", modified_amount_cents=4550),
            report_id="R200",
            report_name="Berlin",
            currency="EUR",
            submitted=datetime(2024, 5, 10, 23, 59, tzinfo=UTC),
        )
        catalog = attrs.evolve(CATALOG, currencies=frozenset({"EUR", "USD"}))
        (doc,) = plan(rep, rules=rules, catalog=catalog)
        assert (doc.kind, doc.key, doc.total, doc.currency) == (
            DocumentKind.JOURNAL,
            "EXB-R200",
            D("137.35"),
            "EUR",
        )
        zero = D("0.00")
        line = {"subaccount": "000000", "branch_id": "MAIN", "reference_nbr": "EXB-R200"}
        assert doc.document == JournalTransaction(
            module="GL",
            transaction_date=date(2024, 5, 10),
            description="EXB-R200: Berlin",
            currency_id="EUR",
            ledger_id="ACTUAL",
            hold=False,
            branch_id="MAIN",
            details=(
                JournalTransactionDetail(
                    account="63000",
                    debit_amount=D("91.85"),
                    credit_amount=zero,
                    transaction_description="Diner [USD 100.00]",  # the original amount
                    non_billable=True,
                    **line,
                ),
                JournalTransactionDetail(
                    account="61000",
                    debit_amount=D("45.50"),
                    credit_amount=zero,
                    transaction_description="Taxi",
                    non_billable=True,
                    **line,
                ),
                JournalTransactionDetail(
                    account="21000",
                    debit_amount=zero,
                    credit_amount=D("137.35"),
                    transaction_description="Expensify report R200",
                    **line,
                ),
            ),
        )
        assert [str(d.credit_amount) for d in doc.document.details] == ["0.00", "0.00", "137.35"]

    def test_jpy_amounts_have_no_decimals(self):
        rules = attrs.evolve(RULES, date_rule=DateRule.POSTING)
        rep = report(
            exp("1", 150000, "Meals", currency="JPY"),
            exp("2", 2000, "Travel", converted_amount_cents=300000),  # USD 20 -> JPY 3000
            currency="JPY",
        )
        (doc,) = plan(rep, rules=rules)
        assert doc.document.date == POSTING_DATE
        assert [str(d.unit_cost) for d in doc.document.details] == ["1500", "3000"]
        assert doc.total == D("4500")
        assert str(doc.total) == "4500"

    def test_three_decimal_currency(self):
        rep = report(exp("1", 1234, "Meals", currency="KWD"), currency="KWD")
        (doc,) = plan(rep)
        assert str(doc.document.details[0].extended_cost) == "12.340"

    def test_refund_stays_a_negative_bill_line(self):
        rep = report(exp("1", 10000, "Travel"), exp("2", -3000, "Meals", merchant="Refund"))
        (doc,) = plan(rep)
        assert doc.document.type == "Bill"
        assert [d.extended_cost for d in doc.document.details] == [D("100.00"), D("-30.00")]
        assert doc.total == D("70.00")

    def test_refund_goes_to_the_journal_credit_side(self):
        rules = attrs.evolve(RULES, reimbursable_target=ReimbursableTarget.JOURNAL)
        rep = report(exp("1", 10000, "Travel"), exp("2", -3000, "Meals"))
        (doc,) = plan(rep, rules=rules)
        pairs = [(d.account, d.debit_amount, d.credit_amount) for d in doc.document.details]
        assert pairs == [
            ("61000", D("100.00"), D("0")),
            ("63000", D("0"), D("30.00")),
            ("21000", D("0"), D("70.00")),
        ]

    def test_mixed_reimbursable_and_card(self):
        rep = report(
            exp("1", 2000, "Travel"),
            exp("2", 5000, "Lodging", reimbursable=False, merchant="Hotel"),
            exp("3", 1500, "Meals"),
        )
        bill, journal = plan(rep)
        assert (bill.key, bill.kind, bill.part, bill.total) == (
            "EXB-R100",
            DocumentKind.BILL,
            DocumentPart.REIMBURSABLE,
            D("35.00"),
        )
        assert [d.account for d in bill.document.details] == ["61000", "63000"]
        assert (journal.key, journal.kind, journal.part, journal.total) == (
            "EXB-R100-C",
            DocumentKind.JOURNAL,
            DocumentPart.CARD,
            D("50.00"),
        )
        assert journal.document.description == "EXB-R100-C: Trip to Oslo"
        pairs = [(d.account, d.debit_amount, d.credit_amount) for d in journal.document.details]
        assert pairs == [("62000", D("50.00"), D("0")), ("22000", D("0"), D("50.00"))]
        assert {d.reference_nbr for d in journal.document.details} == {"EXB-R100-C"}

    def test_card_spend_as_a_bill_to_the_card_vendor(self):
        rules = attrs.evolve(RULES, card_target=CardTarget.AP_BILL)
        rep = report(exp("1", 5000, "Lodging", reimbursable=False))
        (doc,) = plan(rep, rules=rules)
        assert (doc.key, doc.document.vendor, doc.document.vendor_ref) == (
            "EXB-R100-C",
            "AMEX",
            "EXB-R100-C",
        )

    def test_skipped_card_spend(self):
        rules = attrs.evolve(RULES, card_target=CardTarget.SKIP)
        only_card = report(exp("1", 5000, "Nope", reimbursable=False))
        assert plan(only_card, rules=rules) == ()  # not even checked
        mixed = report(exp("1", 5000, "Lodging", reimbursable=False), exp("2", 700, "Meals"))
        (doc,) = plan(mixed, rules=rules)
        assert (doc.part, doc.total) == (DocumentPart.REIMBURSABLE, D("7.00"))

    def test_net_refund_bill_becomes_a_debit_adjustment(self):
        rep = report(exp("1", -6000, "Travel"), exp("2", 1500, "Meals"))
        (doc,) = plan(rep)
        assert doc.document.type == "Debit Adj."
        assert doc.document.vendor_ref == "EXB-R100"
        assert [(d.unit_cost, d.extended_cost) for d in doc.document.details] == [
            (D("60.00"), D("60.00")),
            (D("-15.00"), D("-15.00")),
        ]
        assert doc.total == D("-45.00")

    def test_net_refund_journal_debits_the_liability(self):
        rules = attrs.evolve(RULES, reimbursable_target=ReimbursableTarget.JOURNAL)
        (doc,) = plan(report(exp("1", -6000, "Travel"), exp("2", 1500, "Meals")), rules=rules)
        pairs = [(d.account, d.debit_amount, d.credit_amount) for d in doc.document.details]
        assert pairs == [
            ("61000", D("0"), D("60.00")),
            ("63000", D("15.00"), D("0")),
            ("21000", D("45.00"), D("0")),
        ]
        assert all(not d.debit_amount.is_signed() for d in doc.document.details)


class TestDecisions:
    """The documented decisions of the mapping, each shown once."""

    @pytest.mark.parametrize(
        ("zone", "expected"),
        [("America/New_York", date(2024, 2, 29)), ("Asia/Tokyo", date(2024, 3, 1))],
    )
    def test_dates_are_taken_in_the_rules_time_zone(self, zone, expected):
        (doc,) = plan(report(exp("1", 100, "Meals")), rules=attrs.evolve(RULES, timezone=zone))
        assert doc.document.date == expected

    def test_approved_rule_falls_back_to_submitted(self):
        rep = report(exp("1", 100, "Meals"), approved=None)
        (doc,) = plan(rep, rules=attrs.evolve(RULES, timezone="UTC"))
        assert doc.document.date == date(2024, 2, 28)

    def test_submitted_rule_has_no_fallback(self):
        rules = attrs.evolve(RULES, date_rule=DateRule.SUBMITTED)
        rep = report(exp("1", 100, "Meals"), submitted=None)
        assert problems(rep, rules=rules) == [(ErrorCode.DATE_MISSING, "submitted")]

    def test_last_expense_date(self):
        rules = attrs.evolve(RULES, date_rule=DateRule.LAST_EXPENSE)
        rep = report(
            exp("1", 100, "Meals", created=date(2024, 2, 27)),
            exp("2", 100, "Meals", created=date(2024, 2, 1), modified_created=date(2024, 2, 29)),
        )
        (doc,) = plan(rep, rules=rules)
        assert doc.document.date == date(2024, 2, 29)

    @pytest.mark.parametrize(
        ("hold", "release", "expected"),
        [(False, False, False), (True, False, True), (True, True, False)],
    )
    def test_hold(self, hold, release, expected):
        (doc,) = plan(
            report(exp("1", 100, "Meals")), rules=attrs.evolve(RULES, hold=hold, release=release)
        )
        assert doc.document.hold is expected

    def test_terms_and_subaccount_defaults(self):
        rules = attrs.evolve(RULES, bill_terms="30D", default_subaccount="100000")
        (doc,) = plan(report(exp("1", 100, "Meals")), rules=rules)
        assert doc.document.terms == "30D"
        assert doc.document.details[0].subaccount == "100000"

    def test_tag_subaccount_overrides_the_default(self):
        rules = attrs.evolve(
            RULES,
            default_subaccount="100000",
            tag_map=(TagMapping(level=3, field=AcumaticaField.SUBACCOUNT),),
        )
        rep = report(
            exp("1", 100, "Meals", tags=(TagValue(level=3, name="Ops", gl_code="000000"),))
        )
        (doc,) = plan(rep, rules=rules)
        assert doc.document.details[0].subaccount == "000000"

    def test_long_texts_are_cut(self):
        rep = report(
            exp("1", 100, "Meals", merchant="M" * 200, comment="C" * 200), report_name="N" * 400
        )
        (doc,) = plan(rep)
        assert doc.document.description == "N" * 256
        assert len(doc.document.details[0].transaction_description) == 256

    def test_report_to_journal_and_bill_ignore_the_rules_target(self):
        rep = report(exp("1", 100, "Meals"), exp("2", 200, "Travel", reimbursable=False))
        kw = {"policy": POLICY, "catalog": CATALOG, "rules": RULES, "posting_date": POSTING_DATE}
        journal = report_to_journal(rep, part=DocumentPart.REIMBURSABLE, **kw)
        assert journal.kind is DocumentKind.JOURNAL
        assert journal.document.details[-1].account == "21000"
        bill = report_to_bill(rep, part=DocumentPart.CARD, **kw)
        assert (bill.document.vendor, bill.key, bill.total) == ("AMEX", "EXB-R100-C", D("2.00"))
        with pytest.raises(MappingError) as info:
            report_to_bill(report(exp("1", 100, "Meals")), part=DocumentPart.CARD, **kw)
        assert [(p.code, p.field) for p in info.value.problems] == [
            (ErrorCode.REPORT_EMPTY, "expenses")
        ]


class TestProblemDetails:
    """Specific problems name the right place, in report order."""

    def test_several_problems_in_order(self):
        rep = report(
            exp("1", 100, "Gifts"),
            exp("2", 100, "Unknown"),
            exp("3", 100, "Meals", currency="EUR"),
            exp("4", 100, "Meals", tags=(TagValue(level=1, name="Beta", gl_code="PRJ9"),)),
            account_email="nobody@firm.test",
        )
        assert problems(rep) == [
            (ErrorCode.SUBMITTER_NO_VENDOR, "account_email"),
            (ErrorCode.CATEGORY_NO_GL_CODE, "expenses[0].category"),
            (ErrorCode.CATEGORY_UNKNOWN, "expenses[1].category"),
            (ErrorCode.CONVERSION_MISSING, "expenses[2].converted_amount_cents"),
            (ErrorCode.TAG_VALUE_UNKNOWN, "expenses[3].tags[0]"),
        ]

    def test_inactive_and_missing_accounts(self):
        policy_gl = attrs.evolve(
            POLICY,
            categories=(
                *POLICY.categories,
                Category(name="Old", gl_code="64000"),
                Category(name="Gone", gl_code="69999"),
            ),
        )
        rep = report(exp("1", 100, "Old"), exp("2", 100, "Gone"))
        with pytest.raises(MappingError) as info:
            plan_report(
                rep, policy=policy_gl, catalog=CATALOG, rules=RULES, posting_date=POSTING_DATE
            )
        messages = [(p.code, p.field, p.message) for p in info.value.problems]
        assert messages == [
            (
                ErrorCode.GL_ACCOUNT_INACTIVE,
                "expenses[0].category",
                "GL account '64000' (category 'Old') is inactive in Acumatica",
            ),
            (
                ErrorCode.GL_ACCOUNT_INACTIVE,
                "expenses[1].category",
                "GL account '69999' (category 'Gone') does not exist in Acumatica",
            ),
        ]

    def test_task_needs_its_project(self):
        rep = report(
            exp("1", 100, "Meals", tags=(TagValue(level=2, name="T1"),)),
            exp(
                "2",
                100,
                "Meals",
                tags=(TagValue(level=1, name="P2", gl_code="PRJ2"), TagValue(level=2, name="T1")),
            ),
        )
        assert problems(rep) == [
            (ErrorCode.TAG_VALUE_UNKNOWN, "expenses[0].tags[0]"),
            (ErrorCode.TAG_VALUE_UNKNOWN, "expenses[1].tags[1]"),
        ]

    @pytest.mark.parametrize("currency", ["usd", "US", "U$D", "XXQ", "EURO"])
    def test_malformed_currency(self, currency):
        rep = report(exp("1", 100, "Meals", currency=currency), currency=currency)
        assert problems(rep) == [(ErrorCode.CURRENCY_UNSUPPORTED, "currency")]

    def test_currency_not_in_acumatica(self):
        catalog = attrs.evolve(CATALOG, currencies=frozenset({"EUR"}))
        rules = attrs.evolve(RULES, base_currency="EUR")
        assert problems(report(exp("1", 100, "Meals")), catalog=catalog, rules=rules) == [
            (ErrorCode.CURRENCY_UNSUPPORTED, "currency")
        ]

    def test_precision_of_converted_and_modified_amounts(self):
        rep = report(
            exp("1", 1000, "Meals", converted_amount_cents=12345),
            exp("2", 100000, "Meals", currency="JPY", modified_amount_cents=150050),
            exp("3", 100000, "Meals", currency="JPY"),
            currency="JPY",
        )
        assert problems(rep) == [
            (ErrorCode.CURRENCY_PRECISION, "expenses[0].converted_amount_cents"),
            (ErrorCode.CURRENCY_PRECISION, "expenses[1].modified_amount_cents"),
        ]

    def test_journal_targets_need_active_liability_accounts(self):
        rules = attrs.evolve(
            RULES,
            reimbursable_target=ReimbursableTarget.JOURNAL,
            employee_liability_account="64000",
            card_liability_account=None,
        )
        rep = report(exp("1", 100, "Meals"), exp("2", 100, "Meals", reimbursable=False))
        assert problems(rep, rules=rules) == [
            (ErrorCode.GL_ACCOUNT_INACTIVE, "rules.employee_liability_account"),
            (ErrorCode.CARD_TARGET_INCOMPLETE, "rules.card_liability_account"),
        ]

    def test_card_vendor_must_exist(self):
        rules = attrs.evolve(RULES, card_target=CardTarget.AP_BILL, card_vendor="VISA")
        rep = report(exp("1", 100, "Meals", reimbursable=False))
        assert problems(rep, rules=rules) == [
            (ErrorCode.CARD_TARGET_INCOMPLETE, "rules.card_vendor")
        ]

    def test_bad_time_zone(self):
        rules = attrs.evolve(RULES, timezone="Not/AZone")
        assert problems(report(exp("1", 100, "Meals")), rules=rules) == [
            (ErrorCode.RULES_INVALID, "rules.timezone")
        ]


class TestGlCodeSource:
    """The export's categoryGlCode is the line account; the getter's only as configured."""

    def _one(self, export_code, policy_code, **rules):
        policy = Policy(
            policy_id="POL1", categories=(Category(name="Travel", gl_code=policy_code),)
        )
        rep = report(exp("1", 1000, "Travel", category_gl_code=export_code))
        kwargs = {"policy": policy, "catalog": CATALOG, "posting_date": date(2024, 5, 20)}
        return plan_report(rep, rules=attrs.evolve(RULES, **rules), **kwargs)

    def test_documented_getter_shape_posts_to_the_export_code(self):
        (doc,) = self._one("62000", None)
        assert [d.account for d in doc.document.details] == ["62000"]

    def test_export_code_wins_unless_the_policy_is_preferred(self):
        (doc,) = self._one("62000", "61000")
        assert [d.account for d in doc.document.details] == ["62000"]
        (doc,) = self._one("62000", "61000", prefer_policy_gl_code=True)
        assert [d.account for d in doc.document.details] == ["61000"]
        (doc,) = self._one(None, "61000")
        assert [d.account for d in doc.document.details] == ["61000"]

    def test_neither_holds(self):
        with pytest.raises(MappingError) as caught:
            self._one(None, None)
        assert [p.code for p in caught.value.problems] == [ErrorCode.CATEGORY_NO_GL_CODE]


# ------------------------------------------- accounting depth: claims, periods, receipts


def _full_plan(rep: Report, rules: PostingRules, catalog: LedgerCatalog = CATALOG):
    """What ``sync`` plans: mapping, tax, claims and periods (``plan_or_hold``, dry)."""
    from expense_bridge._posting import plan_or_hold

    result = plan_or_hold(
        None, rep, policy=POLICY, catalog=catalog, rules=rules, posting_date=POSTING_DATE
    )
    if not isinstance(result, tuple):
        return [(p.code, p.field) for p in result.problems]
    return result


def _calendar(closed_ap: set[str], closed_gl: set[str] = frozenset()):
    from expense_bridge._periods import PeriodCalendar

    rows = []
    for month in range(1, 13):
        start = date(2024, month, 1)
        end = date(2025, 1, 1) if month == 12 else date(2024, month + 1, 1)
        pid = f"{month:02d}2024"
        rows.append({"FinancialPeriodID": pid, "StartDate": start.isoformat(),
                     "EndDate": end.isoformat(), "Status": "Closed" if pid in closed_gl else "Open",
                     "ClosedInAP": pid in closed_ap})  # fmt: skip
    return PeriodCalendar.from_records([{"FinancialYear": "2024", "Details": rows}])


CLAIM_RULES = attrs.evolve(
    RULES,
    reimbursable_target=ReimbursableTarget.EXPENSE_CLAIM,
    expense_items={"Travel": "TRAVEL", "Lodging": "HOTEL"},
)


class TestGoldenClaims:
    """The reimbursable part as one expense claim; card spend keeps its own target."""

    def test_claim_with_a_card_expense_beside_it(self):
        from acumatica_client import ExpenseClaim, ExpenseClaimDetail, ExpenseClaimFinancialDetail

        rep = report(
            exp("1", 1234, "Travel", merchant="Uber", category_gl_code="61000", billable=True,
                tags=(TagValue(level=1, name="Alpha"), TagValue(level=2, name="T1"))),
            exp("2", 25000, "Lodging", merchant="Hotel Metropol", created=date(2024, 2, 22)),
            exp("3", 800, "Travel", merchant="Cab", reimbursable=False),
            total_cents=27034,
        )  # fmt: skip
        claim, card = _full_plan(rep, CLAIM_RULES)
        assert (claim.kind, claim.key, claim.part, claim.total) == (
            DocumentKind.CLAIM, "EXB-R100", DocumentPart.REIMBURSABLE, D("262.34"),
        )  # fmt: skip
        assert claim.document == ExpenseClaim(
            claimed_by="EMP0001",
            date=date(2024, 2, 29),
            description="EXB-R100: Trip to Oslo",
            currency_id="USD",
            details=(
                ExpenseClaimDetail(
                    date=date(2024, 2, 20), description="Uber", amount=D("12.34"),
                    currency_id="USD", expense_item_id="TRAVEL", expense_account="61000",
                    expense_subaccount=UNSET, branch="MAIN", project_id="PRJ1",
                    project_task_id="T1", billable=True,
                ),
                ExpenseClaimDetail(
                    date=date(2024, 2, 22), description="Hotel Metropol", amount=D("250.00"),
                    currency_id="USD", expense_item_id="HOTEL", expense_account="62000",
                    expense_subaccount=UNSET, branch="MAIN", project_id=UNSET,
                    project_task_id=UNSET, billable=False,
                ),
            ),
            financial_details=ExpenseClaimFinancialDetail(branch="MAIN"),  # the bill's branch
        )  # fmt: skip
        assert (card.kind, card.key, card.total) == (DocumentKind.JOURNAL, "EXB-R100-C", D("8.00"))

    def test_claim_lines_carry_the_mapped_tax_category(self):
        rules = attrs.evolve(CLAIM_RULES, tax_categories={"GST10": "GSTCAT"})
        rep = report(
            exp("1", 1100, "Travel", tax_code="GST10", tax_amount_cents=100),
            exp("2", 2000, "Travel"),
            total_cents=3100,
        )
        (claim,) = _full_plan(rep, rules)
        taxed, plain = claim.document.details
        assert (taxed.tax_category, taxed.amount) == ("GSTCAT", D("11.00"))  # tax inside
        assert plain.tax_category is UNSET
        assert claim.total == D("31.00")

    def test_claim_in_a_tax_zone_with_a_taxed_line_and_a_closed_period(self):
        """rules.tax_zone: FinancialDetails.TaxZone beside the branch and the next open
        period, every line's TaxZone; the taxed line's category; no TaxAmount anywhere."""
        from acumatica_client import (
            ExpenseClaim,
            ExpenseClaimDetail,
            ExpenseClaimFinancialDetail,
            to_wire,
        )
        from expense_bridge._periods import ClosedPeriodRule

        rules = attrs.evolve(
            CLAIM_RULES,
            tax_categories={"VAT10": "HOTELVAT"},
            tax_zone="EUVAT",
            closed_period=ClosedPeriodRule.NEXT_OPEN,
        )
        catalog = attrs.evolve(
            CATALOG, tax_zones=frozenset({"EUVAT"}), periods=_calendar({"022024"})
        )
        rep = report(
            exp(
                "1",
                22000,
                "Lodging",
                merchant="Hotel Metropol",
                tax_code="VAT10",
                tax_amount_cents=2000,
                created=date(2024, 2, 22),
            ),
            exp("2", 1234, "Travel", merchant="Uber"),
            total_cents=23234,
        )
        (claim,) = _full_plan(rep, rules, catalog)
        assert (claim.kind, claim.key, claim.total) == (DocumentKind.CLAIM, "EXB-R100", D("232.34"))
        assert claim.document == ExpenseClaim(
            claimed_by="EMP0001",
            date=date(2024, 2, 29),
            description="EXB-R100: Trip to Oslo",
            currency_id="USD",
            details=(
                ExpenseClaimDetail(
                    date=date(2024, 2, 22), description="Hotel Metropol", amount=D("220.00"),
                    currency_id="USD", expense_item_id="HOTEL", expense_account="62000",
                    expense_subaccount=UNSET, branch="MAIN", project_id=UNSET,
                    project_task_id=UNSET, billable=False, tax_category="HOTELVAT",
                    tax_zone="EUVAT",
                ),
                ExpenseClaimDetail(
                    date=date(2024, 2, 20), description="Uber", amount=D("12.34"),
                    currency_id="USD", expense_item_id="TRAVEL", expense_account="61000",
                    expense_subaccount=UNSET, branch="MAIN", project_id=UNSET,
                    project_task_id=UNSET, billable=False, tax_zone="EUVAT",
                ),
            ),
            financial_details=ExpenseClaimFinancialDetail(
                branch="MAIN", post_to_period="032024", tax_zone="EUVAT"
            ),
        )  # fmt: skip
        body = to_wire(claim.document)
        assert body["FinancialDetails"] == {"Branch": {"value": "MAIN"},
                                            "PosttoPeriod": {"value": "032024"},
                                            "TaxZone": {"value": "EUVAT"}}  # fmt: skip
        assert [line["TaxZone"] for line in body["Details"]] == [{"value": "EUVAT"}] * 2
        assert not any("TaxAmount" in line for line in body["Details"])

    def test_a_tax_zone_the_tenant_lacks_is_held_with_the_other_problems(self):
        rules = attrs.evolve(CLAIM_RULES, tax_zone="EUVAT")
        catalog = attrs.evolve(CATALOG, tax_zones=frozenset({"DOMESTIC"}))
        rep = report(exp("1", 1000, "Travel"), exp("2", 2000, "Meals"))
        assert _full_plan(rep, rules, catalog) == [
            (ErrorCode.RULES_INVALID, "expenses[1].category"),  # Meals: no item
            (ErrorCode.RULES_INVALID, "rules.tax_zone"),
        ]

    def test_missing_and_unknown_expense_items_are_named_per_transaction(self):
        rep = report(exp("1", 1000, "Travel"), exp("2", 2000, "Meals"), exp("3", 3000, "Lodging"))
        catalog = attrs.evolve(CATALOG, expense_items=frozenset({"TRAVEL"}))
        assert _full_plan(rep, CLAIM_RULES, catalog) == [
            (ErrorCode.RULES_INVALID, "expenses[1].category"),  # Meals: no item
            (ErrorCode.RULES_INVALID, "expenses[2].category"),  # HOTEL: not in Acumatica
        ]

    def test_a_net_refund_cannot_be_a_claim(self):
        rep = report(exp("1", -5000, "Travel"), exp("2", 1000, "Travel"))
        assert _full_plan(rep, CLAIM_RULES) == [(ErrorCode.RULES_INVALID, "expenses")]


class TestGoldenPeriods:
    """The document date's period decides: hold, or the next open period (date kept)."""

    @staticmethod
    def rep() -> Report:
        """A bill (10.00) and a card journal (5.00), approved 29 February in New York."""
        card = exp("2", 500, "Travel", reimbursable=False)
        return report(exp("1", 1000, "Travel"), card, total_cents=1500)

    def test_hold_names_the_period_of_the_bill_only(self):
        from expense_bridge._periods import ClosedPeriodRule

        catalog = attrs.evolve(CATALOG, periods=_calendar({"022024"}))
        rules = attrs.evolve(RULES, closed_period=ClosedPeriodRule.HOLD)
        # the bill (AP) is held; the card journal (GL open) is not the problem
        assert _full_plan(self.rep(), rules, catalog) == [
            (ErrorCode.PERIOD_CLOSED, "document[EXB-R100].date")
        ]

    def test_next_open_sets_post_period_and_keeps_the_date(self):
        from expense_bridge._periods import ClosedPeriodRule

        catalog = attrs.evolve(CATALOG, periods=_calendar({"022024", "032024"}))
        rules = attrs.evolve(RULES, closed_period=ClosedPeriodRule.NEXT_OPEN)
        bill, journal = _full_plan(self.rep(), rules, catalog)
        assert (bill.document.date, bill.document.post_period) == (date(2024, 2, 29), "042024")
        assert journal.document.post_period is UNSET  # GL is open in February

    def test_gl_closed_moves_the_journal_too(self):
        from expense_bridge._periods import ClosedPeriodRule

        catalog = attrs.evolve(CATALOG, periods=_calendar(set(), closed_gl={"022024"}))
        rules = attrs.evolve(RULES, closed_period=ClosedPeriodRule.NEXT_OPEN)
        bill, journal = _full_plan(self.rep(), rules, catalog)
        assert (bill.document.post_period, journal.document.post_period) == ("032024", "032024")

    def test_a_claim_moves_to_the_next_open_period_in_its_financial_details(self):
        from expense_bridge._periods import ClosedPeriodRule

        catalog = attrs.evolve(CATALOG, periods=_calendar({"022024"}))
        rules = attrs.evolve(CLAIM_RULES, closed_period=ClosedPeriodRule.NEXT_OPEN)
        (claim,) = _full_plan(report(exp("1", 1000, "Travel"), total_cents=1000), rules, catalog)
        assert claim.document.date == date(2024, 2, 29)
        assert claim.document.financial_details.post_to_period == "032024"

    def test_a_claim_is_held_under_hold(self):
        from expense_bridge._periods import ClosedPeriodRule

        catalog = attrs.evolve(CATALOG, periods=_calendar({"022024"}))
        rules = attrs.evolve(CLAIM_RULES, closed_period=ClosedPeriodRule.HOLD)
        assert _full_plan(report(exp("1", 1000, "Travel")), rules, catalog) == [
            (ErrorCode.PERIOD_CLOSED, "document[EXB-R100].date")
        ]

    def test_outside_the_calendar_is_unknown(self):
        catalog = attrs.evolve(CATALOG, periods=_calendar(set()))
        rep = report(exp("1", 1000, "Travel"), approved=datetime(2025, 3, 1, 12, tzinfo=UTC))
        assert _full_plan(rep, RULES, catalog) == [
            (ErrorCode.PERIOD_UNKNOWN, "document[EXB-R100].date")
        ]

    def test_no_calendar_no_check(self):
        (bill,) = _full_plan(report(exp("1", 1000, "Travel"), total_cents=1000), RULES)
        assert bill.document.post_period is UNSET


class TestGoldenReceipts:
    """A receipt's file name is fixed by its transaction and type (one file per receipt)."""

    @pytest.mark.parametrize(
        ("tid", "content_type", "name"),
        [
            ("4000000000000000001", "application/pdf", "receipt-4000000000000000001.pdf"),
            ("77", "image/jpeg", "receipt-77.jpg"),
            ("a/b:c", "image/png", "receipt-a_b_c.png"),  # nothing a URL path refuses
            ("x", "text/html", "receipt-x.bin"),
        ],
    )
    def test_receipt_names(self, tid, content_type, name):
        from expense_bridge._receipts import receipt_name

        assert receipt_name(exp(tid, 100, "Travel"), content_type) == name
