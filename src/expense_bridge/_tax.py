"""Tax on expenses: a tax category per line, or tax posted as its own line.

An Expensify expense with tax carries ``taxAmount`` (in the expense's currency, part of
its amount), ``taxRate`` and a ``taxCode``/``taxName``. Two ways to post it (pure
functions over a planned document; issue 11):

* **categories** (``rules.tax_categories``, Expensify tax code or name -> Acumatica
  ``TaxCategory``): every bill line whose expense has tax gets the mapped
  ``TaxCategory``; the amount is left as it is (the tax is inside it, so the tenant's tax
  must be set up tax-inclusive for that category). Journal lines have no tax category.
* **account** (``tax_account``): the tax is split off each taxed line into its own line
  on that GL account (same dimensions, description ``"Tax <code>: <line text>"``), so
  the document's total is unchanged. Works for bills and journals.

An expense with tax whose code/name is not in the table (categories mode) is
``EB-TAX-UNMAPPED`` at ``expenses[i].tax_code``; a tax larger than its expense is
``EB-TAX-UNMAPPED`` too (the data cannot be posted as it stands). Foreign-currency
expenses have their tax converted at the expense's own conversion (the converted amount
over the original), rounded half-even to the report currency's minor unit.

Tax zone (``rules.tax_zone``, expense claims only): the claim's
``FinancialDetails.TaxZone`` and every claim line's ``TaxZone`` (set by
:mod:`._claims`). The Default contract's ``Bill`` has no tax zone field -- a bill follows
its vendor's ``TaxZone`` -- and ``JournalTransaction`` has none, so the configuration
refuses the option with other targets. A zone the tenant's ``TaxZone`` list lacks holds
the claim (:func:`tax_zone_problems`, ``EB-RULES-INVALID`` at ``rules.tax_zone``) and is
warned about once per run (:func:`tax_zone_warnings`).

Claim lines never carry ``TaxAmount``: the tenant computes a line's tax from its tax
category and zone (the amount is tax-inclusive), so a written amount would be recomputed
or contradict it; Expensify's tax decides only the category (see ``docs/features.md``).

Wired into :func:`expense_bridge.sync` through
:func:`~expense_bridge._posting.plan_or_hold` (:func:`plan_with_tax`, then
:func:`~expense_bridge._claims.plan_with_claims`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal

import attrs

from acumatica_client import Bill, BillDetail, JournalTransaction, JournalTransactionDetail
from expensify_client import Expense, Report, cents_to_decimal, minor_units

from ._catalog import LedgerCatalog
from ._errors import ErrorCode, MappingError, Problem
from ._keys import DocumentPart, clean_text
from ._rules import CardTarget, PostingRules
from .mapping import DEBIT_ADJUSTMENT_TYPE, PlannedDocument

__all__ = [
    "TaxRules",
    "apply_tax",
    "plan_with_tax",
    "tax_code_of",
    "tax_in_report_currency",
    "tax_problems",
    "tax_zone_problems",
    "tax_zone_warnings",
]


@attrs.frozen(kw_only=True)
class TaxRules:
    """How tax is posted: ``categories`` table, or ``tax_account`` for separate lines."""

    categories: Mapping[str, str] = attrs.field(factory=dict)
    tax_account: str | None = None

    @classmethod
    def from_rules(cls, rules: PostingRules) -> TaxRules | None:
        """``rules.tax_account`` / ``rules.tax_categories``; None when neither is set."""
        if rules.tax_account is None and not rules.tax_categories:
            return None
        return cls(categories=dict(rules.tax_categories), tax_account=rules.tax_account)


def tax_code_of(expense: Expense) -> str | None:
    """The expense's tax code (else its tax name) when it carries tax, else ``None``."""
    taxed = expense.has_tax or bool(expense.tax_amount_cents)
    if not taxed:
        return None
    return expense.tax_code or expense.tax_name or ""


def _part_expenses(report: Report, part: DocumentPart) -> list[tuple[int, Expense]]:
    return [
        (i, e)
        for i, e in enumerate(report.expenses)
        if e.reimbursable is (part is DocumentPart.REIMBURSABLE)
    ]


