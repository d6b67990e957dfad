"""Hypothesis strategies for the bridge: consistent Expensify reports, policies and catalogs.

:func:`worlds` draws a :class:`World`: a report, the policy it belongs to, an Acumatica
:class:`~expense_bridge._catalog.LedgerCatalog` and :class:`PostingRules` that fit together,
so that :func:`expense_bridge.mapping.plan_report` succeeds on it by default:

* every expense's category is in the policy, with a GL code that is an active account;
* the report total (in hundredths of the report currency) equals the sum of the expenses'
  amounts in the report currency (effective amount, or ``converted_amount_cents`` for a
  foreign expense), and every amount is representable in the report currency (JPY amounts
  are whole yen, i.e. multiples of 100 hundredths);
* tags on levels 1 (project, by GL code) and 2 (task, by name) resolve to catalog values;
* the submitter has a vendor, the card vendor and liability accounts exist.

Knobs: ``currency``, ``reimbursable_target``, ``card_target``, ``date_rule``, ``refunds``
(allow negative expenses), ``min_expenses`` / ``max_expenses``, and ``problems``: a set of
:class:`ErrorCode` to inject (one distinct expense each where the problem is per expense).
:func:`inject_problem` applies one problem to a world deterministically and returns the
field path the resulting :class:`~expense_bridge._errors.Problem` must name.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs
from hypothesis import strategies as st

from expense_bridge._catalog import AccountInfo, LedgerCatalog
from expense_bridge._errors import ErrorCode
from expense_bridge._rules import (
    AcumaticaField,
    CardTarget,
    DateRule,
    PostIn,
    PostingRules,
    ReimbursableTarget,
    TagMapping,
)
from expensify_client import (
    Category,
    Expense,
    Policy,
    Report,
    ReportState,
    Tag,
    TagLevel,
    TagValue,
)

__all__ = [
    "CURRENCY_EXPONENTS",
    "INJECTABLE",
    "World",
    "expense_cents_in_report_currency",
    "inject_problem",
    "worlds",
]

#: ISO 4217 exponents of the currencies the strategies use.
CURRENCY_EXPONENTS = {"USD": 2, "EUR": 2, "GBP": 2, "CAD": 2, "JPY": 0, "CHF": 2}

SUBMITTER = "Ann.Lee@Firm.test"
SUBMITTER_VENDOR = "EMP0001"
CARD_VENDOR = "AMEXCO"
EMPLOYEE_LIABILITY = "21000"
CARD_LIABILITY = "22000"
POLICY_ID = "POL1"
PROJECTS = ("PRJ-A", "PRJ-B", "PRJ-C")
TASKS = ("T01", "T02")
BRANCHES = ("MAIN", "EAST")
SUBACCOUNTS = ("000000", "100000")
TIMEZONES = ("UTC", "America/New_York", "Asia/Tokyo", "Pacific/Kiritimati", "Pacific/Pago_Pago")


@attrs.frozen(kw_only=True)
class World:
    """Everything :func:`plan_report` takes, drawn to fit together."""

    report: Report
    policy: Policy
    catalog: LedgerCatalog
    rules: PostingRules
    posting_date: date

    def kwargs(self) -> dict[str, object]:
        """Keyword arguments for ``plan_report(world.report, **world.kwargs())``."""
        return {
            "policy": self.policy,
            "catalog": self.catalog,
            "rules": self.rules,
            "posting_date": self.posting_date,
        }


def expense_cents_in_report_currency(expense: Expense, report_currency: str) -> int:
    """The expense's amount in hundredths of the report currency (as the mapping reads it)."""
    if expense.currency == report_currency:
        return expense.effective_amount_cents
    assert expense.converted_amount_cents is not None
    return expense.converted_amount_cents


def _category_name(k: int) -> str:
    return f"Category {k}"


def _gl(k: int) -> str:
    return f"6{k:02d}00"


