"""Plain-text descriptions of planned documents (``sync --dry-run`` output).

One block per document: the entity, its key and total, the counterparty and date, then
one line per detail line with its account (and subaccount, branch, project when set), its
amount(s) and description. Values are never truncated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from acumatica_client import UNSET, Bill, ExpenseClaim

if TYPE_CHECKING:
    from .mapping import PlannedDocument

__all__ = ["describe_planned"]


def _v(value: Any) -> str:
    return "" if value is UNSET or value is None else str(value)


def _dims(line: Any, names: Iterable[str]) -> str:
    parts = []
    for name in names:
        value = _v(getattr(line, name, None))
        if value:
            parts.append(f"{name.removesuffix('_id')}={value}")
    return f" ({', '.join(parts)})" if parts else ""


def _describe_one(doc: PlannedDocument) -> list[str]:
    body = doc.document
    lines: list[str] = []
    if isinstance(body, Bill):
        head = (
            f"{_v(body.type) or 'Bill'} {doc.key}: {doc.total} {doc.currency}, vendor "
            f"{_v(body.vendor)}, date {_v(body.date)}"
        )
        lines.append(head)
        for line in body.details if body.details is not UNSET else ():
            dims = _dims(line, ("subaccount", "branch", "project", "project_task"))
            lines.append(
                f"  account {_v(line.account)}{dims}: {_v(line.amount) or _v(line.extended_cost)}"
                f"  {_v(line.transaction_description) or _v(line.description)}".rstrip()
            )
    elif isinstance(body, ExpenseClaim):
        lines.append(
            f"Expense claim {doc.key}: {doc.total} {doc.currency}, claimed by "
            f"{_v(body.claimed_by)}, date {_v(body.date)}"
        )
        for cline in body.details if body.details is not UNSET else ():
            dims = _dims(cline, ("expense_subaccount", "branch", "project_id", "project_task_id"))
            lines.append(
                f"  item {_v(cline.expense_item_id)}, account {_v(cline.expense_account)}{dims}: "
                f"{_v(cline.amount)}  {_v(cline.description)}".rstrip()
            )
    else:
        lines.append(
            f"Journal {doc.key}: {doc.total} {doc.currency}, date {_v(body.transaction_date)}"
        )
        for jline in body.details if body.details is not UNSET else ():
            dims = _dims(jline, ("subaccount", "branch_id", "project", "project_task"))
            debit, credit = _v(jline.debit_amount), _v(jline.credit_amount)
            amounts = f"debit {debit}" if debit and debit != "0" else f"credit {credit}"
            lines.append(
                f"  account {_v(jline.account)}{dims}: {amounts}"
                f"  {_v(jline.transaction_description) or _v(jline.description)}".rstrip()
            )
    return lines


def describe_planned(docs: Sequence[PlannedDocument]) -> str:
    """Every planned document of a report, one line per document and per detail line."""
    return "\n".join(line for doc in docs for line in _describe_one(doc))