def tax_in_report_currency(expense: Expense, amount: Decimal, report_currency: str) -> Decimal:
    """The expense's tax in the report currency, signed like ``amount`` (its line amount)."""
    cents = abs(expense.tax_amount_cents or 0)
    if expense.currency == report_currency:
        tax = cents_to_decimal(cents, report_currency)
    else:
        original = abs(expense.effective_amount_cents)
        if original == 0:
            return Decimal(0)
        unit = Decimal(1).scaleb(-minor_units(report_currency))
        tax = (abs(amount) * cents / original).quantize(unit, rounding=ROUND_HALF_EVEN)
    return -tax if amount < 0 else tax


def tax_problems(
    report: Report, rules: TaxRules, parts: Sequence[DocumentPart] = tuple(DocumentPart)
) -> list[Problem]:
    """Every taxed expense (of ``parts``) that cannot be posted under ``rules``."""
    problems: list[Problem] = []
    for part in parts:
        for i, expense in _part_expenses(report, part):
            code = tax_code_of(expense)
            if code is None:
                continue
            tax = abs(expense.tax_amount_cents or 0)
            if tax > abs(expense.effective_amount_cents):
                problems.append(
                    Problem(
                        code=ErrorCode.TAX_UNMAPPED,
                        field=f"expenses[{i}].tax_amount_cents",
                        message=f"the tax ({tax} minor units) exceeds the expense's amount",
                        fix="Correct the expense's tax amount in Expensify.",
                        transaction_id=expense.transaction_id,
                    )
                )
            if rules.tax_account is None and code not in rules.categories:
                problems.append(
                    Problem(
                        code=ErrorCode.TAX_UNMAPPED,
                        field=f"expenses[{i}].tax_code",
                        message=f"tax {code!r} has no Acumatica tax category",
                        fix=(
                            f"Add {code!r} to rules.tax_categories with its Acumatica tax "
                            "category, or set a tax account to post tax as its own line."
                        ),
                        transaction_id=expense.transaction_id,
                    )
                )
    return problems


def tax_zone_problems(rules: PostingRules, catalog: LedgerCatalog) -> list[Problem]:
    """``rules.tax_zone`` when the tenant's tax zones (``catalog.tax_zones``, when read)
    do not list it: a claim naming it would be refused, so it is held before any write."""
    zone, known = rules.tax_zone, catalog.tax_zones
    if zone is None or known is None or zone in known:
        return []
    return [
        Problem(
            code=ErrorCode.RULES_INVALID,
            field="rules.tax_zone",
            message=f"rules.tax_zone {zone!r} is not a tax zone in Acumatica",
            fix=(
                f"Create the tax zone {zone} in Acumatica (Tax Zones, TX206000) or correct "
                "rules.tax_zone, then run 'expense-bridge replay' for this report."
            ),
        )
    ]


def tax_zone_warnings(rules: PostingRules, catalog: LedgerCatalog) -> list[str]:
    """Preflight: a warning when ``rules.tax_zone`` is not one of the tenant's tax zones
    (every report posted as a claim is then held)."""
    return [f"{p.field}: {p.message}" for p in tax_zone_problems(rules, catalog)]


def apply_tax(planned: PlannedDocument, report: Report, rules: TaxRules) -> PlannedDocument:
    """``planned`` with its expenses' tax posted as ``rules`` say (see the module doc).

    Raises :class:`~expense_bridge.MappingError` with :func:`tax_problems` of the part.
    """
    problems = tax_problems(report, rules, (planned.part,))
    if problems:
        raise MappingError(report.report_id, tuple(problems))
    members = _part_expenses(report, planned.part)
    document = planned.document
    taxed: Bill | JournalTransaction
    if isinstance(document, Bill):
        taxed = _bill(document, members, report, rules)
    elif isinstance(document, JournalTransaction):
        taxed = _journal(document, members, report, rules)
    else:
        return planned  # an expense claim: planned after tax (its lines take the bill's category)
    carried: list[tuple[str, ...]] = []
    for _, expense in members:  # each expense's line, then its tax line when split
        carried.append((expense.transaction_id,))
        if rules.tax_account is not None and tax_code_of(expense) is not None:
            carried.append(())
    carried += [()] * (len(taxed.details or ()) - len(carried))  # journal credits
    return attrs.evolve(planned, document=taxed, line_transactions=tuple(carried))


