"""Read the output of :data:`EXPORT_TEMPLATE` one report at a time.

:func:`iter_report_export` streams ``{"reports":[...]}`` with :mod:`ijson` (its C backend):
only one report's JSON object is held at a time, so memory stays bounded whatever the size of
the export. Each report becomes either a :class:`Report` or an :class:`UnparsedReport`; one odd
report never stops the others.

Per-report judgement
====================

*Soft* problems are worked around and recorded in :attr:`Report.problems`:

* an unknown ``status`` (e.g. ``"Reimbursed (withdrawing)"``) or ``state``: kept raw in
  :attr:`Report.status_text`, :attr:`Report.status` is ``None``;
* a boolean written as the string ``"true"``/``"false"``: read as the boolean;
* a key the template does not render (ignored).

*Hard* problems make the report an :class:`UnparsedReport` naming every problem found (field
path, message, a truncated rendering of the value): a missing or empty ``reportID``, a
missing template key, a value of the wrong type, a retired or unknown currency (``HRK``), a
malformed date, a duplicate report or transaction ID. A hard problem in one expense makes its
whole report unparsed (a report is never returned with an expense missing).

A key repeated inside one JSON object is not detected (the last value wins): the template
never repeats a key, and checking would double the parse time.

Only a broken *document* raises :class:`ExportParseError`: malformed JSON, invalid UTF-8, or a
document that is not ``{"reports":[...]}``. Reports yielded before the break have already been
yielded; a caller that needs all-or-nothing collects first (as :func:`parse_report_export`
does).

Normalisation (Expensify writes "no value" as ``""``; the template writes ``null``)
====================================================================================

* an optional string, amount, rate or date that is ``""`` or ``null`` becomes ``None``;
* ``merchant`` and ``comment`` default to ``""``; the booleans to the model defaults
  (``reimbursable`` true, ``billable``/``hasTax``/``isACHReimbursed`` false) when ``null``;
* ``ntag1``..``ntag5`` with a non-empty name become :class:`TagValue` items of ``tags``;
* **modified values**: ``modifiedAmount`` ``0``, ``"0"``, ``""`` or ``null`` means "not
  modified" (``modified_amount_cents`` is ``None``) unless the expense's ``modified`` flag is
  ``true`` and no other ``modified*`` field carries an edit that explains the flag (the flag
  is per expense): only then is ``0`` a real edit to zero. Likewise ``modifiedMerchant``
  (``""``, ``"0"``, ``null``; ``"0"`` kept under the same flag rule) and ``modifiedCreated``
  (``""``, ``"0"``, ``0``, ``null``) mean "not modified". Source: the
  Integration Server's reconciliation data model documents ``modifiedAmount`` as "0 if
  unmodified" (expensify-api.md section 3.4, Expensify/slate reconciliation templates), the
  export reference as "empty/absent when not edited" (section 3.3), and Expensify's own
  Postman help template uses a modified value only "if present" (section 3.5, item 5).

Report event times (``created``, ``submitted``, ``approved``, ``reimbursed``) and an
expense's ``inserted`` are ``yyyy-MM-dd HH:mm:ss`` (optionally with a fraction, or a bare
``yyyy-MM-dd`` meaning midnight) and are read as UTC; expense dates are ``yyyy-MM-dd`` and
become :class:`datetime.date`. Amounts stay integer cents (convert with
:func:`cents_to_decimal`); rates become :class:`~decimal.Decimal`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import IO, Any, Final, TypeAlias

import ijson  # type: ignore[import-untyped]  # no stubs published

from ._cents import MINOR_UNITS
from ._exceptions import ExportParseError
from ._models import Attendee, Expense, Report, ReportProblem, ReportState, TagValue, UnparsedReport

__all__ = ["ExportSource", "iter_report_export", "parse_report_export"]

#: What :func:`iter_report_export` reads: the whole file as bytes or text, a binary file
#: object, or an iterable of byte chunks (e.g. ``httpx.Response.iter_bytes()``).
ExportSource: TypeAlias = "bytes | bytearray | memoryview | str | IO[bytes] | Iterable[bytes]"

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
        "reportFields",
        "transactionList",
    }
)
#: Report keys an older revision of the template did not render.
_OPTIONAL_REPORT_KEYS: Final = frozenset({"reportFields"})
#: Keys an older revision of the template rendered; accepted without a problem.
_LEGACY_REPORT_KEYS: Final = frozenset({"customField"})
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
        "modified",
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
        "cardNumber",
        "externalID",
        "receiptObject",
        "attendees",
    }
)
#: Keys whose absence is tolerated (added to the template later than the others).
_OPTIONAL_EXPENSE_KEYS: Final = frozenset({"modified", "cardNumber", "attendees"})
_ATTENDEE_KEYS: Final = frozenset({"email", "displayName"})

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
#: Values meaning "not modified" in ``modifiedMerchant``/``modifiedCreated``.
_UNMODIFIED_TEXT: Final = frozenset({"", "0"})

_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DATETIME: Final = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})(?: (?P<time>\d{2}:\d{2}:\d{2})(?P<fraction>\.\d{1,6})?)?",
    re.ASCII,
)
_HEAD: Final = re.compile(rb'\s*\{\s*"reports"\s*:\s*\[')
_TAIL: Final = re.compile(rb"\]\s*\}\s*$")
_BOM: Final = b"\xef\xbb\xbf"
_CHUNK: Final = 64 * 1024


def describe(value: object) -> str:
    """A short rendering of a JSON value for messages (strings truncated to 40 characters)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | Decimal):
        text = str(value)
        return f"number {text if len(text) <= 40 else text[:37] + '...'}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    if isinstance(value, list):
        return "an array"
    return "an object"