@st.composite
def _expense(
    draw: st.DrawFn,
    *,
    index: int,
    report_id: str,
    currency: str,
    n_categories: int,
    refunds: bool,
    reimbursable: bool | None,
) -> Expense:
    step = 10 ** (2 - CURRENCY_EXPONENTS[currency])  # hundredths per minor unit
    lo = -50_000 if refunds else 0
    minor = draw(st.integers(lo, 2_000_000))
    in_report = minor * step
    foreign = draw(st.booleans())
    modified = draw(st.booleans())
    if foreign:
        other = draw(st.sampled_from(sorted(set(CURRENCY_EXPONENTS) - {currency})))
        original = draw(st.integers(-50_000 if refunds else 0, 2_000_000))
        amount, modified_amount, converted = original, None, in_report
        tx_currency = other
    elif modified:
        amount, modified_amount, converted = draw(st.integers(0, 2_000_000)), in_report, None
        tx_currency = currency
    else:
        amount, modified_amount, converted = in_report, None, None
        tx_currency = currency
    k = draw(st.integers(1, n_categories))
    project = draw(st.sampled_from(PROJECTS))
    tags: list[TagValue] = []
    if draw(st.booleans()):
        tags.append(TagValue(level=1, name=f"Project {project}", gl_code=project))
        if draw(st.booleans()):
            tags.append(TagValue(level=2, name=draw(st.sampled_from(TASKS))))
    if draw(st.booleans()):
        tags.append(TagValue(level=3, name="Dept X"))
    created = date(2024, 1, 1) + timedelta(days=draw(st.integers(0, 400)))
    return Expense(
        transaction_id=f"{7_000_000 + index}",
        report_id=report_id,
        amount_cents=amount,
        currency=tx_currency,
        created=created,
        modified_created=created + timedelta(days=1) if draw(st.booleans()) else None,
        merchant=draw(st.sampled_from(["Uber", "Hotel Metropol", "Café Nord", "  Air\tline  "])),
        comment=draw(st.sampled_from(["", "client visit", "x" * 300])),
        modified_amount_cents=modified_amount,
        converted_amount_cents=converted,
        category=_category_name(k),
        category_gl_code=_gl(k) if draw(st.booleans()) else None,  # the getter may have it
        tags=tuple(tags),
        reimbursable=draw(st.booleans()) if reimbursable is None else reimbursable,
    )


@st.composite
def worlds(
    draw: st.DrawFn,
    *,
    currency: str | None = None,
    reimbursable_target: ReimbursableTarget | None = None,
    card_target: CardTarget | None = None,
    date_rule: DateRule | None = None,
    refunds: bool = True,
    min_expenses: int = 1,
    max_expenses: int = 6,
    reimbursable: bool | None = None,
    problems: Collection[ErrorCode] = (),
) -> World:
    """A consistent :class:`World`, with ``problems`` injected (see the module docstring)."""
    if ErrorCode.CURRENCY_PRECISION in problems:
        currency = "JPY"
    cur = currency or draw(st.sampled_from(sorted(CURRENCY_EXPONENTS)))
    n_categories = draw(st.integers(1, 4))
    report_id = draw(st.from_regex(r"R[0-9A-Za-z]{6,12}", fullmatch=True))
    n = draw(st.integers(max(min_expenses, len(problems)), max(max_expenses, len(problems))))
    expenses = tuple(
        draw(
            _expense(
                index=i,
                report_id=report_id,
                currency=cur,
                n_categories=n_categories,
                refunds=refunds,
                reimbursable=reimbursable,
            )
        )
        for i in range(n)
    )
    submitted = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(
        minutes=draw(st.integers(0, 60 * 24 * 500))
    )
    approved = submitted + timedelta(minutes=draw(st.integers(0, 60 * 24 * 10)))
    report = Report(
        report_id=report_id,
        report_name=draw(st.sampled_from(["Trip to Oslo", "Q3 travel\nand meals", "R" * 300])),
        status=ReportState.APPROVED,
        policy_id=POLICY_ID,
        currency=cur,
        total_cents=sum(expense_cents_in_report_currency(e, cur) for e in expenses),
        account_email=SUBMITTER,
        created=submitted - timedelta(days=2),
        submitted=submitted,
        approved=approved,
        expenses=expenses,
    )
    policy = Policy(
        policy_id=POLICY_ID,
        name="Firm",
        output_currency=cur,
        categories=tuple(
            Category(name=_category_name(k), gl_code=_gl(k)) for k in range(1, n_categories + 1)
        ),
        tag_levels=(
            TagLevel(
                name="Project", tags=tuple(Tag(name=f"Project {p}", gl_code=p) for p in PROJECTS)
            ),
            TagLevel(name="Task", tags=tuple(Tag(name=t) for t in TASKS)),
            TagLevel(name="Department", tags=(Tag(name="Dept X"),)),
        ),
    )
    accounts = [AccountInfo(code=_gl(k), active=True, type="Expense") for k in range(1, 6)]
    accounts += [
        AccountInfo(code=EMPLOYEE_LIABILITY, type="Liability", description="Employee payable"),
        AccountInfo(code=CARD_LIABILITY, type="Liability", description="Card payable"),
    ]
    catalog = LedgerCatalog(
        accounts=accounts,
        subaccounts=SUBACCOUNTS,
        vendor_by_email={SUBMITTER.lower(): SUBMITTER_VENDOR},
        vendors={SUBMITTER_VENDOR, CARD_VENDOR},
        projects=PROJECTS,
        project_tasks={(p, t) for p in PROJECTS for t in TASKS},
        branches=BRANCHES,
        currencies=frozenset(CURRENCY_EXPONENTS) if draw(st.booleans()) else None,
    )
    rules = PostingRules(
        reimbursable_target=reimbursable_target or draw(st.sampled_from(ReimbursableTarget)),
        card_target=card_target or draw(st.sampled_from(CardTarget)),
        date_rule=date_rule or draw(st.sampled_from(DateRule)),
        tag_map=(
            TagMapping(level=1, field=AcumaticaField.PROJECT, use_gl_code=True),
            TagMapping(level=2, field=AcumaticaField.PROJECT_TASK, use_gl_code=False),
        ),
        default_branch=draw(st.sampled_from([None, *BRANCHES])),
        default_subaccount=draw(st.sampled_from([None, *SUBACCOUNTS])),
        hold=draw(st.booleans()),
        employee_liability_account=EMPLOYEE_LIABILITY,
        card_liability_account=CARD_LIABILITY,
        card_vendor=CARD_VENDOR,
        timezone=draw(st.sampled_from(TIMEZONES)),
    )
    world = World(
        report=report,
        policy=policy,
        catalog=catalog,
        rules=rules,
        posting_date=date(2025, 6, 30),
    )
    for index, code in enumerate(sorted(problems, key=lambda c: c.value)):
        world, _ = inject_problem(world, code, index)
    return world


