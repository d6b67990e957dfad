"""Parse the output of :data:`EXPORT_TEMPLATE` into :class:`Report` values.

:func:`parse_report_export` reads exactly what the packaged template renders, and nothing
else: ``{"reports":[...]}`` with the template's full key set on every report, submitter,
expense and receipt object. Anything unexpected (malformed JSON, a missing or extra key, a
value of the wrong type, an unknown status or currency, a date in another format) raises
:class:`ExportParseError` naming the report ID, the transaction ID where there is one, and the
field path (``reports[0].transactionList[2].amount``).

Normalisation, the only leniency (Expensify writes "no value" as an empty string):

* an optional string, amount, rate or date that is ``""`` or ``null`` becomes ``None``;
* ``merchant`` and ``comment`` default to ``""``, the booleans to the model defaults
  (``reimbursable`` true, ``billable``/``hasTax``/``isACHReimbursed`` false) when ``null``;
* a ``customField`` entry whose value is ``null`` is left out of ``custom_fields``;
* ``ntag1``..``ntag5`` with a non-empty name become :class:`TagValue` items of ``tags``.

Report event times (``created``, ``submitted``, ``approved``, ``reimbursed``) and an
expense's ``inserted`` are ``yyyy-MM-dd HH:mm:ss`` (optionally with a fraction, or a bare
``yyyy-MM-dd`` meaning midnight) and are read as UTC; expense dates are ``yyyy-MM-dd`` and
become :class:`datetime.date`. Amounts stay integer cents (convert with
:func:`cents_to_decimal`); rates become :class:`~decimal.Decimal`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final, NoReturn

from ._cents import MINOR_UNITS
from ._exceptions import ExportParseError
from ._models import Expense, Report, ReportState, TagValue

__all__ = ["parse_report_export"]

_SUBMITTER_KEYS: Final = frozenset({"firstName", "lastName", "fullName"})
_RECEIPT_KEYS: Final = frozenset({"url"})
_REPORT_KEYS: Final = frozenset(
    {
        "reportID",
        "oldReportID",
        "reportName",
        "status",
        "state",
        "policyID",
        "policyName",
        "currency",
        "total",
        "accountEmail",
        "accountID",
        "managerEmail",
        "created",
        "submitted",
        "approved",
        "reimbursed",
        "entryID",
        "isACHReimbursed",
        "submitter",
        "submitterUserID",
        "submitterPayrollID",
        "employeeCustomField1",
        "employeeCustomField2",
        "customField",
        "transactionList",
    }
)
_TAG_LEVELS: Final = range(1, 6)
_EXPENSE_KEYS: Final = frozenset(
    {
        "transactionID",
        "amount",
        "modifiedAmount",
        "convertedAmount",
        "currency",
        "currencyConversionRate",
        "merchant",
        "modifiedMerchant",
        "created",
        "modifiedCreated",
        "inserted",
        "category",
        "categoryGlCode",
        "categoryPayrollCode",
        "tag",
        "tagGlCode",
        *(f"ntag{n}" for n in _TAG_LEVELS),
        *(f"ntag{n}GlCode" for n in _TAG_LEVELS),
        "comment",
        "reimbursable",
        "billable",
        "hasTax",
        "taxAmount",
        "taxName",
        "taxRate",
        "taxCode",
        "mcc",
        "bank",
        "cardID",
        "externalID",
        "receiptObject",
    }
)

#: ``status`` (website / New Expensify vocabulary, and the filter spellings) to the state.
_STATUSES: Final[Mapping[str, ReportState]] = {
    "open": ReportState.OPEN,
    "draft": ReportState.OPEN,
    "processing": ReportState.SUBMITTED,
    "submitted": ReportState.SUBMITTED,
    "outstanding": ReportState.SUBMITTED,
    "approved": ReportState.APPROVED,
    "reimbursed": ReportState.REIMBURSED,
    "paid": ReportState.REIMBURSED,
    "closed": ReportState.ARCHIVED,
    "archived": ReportState.ARCHIVED,
    "done": ReportState.ARCHIVED,
}
#: ``state`` (internal vocabulary), used only when ``status`` is null.
_STATES: Final[Mapping[str, ReportState]] = {
    "OPEN": ReportState.OPEN,
    "SUBMITTED": ReportState.SUBMITTED,
    "PROCESSING": ReportState.SUBMITTED,
    "APPROVED": ReportState.APPROVED,
    "REIMBURSED": ReportState.REIMBURSED,
    "AUTOREIMBURSED": ReportState.REIMBURSED,
    "MANUALREIMBURSED": ReportState.REIMBURSED,
    "ARCHIVED": ReportState.ARCHIVED,
    "CLOSED": ReportState.ARCHIVED,
}

_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DATETIME: Final = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})(?: (?P<time>\d{2}:\d{2}:\d{2})(?P<fraction>\.\d{1,6})?)?",
    re.ASCII,
)


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | Decimal):
        return f"number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    if isinstance(value, list):
        return "an array"
    return "an object"


class _Fields:
    """Typed access to one JSON object, with errors that say where in the export."""

    def __init__(self, data: object, path: str, context: str, keys: frozenset[str]) -> None:
        self.path = path
        self.context = context
        if not isinstance(data, dict):
            self.fail(path, f"expected an object, got {_describe(data)}")
        missing = sorted(keys - data.keys())
        extra = sorted(data.keys() - keys)
        if missing:
            self.fail(path, f"missing key(s) {', '.join(missing)}")
        if extra:
            self.fail(path, f"unexpected key(s) {', '.join(extra)}")
        self.data: dict[str, Any] = data

    def fail(self, path: str, problem: str) -> NoReturn:
        raise ExportParseError(f"export {self.context}: {path}: {problem}")

    def at(self, key: str) -> str:
        return f"{self.path}.{key}"

    def wrong(self, key: str, expected: str) -> NoReturn:
        self.fail(self.at(key), f"expected {expected}, got {_describe(self.data[key])}")

    def required_str(self, key: str, *, allow_empty: bool = False) -> str:
        value = self.data[key]
        if not isinstance(value, str) or (not value and not allow_empty):
            self.wrong(key, "a string" if allow_empty else "a non-empty string")
        return value

    def optional_str(self, key: str) -> str | None:
        value = self.data[key]
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            self.wrong(key, "a string or null")
        return value

    def text(self, key: str) -> str:
        """A free-text field where null means empty."""
        value = self.data[key]
        if value is None:
            return ""
        if not isinstance(value, str):
            self.wrong(key, "a string or null")
        return value

    def required_int(self, key: str) -> int:
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.wrong(key, "an integer (cents)")
        return value

    def optional_int(self, key: str) -> int | None:
        value = self.data[key]
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.wrong(key, "an integer (cents) or null")
        return value

    def optional_decimal(self, key: str) -> Decimal | None:
        value = self.data[key]
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            self.wrong(key, "a number or null")
        return Decimal(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.data[key]
        if value is None:
            return default
        if not isinstance(value, bool):
            self.wrong(key, "a boolean or null")
        return value

    def currency(self, key: str) -> str:
        value = self.data[key]
        if not isinstance(value, str) or value not in MINOR_UNITS:
            self.wrong(key, "an ISO 4217 currency code")
        return value

    def _date(self, key: str, value: str) -> date:
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.wrong(key, "a valid date")

    def required_date(self, key: str) -> date:
        value = self.data[key]
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            self.wrong(key, "a date yyyy-MM-dd")
        return self._date(key, value)

    def optional_date(self, key: str) -> date | None:
        value = self.data[key]
        if value is None or value == "":
            return None
        return self.required_date(key)

    def required_datetime(self, key: str) -> datetime:
        value = self.data[key]
        match = _DATETIME.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            self.wrong(key, "a time yyyy-MM-dd HH:mm:ss")
        day = self._date(key, match["date"])
        if match["time"] is None:
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        try:
            moment = datetime.fromisoformat(f"{match['date']}T{match['time']}")
        except ValueError:
            self.wrong(key, "a valid time yyyy-MM-dd HH:mm:ss")
        micro = int((match["fraction"] or ".0")[1:].ljust(6, "0"))
        return moment.replace(microsecond=micro, tzinfo=UTC)

    def optional_datetime(self, key: str) -> datetime | None:
        value = self.data[key]
        if value is None or value == "":
            return None
        return self.required_datetime(key)


def _state(report: _Fields) -> ReportState:
    status = report.data["status"]
    if status is not None:
        if not isinstance(status, str) or status.lower() not in _STATUSES:
            report.wrong("status", f"one of {', '.join(sorted(set(_STATUSES)))}")
        return _STATUSES[status.lower()]
    state = report.data["state"]
    if not isinstance(state, str) or state.upper() not in _STATES:
        report.wrong("state", f"a report state ({', '.join(_STATES)}) when status is null")
    return _STATES[state.upper()]


def _tags(expense: _Fields) -> tuple[TagValue, ...]:
    tags: list[TagValue] = []
    for level in _TAG_LEVELS:
        name = expense.optional_str(f"ntag{level}")
        gl_code = expense.optional_str(f"ntag{level}GlCode")
        if name is None:
            if gl_code is not None:
                expense.fail(expense.at(f"ntag{level}GlCode"), "a GL code without a tag name")
            continue
        tags.append(TagValue(level=level, name=name, gl_code=gl_code))
    return tuple(tags)


def _expense(data: object, path: str, report_id: str) -> Expense:
    transaction = data.get("transactionID") if isinstance(data, dict) else None
    where = f"report {report_id!r}"
    if isinstance(transaction, str) and transaction:
        where += f", transaction {transaction!r}"
    x = _Fields(data, path, where, _EXPENSE_KEYS)
    receipt = _Fields(x.data["receiptObject"], x.at("receiptObject"), where, _RECEIPT_KEYS)
    return Expense(
        transaction_id=x.required_str("transactionID"),
        report_id=report_id,
        amount_cents=x.required_int("amount"),
        currency=x.currency("currency"),
        created=x.required_date("created"),
        merchant=x.text("merchant"),
        modified_amount_cents=x.optional_int("modifiedAmount"),
        converted_amount_cents=x.optional_int("convertedAmount"),
        currency_conversion_rate=x.optional_decimal("currencyConversionRate"),
        modified_merchant=x.optional_str("modifiedMerchant"),
        modified_created=x.optional_date("modifiedCreated"),
        inserted=x.optional_datetime("inserted"),
        category=x.optional_str("category"),
        category_gl_code=x.optional_str("categoryGlCode"),
        category_payroll_code=x.optional_str("categoryPayrollCode"),
        tag=x.optional_str("tag"),
        tag_gl_code=x.optional_str("tagGlCode"),
        tags=_tags(x),
        comment=x.text("comment"),
        reimbursable=x.flag("reimbursable", True),
        billable=x.flag("billable", False),
        has_tax=x.flag("hasTax", False),
        tax_amount_cents=x.optional_int("taxAmount"),
        tax_name=x.optional_str("taxName"),
        tax_rate=x.optional_decimal("taxRate"),
        tax_code=x.optional_str("taxCode"),
        mcc=x.optional_str("mcc"),
        bank=x.optional_str("bank"),
        card_id=x.optional_str("cardID"),
        external_id=x.optional_str("externalID"),
        receipt_url=receipt.optional_str("url"),
    )


def _custom_fields(report: _Fields) -> dict[str, str]:
    raw = report.data["customField"]
    path = report.at("customField")
    if not isinstance(raw, dict):
        report.wrong("customField", "an object")
    fields: dict[str, str] = {}
    for key, value in raw.items():
        if value is None:
            continue
        if not isinstance(value, str):
            report.fail(f"{path}.{key}", f"expected a string or null, got {_describe(value)}")
        fields[key] = value
    return fields


def _report(data: object, path: str) -> Report:
    report_id = data.get("reportID") if isinstance(data, dict) else None
    where = f"report {report_id!r}" if isinstance(report_id, str) and report_id else "report"
    r = _Fields(data, path, where, _REPORT_KEYS)
    report_id = r.required_str("reportID")
    names = _Fields(r.data["submitter"], r.at("submitter"), where, _SUBMITTER_KEYS)
    expenses = r.data["transactionList"]
    if not isinstance(expenses, list):
        r.wrong("transactionList", "an array")
    parsed = tuple(
        _expense(item, f"{r.at('transactionList')}[{i}]", report_id)
        for i, item in enumerate(expenses)
    )
    seen: set[str] = set()
    for i, expense in enumerate(parsed):
        if expense.transaction_id in seen:
            r.fail(
                f"{r.at('transactionList')}[{i}].transactionID",
                f"duplicate transaction {expense.transaction_id!r}",
            )
        seen.add(expense.transaction_id)
    return Report(
        report_id=report_id,
        report_name=r.required_str("reportName", allow_empty=True),
        status=_state(r),
        policy_id=r.required_str("policyID"),
        currency=r.currency("currency"),
        total_cents=r.required_int("total"),
        account_email=r.required_str("accountEmail"),
        created=r.required_datetime("created"),
        policy_name=r.text("policyName"),
        old_report_id=r.optional_str("oldReportID"),
        account_id=r.optional_str("accountID"),
        submitter_first_name=names.optional_str("firstName"),
        submitter_last_name=names.optional_str("lastName"),
        submitter_full_name=names.optional_str("fullName"),
        submitter_user_id=r.optional_str("submitterUserID"),
        submitter_payroll_id=r.optional_str("submitterPayrollID"),
        employee_custom_field_1=r.optional_str("employeeCustomField1"),
        employee_custom_field_2=r.optional_str("employeeCustomField2"),
        manager_email=r.optional_str("managerEmail"),
        submitted=r.optional_datetime("submitted"),
        approved=r.optional_datetime("approved"),
        reimbursed=r.optional_datetime("reimbursed"),
        entry_id=r.optional_str("entryID"),
        is_ach_reimbursed=r.flag("isACHReimbursed", False),
        custom_fields=_custom_fields(r),
        expenses=parsed,
    )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ExportParseError(f"export: duplicate key {key!r} in one JSON object")
        result[key] = value
    return result


def _no_constant(name: str) -> NoReturn:
    raise ExportParseError(f"export: {name} is not a JSON number")


def parse_report_export(data: bytes | str) -> list[Report]:
    """Parse the output of :data:`EXPORT_TEMPLATE` into reports (in export order).

    ``data`` is the downloaded file, as bytes (UTF-8, an optional BOM is ignored) or text.
    Raises :class:`ExportParseError` (a :class:`DataError`) for anything the template cannot
    have produced; the message names the report, the transaction and the field path.
    """
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ExportParseError(f"export: not UTF-8 at byte {exc.start}") from exc
    elif isinstance(data, str):
        text = data
    else:
        raise ExportParseError(f"export: expected bytes or str, got {type(data).__name__}")
    text = text.removeprefix("\ufeff")
    try:
        document = json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_no_constant,
            object_pairs_hook=_no_duplicates,
        )
    except json.JSONDecodeError as exc:
        raise ExportParseError(
            f"export: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    if not isinstance(document, dict) or set(document) != {"reports"}:
        raise ExportParseError('export: expected an object {"reports": [...]}')
    items = document["reports"]
    if not isinstance(items, list):
        raise ExportParseError(f"export: reports: expected an array, got {_describe(items)}")
    reports = [_report(item, f"reports[{i}]") for i, item in enumerate(items)]
    seen: set[str] = set()
    for i, report in enumerate(reports):
        if report.report_id in seen:
            raise ExportParseError(
                f"export report {report.report_id!r}: reports[{i}].reportID: duplicate report"
            )
        seen.add(report.report_id)
    return reports