class _Bad(Exception):
    """Internal: a hard problem was recorded; the value cannot be produced."""


class _Fields:
    """Typed access to one JSON object; problems are collected, not raised."""

    def __init__(
        self,
        data: object,
        path: str,
        problems: list[ReportProblem],
        keys: frozenset[str],
        *,
        hard: list[bool],
        optional: frozenset[str] = frozenset(),
        legacy: frozenset[str] = frozenset(),
    ) -> None:
        self.path = path
        self.problems = problems
        self.hard = hard
        self.data: dict[str, Any] = {}
        if not isinstance(data, dict):
            self.record(path, f"expected an object, got {describe(data)}", data)
            raise _Bad
        self.data = data
        missing = sorted(keys - optional - data.keys())
        extra = sorted(data.keys() - keys - legacy)
        if missing:
            self.record(path, f"missing key(s) {', '.join(missing)}", None)
        if extra:
            self.soft(path, f"unexpected key(s) {', '.join(extra)} (ignored)", None)

    def at(self, key: str) -> str:
        return f"{self.path}.{key}"

    def record(self, path: str, message: str, value: object) -> None:
        self.problems.append(ReportProblem(path, message, describe(value)))
        self.hard[0] = True

    def soft(self, path: str, message: str, value: object) -> None:
        self.problems.append(ReportProblem(path, message, describe(value)))

    def wrong(self, key: str, expected: str) -> None:
        """Record a hard problem for ``key`` (accessors then return ``None``)."""
        value = self.data.get(key)
        self.record(self.at(key), f"expected {expected}, got {describe(value)}", value)

    def required_str(self, key: str, allow_empty: bool = False) -> str | None:
        value = self.data.get(key)
        if not isinstance(value, str) or (not value and not allow_empty):
            self.wrong(key, "a string" if allow_empty else "a non-empty string")
            return None
        return value

    def optional_str(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            self.wrong(key, "a string or null")
            return None
        return value

    def text(self, key: str) -> str | None:
        """A free-text field where null means empty."""
        value = self.data.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.wrong(key, "a string or null")
            return None
        return value

    def required_int(self, key: str) -> int | None:
        value = self.data.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            self.wrong(key, "an integer (cents)")
            return None
        return value

    def optional_int(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.wrong(key, "an integer (cents) or null")
            return None
        return value

    def optional_decimal(self, key: str) -> Decimal | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            self.wrong(key, "a number or null")
            return None
        return Decimal(value)

    def flag(self, key: str, default: bool | None) -> bool | None:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, str) and value.lower() in ("true", "false"):
            self.soft(self.at(key), "a boolean written as a string (read as the boolean)", value)
            return value.lower() == "true"
        if not isinstance(value, bool):
            self.wrong(key, "a boolean or null")
            return None
        return value

    def currency(self, key: str) -> str | None:
        value = self.data.get(key)
        if not isinstance(value, str) or value not in MINOR_UNITS:
            self.wrong(key, "a current ISO 4217 currency code")
            return None
        return value

    def _date(self, key: str, value: str) -> date | None:
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.wrong(key, "a valid date")
            return None

    def required_date(self, key: str) -> date | None:
        value = self.data.get(key)
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            self.wrong(key, "a date yyyy-MM-dd")
            return None
        return self._date(key, value)

    def optional_date(self, key: str) -> date | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        return self.required_date(key)

    def required_datetime(self, key: str) -> datetime | None:
        value = self.data.get(key)
        match = _DATETIME.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            self.wrong(key, "a time yyyy-MM-dd HH:mm:ss")
            return None
        day = self._date(key, match["date"])
        if day is None:
            return None
        if match["time"] is None:
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        try:
            moment = datetime.fromisoformat(f"{match['date']}T{match['time']}")
        except ValueError:
            self.wrong(key, "a valid time yyyy-MM-dd HH:mm:ss")
            return None
        micro = int((match["fraction"] or ".0")[1:].ljust(6, "0"))
        return moment.replace(microsecond=micro, tzinfo=UTC)

    def optional_datetime(self, key: str) -> datetime | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        return self.required_datetime(key)


def _state(report: _Fields) -> tuple[ReportState | None, str | None]:
    """The typed state (``None`` when unknown) and the raw status text."""
    status = report.data.get("status")
    if status is not None and status != "":
        if not isinstance(status, str):
            report.wrong("status", "a string")
            return None, None
        known = _STATUSES.get(status.lower()) or _STATES.get(status.upper())
        if known is None:
            report.soft(report.at("status"), "unknown report status (kept as text)", status)
        return known, status
    state = report.data.get("state")
    if state is None or state == "":
        report.soft(report.at("state"), "neither status nor state is given", state)
        return None, None
    if not isinstance(state, str):
        report.wrong("state", "a string")
        return None, None
    known = _STATES.get(state.upper())
    if known is None:
        report.soft(report.at("state"), "unknown report state (kept as text)", state)
    return known, state


def _tags(expense: _Fields) -> tuple[TagValue, ...]:
    tags: list[TagValue] = []
    for level in _TAG_LEVELS:
        name = expense.optional_str(f"ntag{level}")
        gl_code = expense.optional_str(f"ntag{level}GlCode")
        if name is None:
            if gl_code is not None:
                expense.record(
                    expense.at(f"ntag{level}GlCode"), "a GL code without a tag name", gl_code
                )
            continue
        tags.append(TagValue(level=level, name=name, gl_code=gl_code))
    return tuple(tags)


def _unset(value: object) -> bool:
    """A ``modified*`` value that says "not modified": null, ``""``, ``"0"`` or ``0``."""
    if value is None or isinstance(value, bool):
        return value is None
    if isinstance(value, str):
        return value in _UNMODIFIED_TEXT
    return isinstance(value, int) and value == 0


def _zero_is_an_edit(x: _Fields, modified: bool | None, *others: str) -> bool:
    """Whether a zero-like ``modified*`` value is a real edit (to zero / "0").

    Only when the expense's ``modified`` flag is true AND none of the other ``modified*``
    fields carries an edit that would explain the flag: the flag is per expense, so an
    edited merchant must not turn an unedited amount's ``0`` into a 0.00 expense.
    """
    return modified is True and all(_unset(x.data.get(key)) for key in others)


def _modified_amount(x: _Fields, modified: bool | None) -> int | None:
    value = x.data.get("modifiedAmount")
    if value == "" or (_unset(value) and value is not None):
        if _zero_is_an_edit(x, modified, "modifiedMerchant", "modifiedCreated") and value != "":
            return 0
        return None
    return x.optional_int("modifiedAmount")


def _modified_text(x: _Fields, key: str, modified: bool | None) -> str | None:
    value = x.optional_str(key)
    if value == "0" and _zero_is_an_edit(x, modified, "modifiedAmount", "modifiedCreated"):
        return value
    if value is not None and value in _UNMODIFIED_TEXT:
        return None
    return value


def _modified_date(x: _Fields) -> date | None:
    value = x.data.get("modifiedCreated")
    if (isinstance(value, str) and value in _UNMODIFIED_TEXT) or (
        value == 0 and not isinstance(value, bool)
    ):
        return None
    return x.optional_date("modifiedCreated")


def _report_fields(r: _Fields) -> dict[str, str]:
    """``reportFields``: key -> value of each report field the template named and the
    report has (null and ``""`` are "no value" and left out)."""
    value = r.data.get("reportFields")
    if value is None:
        return {}
    if not isinstance(value, dict):
        r.wrong("reportFields", "an object or null")
        return {}
    found: dict[str, str] = {}
    for key, item in value.items():
        if item is None or item == "":
            continue
        if not isinstance(item, str):
            r.record(f"{r.at('reportFields')}.{key}", "expected a string or null", item)
            continue
        found[str(key)] = item
    return found


def _attendees(x: _Fields) -> tuple[Attendee, ...]:
    """``attendees``: null is none; each item an object with ``email``/``displayName``.

    An item with neither value (what the template renders for an item that is not an
    object) is dropped; an item of the wrong shape is a hard problem.
    """
    value = x.data.get("attendees")
    if value is None:
        return ()
    if not isinstance(value, list):
        x.wrong("attendees", "a list or null")
        return ()
    found: list[Attendee] = []
    for n, item in enumerate(value):
        path = f"{x.at('attendees')}[{n}]"
        try:
            a = _Fields(item, path, x.problems, _ATTENDEE_KEYS, hard=x.hard)
        except _Bad:
            continue
        email = a.optional_str("email")
        name = a.optional_str("displayName")
        if email is None and name is None:
            continue  # what the template renders for an item that is not an object
        found.append(Attendee(email=email, display_name=name))
    return tuple(found)


def _expense(data: object, path: str, report_id: str, problems: list[ReportProblem]) -> Expense:
    hard = [False]
    x = _Fields(data, path, problems, _EXPENSE_KEYS, hard=hard, optional=_OPTIONAL_EXPENSE_KEYS)
    receipt_url: str | None = None
    if "receiptObject" in x.data:
        try:
            receipt = _Fields(
                x.data["receiptObject"], x.at("receiptObject"), problems, _RECEIPT_KEYS, hard=hard
            )
            receipt_url = receipt.optional_str("url")
        except _Bad:
            pass
    modified = x.flag("modified", None) if "modified" in x.data else None
    values: dict[str, Any] = {
        "transaction_id": x.required_str("transactionID"),
        "report_id": report_id,
        "amount_cents": x.required_int("amount"),
        "currency": x.currency("currency"),
        "created": x.required_date("created"),
        "merchant": x.text("merchant"),
        "modified_amount_cents": _modified_amount(x, modified),
        "converted_amount_cents": x.optional_int("convertedAmount"),
        "currency_conversion_rate": x.optional_decimal("currencyConversionRate"),
        "modified_merchant": _modified_text(x, "modifiedMerchant", modified),
        "modified_created": _modified_date(x),
        "inserted": x.optional_datetime("inserted"),
        "category": x.optional_str("category"),
        "category_gl_code": x.optional_str("categoryGlCode"),
        "category_payroll_code": x.optional_str("categoryPayrollCode"),
        "tag": x.optional_str("tag"),
        "tag_gl_code": x.optional_str("tagGlCode"),
        "tags": _tags(x),
        "comment": x.text("comment"),
        "reimbursable": x.flag("reimbursable", True),
        "billable": x.flag("billable", False),
        "has_tax": x.flag("hasTax", False),
        "tax_amount_cents": x.optional_int("taxAmount"),
        "tax_name": x.optional_str("taxName"),
        "tax_rate": x.optional_decimal("taxRate"),
        "tax_code": x.optional_str("taxCode"),
        "mcc": x.optional_str("mcc"),
        "bank": x.optional_str("bank"),
        "card_id": x.optional_str("cardID"),
        "card_number": x.optional_str("cardNumber"),
        "external_id": x.optional_str("externalID"),
        "receipt_url": receipt_url,
        "attendees": _attendees(x),
    }
    if hard[0]:
        raise _Bad
    return Expense(**values)


def _report(data: object, path: str, seen: set[str]) -> Report | UnparsedReport:
    problems: list[ReportProblem] = []
    hard = [False]
    raw: Mapping[str, Any] = data if isinstance(data, dict) else {}
    report_id: str | None = None
    try:
        r = _Fields(
            data,
            path,
            problems,
            _REPORT_KEYS,
            hard=hard,
            optional=_OPTIONAL_REPORT_KEYS,
            legacy=_LEGACY_REPORT_KEYS,
        )
    except _Bad:
        return UnparsedReport(None, tuple(problems), raw)
    report_id = r.required_str("reportID")
    if report_id in seen:
        r.record(r.at("reportID"), "duplicate report (already in this export)", report_id)
    elif report_id is not None:
        seen.add(report_id)
    names: _Fields | None
    try:
        names = _Fields(
            r.data.get("submitter"), r.at("submitter"), problems, _SUBMITTER_KEYS, hard=hard
        )
    except _Bad:
        names = None
    expenses: list[Expense] = []
    items = r.data.get("transactionList")
    if not isinstance(items, list):
        r.wrong("transactionList", "an array")
        items = []
    transactions: set[str] = set()
    for i, item in enumerate(items):
        where = f"{r.at('transactionList')}[{i}]"
        try:
            expense = _expense(item, where, report_id or "", problems)
        except _Bad:
            hard[0] = True
            continue
        if expense.transaction_id in transactions:
            r.record(
                f"{where}.transactionID",
                f"duplicate transaction {expense.transaction_id!r}",
                expense.transaction_id,
            )
            continue
        transactions.add(expense.transaction_id)
        expenses.append(expense)
    status, status_text = _state(r)
    values: dict[str, Any] = {
        "report_id": report_id,
        "report_name": r.required_str("reportName", True),
        "status": status,
        "status_text": status_text,
        "policy_id": r.required_str("policyID"),
        "currency": r.currency("currency"),
        "total_cents": r.required_int("total"),
        "account_email": r.required_str("accountEmail"),
        "created": r.required_datetime("created"),
        "policy_name": r.text("policyName"),
        "old_report_id": r.optional_str("oldReportID"),
        "account_id": r.optional_str("accountID"),
        "submitter_first_name": names.optional_str("firstName") if names else None,
        "submitter_last_name": names.optional_str("lastName") if names else None,
        "submitter_full_name": names.optional_str("fullName") if names else None,
        "submitter_user_id": r.optional_str("submitterUserID"),
        "submitter_payroll_id": r.optional_str("submitterPayrollID"),
        "employee_custom_field_1": r.optional_str("employeeCustomField1"),
        "employee_custom_field_2": r.optional_str("employeeCustomField2"),
        "manager_email": r.optional_str("managerEmail"),
        "submitted": r.optional_datetime("submitted"),
        "approved": r.optional_datetime("approved"),
        "reimbursed": r.optional_datetime("reimbursed"),
        "entry_id": r.optional_str("entryID"),
        "is_ach_reimbursed": r.flag("isACHReimbursed", False),
        "custom_fields": _report_fields(r),
        "expenses": tuple(expenses),
    }
    if hard[0]:
        return UnparsedReport(report_id, tuple(problems), raw)
    return Report(**values, problems=tuple(problems))


# --------------------------------------------------------------------------- the document


class _Reader:
    """A binary file-like view of any :data:`ExportSource` that checks the document's ends.

    It strips a UTF-8 BOM, checks that the document starts with ``{"reports":[`` and keeps
    the last bytes read so that the end (``]}``) can be checked once ijson is done.
    """

    def __init__(self, source: object) -> None:
        self._chunks: Iterator[object]
        if isinstance(source, str):
            source = source.encode("utf-8")
        if isinstance(source, bytes | bytearray | memoryview):
            # Slices, not one chunk: ijson builds every item of a chunk before yielding.
            whole = memoryview(source).cast("B")
            self._chunks = (
                whole[start : start + _CHUNK].tobytes() for start in range(0, len(whole), _CHUNK)
            )
        elif hasattr(source, "read"):
            stream: Any = source
            self._chunks = iter(lambda: stream.read(_CHUNK), b"")
        elif isinstance(source, Iterable):
            self._chunks = iter(source)
        else:
            raise ExportParseError(
                f"export: expected bytes, str, a binary file or byte chunks, got "
                f"{type(source).__name__}"
            )
        self._pending = b""
        self._head_checked = False
        self._tail = b""
        self.size = 0

    def _next_chunk(self) -> bytes:
        for chunk in self._chunks:
            if isinstance(chunk, str):
                raise ExportParseError("export: a text chunk in a byte stream")
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise ExportParseError(f"export: expected byte chunks, got {type(chunk).__name__}")
            if chunk:
                return bytes(chunk)
        return b""

    def _check_head(self) -> None:
        head = b""
        while len(head) < 64:
            chunk = self._next_chunk()
            if not chunk:
                break
            head += chunk
        head = head.removeprefix(_BOM)
        if not _HEAD.match(head):
            raise ExportParseError('export: expected an object {"reports": [...]}')
        self._pending = head
        self._head_checked = True

    def read(self, size: int = -1) -> bytes:
        """The next chunk of bytes (whatever ``size``); ``b""`` at the end."""
        if size == 0:
            return b""
        if not self._head_checked:
            self._check_head()
        if self._pending:
            data, self._pending = self._pending, b""
        else:
            data = self._next_chunk()
        if data:
            self.size += len(data)
            self._tail = (self._tail + data)[-64:]
        return data

    def check_tail(self) -> None:
        if not _TAIL.search(self._tail):
            raise ExportParseError('export: the document does not end with "]}"')


def iter_report_export(source: ExportSource) -> Iterator[Report | UnparsedReport]:
    """Yield the reports of an export one at a time, in export order, in bounded memory.

    ``source`` is the downloaded file as ``bytes`` or ``str``, a binary file object, or an
    iterable of byte chunks (UTF-8; a BOM is ignored). Each report is a :class:`Report`
    (possibly carrying soft :attr:`~Report.problems`) or an :class:`UnparsedReport` naming
    what made it unbuildable; see the module documentation for the rules. Raises
    :class:`ExportParseError` only when the document itself is broken (malformed JSON,
    invalid UTF-8, not ``{"reports":[...]}``), at the point where that is found.
    """
    reader = _Reader(source)
    seen: set[str] = set()
    index = 0
    try:
        for item in ijson.items(reader, "reports.item"):
            yield _report(item, f"reports[{index}]", seen)
            index += 1
    except ijson.JSONError as exc:
        raise _malformed(exc, f"{index} report(s)", reader) from exc
    reader.check_tail()


def _malformed(exc: Exception, after: str, reader: _Reader) -> ExportParseError:
    """The error for a document ijson cannot read past ``after`` (what was read by then)."""
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "utf" in detail.lower():
        detail = f"not UTF-8 ({detail})"
    return ExportParseError(f"export: malformed JSON after {after} (byte {reader.size}): {detail}")


def report_ids(source: ExportSource) -> Iterator[str]:
    """Yield the ``reportID`` of each report of an export, in export order, without
    building the reports (for a caller that only needs to know which reports a file holds).

    The same IDs as the non-``None`` :attr:`~Report.report_id` of what
    :func:`iter_report_export` yields for ``source`` (a report whose ``reportID`` is
    missing or not a non-empty string has none; a repeated report is yielded again), and
    the same :class:`ExportParseError` for a broken document; the rest of each report is
    not judged.
    """
    reader = _Reader(source)
    index = 0
    try:
        for item in ijson.items(reader, "reports.item.reportID"):
            index += 1
            if isinstance(item, str) and item:
                yield item
    except ijson.JSONError as exc:
        raise _malformed(exc, f"{index} report ID(s)", reader) from exc
    reader.check_tail()


def parse_report_export(data: ExportSource) -> list[Report]:
    """Parse a whole export into reports (in export order), all or nothing.

    Built on :func:`iter_report_export`. Returns every report (including those carrying soft
    :attr:`~Report.problems`) when none is unparsed; otherwise raises
    :class:`ExportParseError` whose message lists every unparsed report with its problems
    and whose ``unparsed`` attribute holds the :class:`UnparsedReport` values (the parsed
    ones are in ``reports``). Use :func:`iter_report_export` to process the good reports
    of an export that has bad ones.
    """
    reports: list[Report] = []
    unparsed: list[UnparsedReport] = []
    for item in iter_report_export(data):
        if isinstance(item, UnparsedReport):
            unparsed.append(item)
        else:
            reports.append(item)
    if unparsed:
        lines = []
        for bad in unparsed:
            name = f"report {bad.report_id!r}" if bad.report_id else "report"
            details = "; ".join(str(problem) for problem in bad.problems)
            lines.append(f"export {name}: {details}")
        raise ExportParseError("\n".join(lines), unparsed=tuple(unparsed), reports=tuple(reports))
    return reports