#: Codes :func:`inject_problem` can inject.
INJECTABLE = frozenset(
    {
        ErrorCode.REPORT_EMPTY,
        ErrorCode.REPORT_ID_INVALID,
        ErrorCode.CATEGORY_UNKNOWN,
        ErrorCode.CATEGORY_NO_GL_CODE,
        ErrorCode.GL_ACCOUNT_INACTIVE,
        ErrorCode.SUBMITTER_NO_VENDOR,
        ErrorCode.TAG_UNMAPPED,
        ErrorCode.TAG_MISSING,
        ErrorCode.TAG_VALUE_UNKNOWN,
        ErrorCode.CURRENCY_UNSUPPORTED,
        ErrorCode.CURRENCY_PRECISION,
        ErrorCode.CONVERSION_MISSING,
        ErrorCode.DATE_MISSING,
        ErrorCode.CARD_TARGET_INCOMPLETE,
        ErrorCode.REIMBURSABLE_TARGET_INCOMPLETE,
        ErrorCode.DEFAULT_VALUE_UNKNOWN,
        ErrorCode.RULES_INVALID,
        ErrorCode.REPORT_FIELD_UNKNOWN,
        ErrorCode.CURRENCY_NOT_BASE,
    }
)

#: Pairs that cannot be injected into one world together (one masks or undoes the other).
CONFLICTS = frozenset(
    {
        frozenset({ErrorCode.SUBMITTER_NO_VENDOR, ErrorCode.REIMBURSABLE_TARGET_INCOMPLETE}),
        frozenset({ErrorCode.CURRENCY_UNSUPPORTED, ErrorCode.CURRENCY_PRECISION}),
        frozenset({ErrorCode.CURRENCY_NOT_BASE, ErrorCode.CURRENCY_UNSUPPORTED}),
        frozenset({ErrorCode.CURRENCY_NOT_BASE, ErrorCode.CURRENCY_PRECISION}),
        frozenset({ErrorCode.CATEGORY_UNKNOWN, ErrorCode.CATEGORY_NO_GL_CODE}),
        frozenset({ErrorCode.CATEGORY_UNKNOWN, ErrorCode.GL_ACCOUNT_INACTIVE}),
        frozenset({ErrorCode.CATEGORY_NO_GL_CODE, ErrorCode.GL_ACCOUNT_INACTIVE}),
        frozenset({ErrorCode.TAG_MISSING, ErrorCode.TAG_VALUE_UNKNOWN}),
    }
)