def plan_with_tax(
    plan: Callable[[], tuple[PlannedDocument, ...]], report: Report, rules: PostingRules
) -> tuple[PlannedDocument, ...]:
    """``plan()`` (the report's planned documents) with the rules' tax treatment applied.

    Without ``rules.tax_account``/``rules.tax_categories`` this is ``plan()``. Otherwise
    the tax problems of every part that is posted are reported together with the
    mapping's own problems in one :class:`~expense_bridge.MappingError`.
    """
    tax = TaxRules.from_rules(rules)
    if tax is None:
        return plan()
    parts = [DocumentPart.REIMBURSABLE]
    if rules.card_target is not CardTarget.SKIP:
        parts.append(DocumentPart.CARD)
    extra = tax_problems(report, tax, parts)
    try:
        docs = plan()
    except MappingError as exc:
        raise MappingError(report.report_id, (*exc.problems, *extra)) from None
    if extra:
        raise MappingError(report.report_id, tuple(extra))
    return tuple(apply_tax(doc, report, tax) for doc in docs)


def _bill(bill: Bill, members: list[tuple[int, Expense]], report: Report, rules: TaxRules) -> Bill:
    details = bill.details if isinstance(bill.details, tuple) else ()
    flip = -1 if bill.type == DEBIT_ADJUSTMENT_TYPE else 1
    lines: list[BillDetail] = []
    for (_, expense), line in zip(members, details, strict=True):
        code = tax_code_of(expense)
        if code is None:
            lines.append(line)
            continue
        if rules.tax_account is None:
            lines.append(attrs.evolve(line, tax_category=rules.categories[code]))
            continue
        shown = line.unit_cost if isinstance(line.unit_cost, Decimal) else Decimal(0)
        tax = flip * tax_in_report_currency(expense, flip * shown, report.currency)
        net = shown - tax
        lines.append(attrs.evolve(line, unit_cost=net, extended_cost=net))
        lines.append(
            attrs.evolve(
                line,
                account=rules.tax_account,
                unit_cost=tax,
                extended_cost=tax,
                transaction_description=_tax_text(code, line.transaction_description),
            )
        )
    return attrs.evolve(bill, details=tuple(lines))


def _journal(
    batch: JournalTransaction, members: list[tuple[int, Expense]], report: Report, rules: TaxRules
) -> JournalTransaction:
    details = batch.details if isinstance(batch.details, tuple) else ()
    expense_lines, rest = details[: len(members)], details[len(members) :]
    lines: list[JournalTransactionDetail] = []
    for (_, expense), line in zip(members, expense_lines, strict=True):
        code = tax_code_of(expense)
        if code is None or rules.tax_account is None:
            lines.append(line)  # journal lines have no tax category
            continue
        debit = line.debit_amount if isinstance(line.debit_amount, Decimal) else Decimal(0)
        credit = line.credit_amount if isinstance(line.credit_amount, Decimal) else Decimal(0)
        amount = debit - credit  # the expense's signed amount
        tax = tax_in_report_currency(expense, amount, report.currency)
        lines.append(_journal_amount(line, amount - tax))
        lines.append(
            attrs.evolve(
                _journal_amount(line, tax),
                account=rules.tax_account,
                transaction_description=_tax_text(code, line.transaction_description),
            )
        )
    return attrs.evolve(batch, details=(*lines, *rest))


def _journal_amount(line: JournalTransactionDetail, amount: Decimal) -> JournalTransactionDetail:
    zero = amount.copy_abs() - amount.copy_abs()
    if amount < 0:
        return attrs.evolve(line, debit_amount=zero, credit_amount=-amount)
    return attrs.evolve(line, debit_amount=amount, credit_amount=zero)


def _tax_text(code: str, text: object) -> str:
    base = text if isinstance(text, str) else ""
    return clean_text(f"Tax {code}: {base}" if code else f"Tax: {base}")