def compatible(codes: Iterable[ErrorCode]) -> bool:
    """True when ``codes`` can be injected together (no conflict, no REPORT_EMPTY mix)."""
    codes = set(codes)
    if ErrorCode.REPORT_EMPTY in codes and len(codes) > 1:
        return False
    return not any(pair <= codes for pair in CONFLICTS)


def _replace_expense(world: World, index: int, **changes: Any) -> World:
    expenses = list(world.report.expenses)
    expenses[index] = attrs.evolve(expenses[index], **changes)
    return attrs.evolve(world, report=attrs.evolve(world.report, expenses=tuple(expenses)))


def inject_problem(world: World, code: ErrorCode, index: int = 0) -> tuple[World, str]:
    """``world`` with one ``code`` problem (on expense ``index`` where it is per expense).

    Returns the new world and the field path the problem must name. The targets of the
    affected part are forced to what the problem needs (e.g. card spend as a journal).
    """
    index = index % max(1, len(world.report.expenses))
    expense = world.report.expenses[index] if world.report.expenses else None

    def part_posted(w: World, reimbursable: bool) -> World:
        """Make expense ``index`` of the given part, and that part posted."""
        w = _replace_expense(w, index, reimbursable=reimbursable)
        if not reimbursable and w.rules.card_target is CardTarget.SKIP:
            w = attrs.evolve(w, rules=attrs.evolve(w.rules, card_target=CardTarget.JOURNAL))
        return w

    if code is ErrorCode.REPORT_EMPTY:
        return attrs.evolve(world, report=attrs.evolve(world.report, expenses=())), "expenses"
    assert expense is not None, "problems other than REPORT_EMPTY need an expense"
    # Make sure at least the chosen expense's part is posted, so the report is checked.
    world = part_posted(world, expense.reimbursable)
    if code is ErrorCode.REPORT_ID_INVALID:
        return attrs.evolve(
            world, report=attrs.evolve(world.report, report_id="R 1/2")
        ), "report_id"
    if code is ErrorCode.CURRENCY_UNSUPPORTED:
        catalog = attrs.evolve(
            world.catalog, currencies=frozenset(CURRENCY_EXPONENTS) - {world.report.currency}
        )
        return attrs.evolve(world, catalog=catalog), "currency"
    if code is ErrorCode.DATE_MISSING:
        report = attrs.evolve(world.report, submitted=None, approved=None)
        rules = attrs.evolve(world.rules, date_rule=DateRule.APPROVED)
        return attrs.evolve(world, report=report, rules=rules), "approved"
    if code is ErrorCode.CURRENCY_NOT_BASE:
        base = sorted(set(CURRENCY_EXPONENTS) - {world.report.currency})[0]
        rules = attrs.evolve(world.rules, post_in=PostIn.BASE, base_currency=base)
        return attrs.evolve(world, rules=rules), "currency"
    if code is ErrorCode.REPORT_FIELD_UNKNOWN:
        report = attrs.evolve(world.report, custom_fields={"Cost_Centre": "NOWHERE"})
        rules = attrs.evolve(world.rules, report_fields={"Cost Centre": "BranchID"})
        return attrs.evolve(world, report=report, rules=rules), "report_fields.Cost_Centre"
    if code is ErrorCode.DEFAULT_VALUE_UNKNOWN:
        rules = attrs.evolve(world.rules, default_branch="NOWHERE")
        return attrs.evolve(world, rules=rules), "rules.default_branch"
    if code is ErrorCode.RULES_INVALID:
        rules = attrs.evolve(world.rules, timezone="Mars/Olympus_Mons")
        return attrs.evolve(world, rules=rules), "rules.timezone"
    if code is ErrorCode.SUBMITTER_NO_VENDOR:
        world = part_posted(world, True)
        rules = attrs.evolve(world.rules, reimbursable_target=ReimbursableTarget.AP_BILL)
        catalog = attrs.evolve(world.catalog, vendor_by_email={})
        return attrs.evolve(world, rules=rules, catalog=catalog), "account_email"
    if code is ErrorCode.REIMBURSABLE_TARGET_INCOMPLETE:
        world = part_posted(world, True)
        rules = attrs.evolve(
            world.rules,
            reimbursable_target=ReimbursableTarget.JOURNAL,
            employee_liability_account=None,
        )
        return attrs.evolve(world, rules=rules), "rules.employee_liability_account"
    if code is ErrorCode.CARD_TARGET_INCOMPLETE:
        world = part_posted(world, False)
        rules = attrs.evolve(world.rules, card_target=CardTarget.AP_BILL, card_vendor=None)
        return attrs.evolve(world, rules=rules), "rules.card_vendor"
    if code is ErrorCode.CATEGORY_UNKNOWN:
        return _replace_expense(world, index, category="No Such Category"), (
            f"expenses[{index}].category"
        )
    if code is ErrorCode.CATEGORY_NO_GL_CODE:
        categories = tuple(
            attrs.evolve(c, gl_code=None) if c.name == expense.category else c
            for c in world.policy.categories
        )
        policy = attrs.evolve(world.policy, categories=categories)
        # Neither the getter nor the export gives that category a GL code.
        expenses = tuple(
            attrs.evolve(e, category_gl_code=None) if e.category == expense.category else e
            for e in world.report.expenses
        )
        report = attrs.evolve(world.report, expenses=expenses)
        return attrs.evolve(world, policy=policy, report=report), f"expenses[{index}].category"
    if code is ErrorCode.GL_ACCOUNT_INACTIVE:
        gl = next(c.gl_code for c in world.policy.categories if c.name == expense.category)
        assert gl is not None
        accounts = dict(world.catalog.accounts)
        accounts[gl] = attrs.evolve(accounts[gl], active=False)
        catalog = attrs.evolve(world.catalog, accounts=accounts)
        return attrs.evolve(world, catalog=catalog), f"expenses[{index}].category"
    if code is ErrorCode.TAG_UNMAPPED:
        levels = list(world.policy.tag_levels)
        levels[2] = attrs.evolve(levels[2], required=True)
        policy = attrs.evolve(world.policy, tag_levels=tuple(levels))
        tags = (*tuple(t for t in expense.tags if t.level != 3), TagValue(level=3, name="Dept X"))
        world = _replace_expense(attrs.evolve(world, policy=policy), index, tags=tags)
        return world, f"expenses[{index}].tags[{len(tags) - 1}]"
    if code is ErrorCode.TAG_MISSING:
        tag_map = tuple(
            attrs.evolve(m, required=True) if m.level == 1 else m for m in world.rules.tag_map
        )
        world = attrs.evolve(world, rules=attrs.evolve(world.rules, tag_map=tag_map))
        tags = tuple(t for t in expense.tags if t.level not in (1, 2))
        # Give every other expense a project tag so only this one lacks it.
        for j, other in enumerate(world.report.expenses):
            if j != index and not any(t.level == 1 for t in other.tags):
                extra = TagValue(level=1, name="Project PRJ-A", gl_code="PRJ-A")
                world = _replace_expense(world, j, tags=(*other.tags, extra))
        return _replace_expense(world, index, tags=tags), f"expenses[{index}].tags"
    if code is ErrorCode.TAG_VALUE_UNKNOWN:
        ghost = TagValue(level=1, name="Project Ghost", gl_code="GHOST")
        tags = (ghost, *(t for t in expense.tags if t.level not in (1, 2)))
        return _replace_expense(world, index, tags=tags), f"expenses[{index}].tags[0]"
    if code is ErrorCode.CONVERSION_MISSING:
        foreign = "CHF" if world.report.currency != "CHF" else "USD"
        world = _replace_expense(
            world, index, currency=foreign, modified_amount_cents=None, converted_amount_cents=None
        )
        return world, f"expenses[{index}].converted_amount_cents"
    if code is ErrorCode.CURRENCY_PRECISION:
        assert CURRENCY_EXPONENTS[world.report.currency] == 0, "inject into a JPY world"
        world = _replace_expense(
            world,
            index,
            currency=world.report.currency,
            amount_cents=12_345,
            modified_amount_cents=None,
            converted_amount_cents=None,
        )
        return world, f"expenses[{index}].amount_cents"
    raise ValueError(f"cannot inject {code}")
