"""Hypothesis strategies: export data models (FreeMarker side) and the reports they stand for.

:func:`report_cases` draws a *valid* report data model, keyed as expensify-api.md sections
3.2/3.3 name them, TOGETHER with the :class:`Report` that
``parse_report_export(render(model))`` must produce. The expected value is built from the drawn
parts directly, never by parsing, so a round trip through real FreeMarker (or the emulator's
rendition) and the parser is checked against an independent oracle.

:func:`messy_reports` draws data models with anything in any slot (wrong types, huge and tiny
numbers, empty strings, nested junk) to compare real FreeMarker with the Python rendition
byte for byte.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from expensify_client import Attendee, Expense, Report, ReportState, TagValue
from expensify_client._cents import MINOR_UNITS
from expensify_client.emulator._render import EXPORT_TEMPLATE_KEYS

HOSTILE = (
    "",
    '"',
    "\\",
    "\\n",
    "a\nb",
    "\t",
    "\r\n",
    "</script>",
    "<script>alert('x')</script>",
    "<!--",
    "-->",
    "]]>",
    "/leading",
    "<?xml",
    "trailing<",
    "Zoë Ünïcödé",
    "😀 emoji 🧾",
    "\u2028\u2029",
    "\x00\x01\x1f\x7f\x9f",
    "${injection}",
    "<#list x as y>",
    "1,234,567",
    "null",
    "'single'",
)

# Any code point except surrogates (which no JSON text or Java string round-trips).
_CHARS = st.characters(exclude_categories=["Cs"])
texts = st.one_of(st.sampled_from(HOSTILE), st.text(_CHARS, max_size=24))
nonempty_texts = texts.filter(bool)

STATUSES: dict[str, ReportState] = {
    "Open": ReportState.OPEN,
    "Processing": ReportState.SUBMITTED,
    "Approved": ReportState.APPROVED,
    "Reimbursed": ReportState.REIMBURSED,
    "Closed": ReportState.ARCHIVED,
    "Archived": ReportState.ARCHIVED,
    "APPROVED": ReportState.APPROVED,
}
STATES: dict[str, ReportState] = {s.value: s for s in ReportState}

cents = st.one_of(
    st.integers(-(10**12), 10**12),
    st.sampled_from([0, -1, 1, 123_456_789, -123_456_789, 99_999_999_999]),
)
rates = st.integers(0, 12).flatmap(
    lambda places: st.decimals(
        min_value=Decimal("-1000000"),
        max_value=Decimal("1000000"),
        places=places,
        allow_nan=False,
        allow_infinity=False,
    )
)
days = st.dates(min_value=date(1970, 1, 1), max_value=date(2099, 12, 31))
moments = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59)
).map(lambda m: m.replace(microsecond=0))


class _Absent:
    """Marks a key left out of the data model."""


ABSENT = _Absent()


def _put(model: dict[str, Any], key: str, value: Any) -> None:
    if value is not ABSENT:
        model[key] = value


@st.composite
def _missing(draw: st.DrawFn, *, empty_string: bool = True) -> Any:
    """How a data model says "no value": absent key, null, or (for strings) ""."""
    choices: list[Any] = [ABSENT, None]
    if empty_string:
        choices.append("")
    return draw(st.sampled_from(choices))


@st.composite
def optional_text(draw: st.DrawFn) -> tuple[Any, str | None]:
    """(data-model value, expected value) for an optional string field."""
    if draw(st.booleans()):
        return draw(_missing()), None
    value = draw(nonempty_texts)
    return value, value


@st.composite
def optional_id(draw: st.DrawFn) -> tuple[Any, str | None]:
    """An ID that the server may hold as a number: rendered as its ``?c`` text."""
    kind = draw(st.sampled_from(["missing", "text", "number"]))
    if kind == "missing":
        return draw(_missing()), None
    if kind == "number":
        number = draw(st.integers(-(2**63), 2**63 - 1))
        return number, str(number)
    value = draw(nonempty_texts)
    return value, value


@st.composite
def optional_cents(draw: st.DrawFn) -> tuple[Any, int | None]:
    if draw(st.booleans()):
        return draw(_missing()), None
    value = draw(cents)
    return value, value


@st.composite
def optional_rate(draw: st.DrawFn) -> tuple[Any, Decimal | None]:
    if draw(st.booleans()):
        return draw(_missing()), None
    value = draw(st.one_of(rates, st.integers(-1000, 1000)))
    return value, Decimal(value)


@st.composite
def flag(draw: st.DrawFn, default: bool) -> tuple[Any, bool]:
    value = draw(st.sampled_from([ABSENT, None, True, False]))
    return value, default if value is ABSENT or value is None else value


@st.composite
def free_text(draw: st.DrawFn) -> tuple[Any, str]:
    """merchant/comment: null or absent means the empty string."""
    value = draw(st.one_of(texts, _missing(empty_string=False)))
    return value, "" if value is ABSENT or value is None else value


@st.composite
def expense_cases(draw: st.DrawFn, report_id: str, transaction_id: str) -> tuple[dict, Expense]:
    model: dict[str, Any] = {"transactionID": transaction_id}
    expected: dict[str, Any] = {"transaction_id": transaction_id, "report_id": report_id}
    amount = draw(cents)
    model["amount"] = amount
    expected["amount_cents"] = amount
    currency = draw(st.sampled_from(sorted(MINOR_UNITS)))
    model["currency"] = currency
    expected["currency"] = currency
    created = draw(days)
    model["created"] = created.isoformat()
    expected["created"] = created
    for key, attr, strategy in (
        ("merchant", "merchant", free_text()),
        ("comment", "comment", free_text()),
        ("convertedAmount", "converted_amount_cents", optional_cents()),
        ("taxAmount", "tax_amount_cents", optional_cents()),
        ("currencyConversionRate", "currency_conversion_rate", optional_rate()),
        ("taxRate", "tax_rate", optional_rate()),
        ("category", "category", optional_text()),
        ("categoryGlCode", "category_gl_code", optional_id()),
        ("categoryPayrollCode", "category_payroll_code", optional_id()),
        ("tag", "tag", optional_text()),
        ("tagGlCode", "tag_gl_code", optional_id()),
        ("taxName", "tax_name", optional_text()),
        ("taxCode", "tax_code", optional_id()),
        ("mcc", "mcc", optional_id()),
        ("bank", "bank", optional_text()),
        ("cardID", "card_id", optional_id()),
        ("cardNumber", "card_number", optional_text()),
        ("externalID", "external_id", optional_id()),
        ("reimbursable", "reimbursable", flag(True)),
        ("billable", "billable", flag(False)),
        ("hasTax", "has_tax", flag(False)),
    ):
        value, want = draw(strategy)
        _put(model, key, value)
        expected[attr] = want
    # modifiedAmount 0 / "0" / "" / null, modifiedMerchant "0" / "" / null and
    # modifiedCreated "" / null mean "not modified"; a zero-like amount or a "0" merchant is
    # a real edit only when the per-expense ``modified`` flag is true and the other
    # modified* fields carry no edit that explains it.
    modified = draw(st.sampled_from([ABSENT, None, True, False]))
    _put(model, "modified", modified)
    amount_value = draw(st.one_of(cents, st.sampled_from([0, "0", "", None, ABSENT])))
    _put(model, "modifiedAmount", amount_value)
    merchant_value, merchant_want = draw(st.one_of(optional_text(), st.just(("0", "0"))))
    _put(model, "modifiedMerchant", merchant_value)
    created_day = draw(st.one_of(st.none(), days))
    if created_day is not None:
        model["modifiedCreated"] = created_day.isoformat()
    else:
        _put(model, "modifiedCreated", draw(_missing()))
    expected["modified_created"] = created_day
    amount_edit = amount_value not in (0, "0", "", None) and amount_value is not ABSENT
    merchant_edit = merchant_want not in (None, "0")
    if amount_value in ("", None) or amount_value is ABSENT:
        expected["modified_amount_cents"] = None
    elif amount_value in (0, "0"):
        alone = modified is True and not merchant_edit and created_day is None
        expected["modified_amount_cents"] = 0 if alone else None
    else:
        expected["modified_amount_cents"] = amount_value
    if merchant_want == "0" and not (modified is True and not amount_edit and created_day is None):
        merchant_want = None
    expected["modified_merchant"] = merchant_want
    if draw(st.booleans()):
        moment = draw(moments)
        model["inserted"] = moment.strftime("%Y-%m-%d %H:%M:%S")
        expected["inserted"] = moment.replace(tzinfo=UTC)
    else:
        _put(model, "inserted", draw(_missing()))
    tags: list[TagValue] = []
    for level in range(1, 6):
        name, want = draw(optional_text())
        _put(model, f"ntag{level}", name)
        if want is None:
            continue
        code, want_code = draw(optional_id())
        _put(model, f"ntag{level}GlCode", code)
        tags.append(TagValue(level=level, name=want, gl_code=want_code))
    expected["tags"] = tuple(tags)
    url, want_url = draw(optional_text())
    receipt = draw(st.sampled_from(["absent", "null", "hash"]))
    if receipt == "hash":
        model["receiptObject"] = {} if url is ABSENT else {"url": url, "thumbnail": "t.png"}
        expected["receipt_url"] = want_url
    elif receipt == "null":
        model["receiptObject"] = None
    attendees: list[Attendee] = []
    if draw(st.booleans()):
        items = []
        for _ in range(draw(st.integers(0, 3))):
            email, want_email = draw(optional_text())
            name, want_name = draw(optional_text())
            item: dict[str, Any] = {"avatarUrl": "x.png"}
            _put(item, "email", email)
            _put(item, "displayName", name)
            items.append(item)
            if want_email is not None or want_name is not None:
                attendees.append(Attendee(email=want_email, display_name=want_name))
        model["attendees"] = items
    expected["attendees"] = tuple(attendees)
    if draw(st.booleans()):  # keys the template ignores
        model.update(type="expense", reportID="ignored")
    return model, Expense(**expected)


@st.composite
def report_cases(
    draw: st.DrawFn, report_id: str | None = None, max_expenses: int = 4
) -> tuple[dict, Report]:
    """(report data model, expected Report)."""
    rid = report_id if report_id is not None else draw(nonempty_texts)
    model: dict[str, Any] = {"reportID": rid}
    expected: dict[str, Any] = {"report_id": rid}
    name = draw(texts)
    policy_id = draw(nonempty_texts)
    currency = draw(st.sampled_from(sorted(MINOR_UNITS)))
    total = draw(cents)
    email = draw(nonempty_texts)
    created = draw(moments)
    model.update(
        reportName=name,
        policyID=policy_id,
        currency=currency,
        total=total,
        accountEmail=email,
        created=created.strftime("%Y-%m-%d %H:%M:%S"),
    )
    expected.update(
        report_name=name,
        policy_id=policy_id,
        currency=currency,
        total_cents=total,
        account_email=email,
        created=created.replace(tzinfo=UTC),
    )
    if draw(st.booleans()):
        status = draw(st.sampled_from(sorted(STATUSES)))
        model["status"] = status
        expected["status"] = STATUSES[status]
        expected["status_text"] = status
        _put(model, "state", draw(st.sampled_from([ABSENT, STATUSES[status].value])))
    else:
        state = draw(st.sampled_from(sorted(STATES)))
        _put(model, "status", draw(_missing(empty_string=False)))
        model["state"] = state
        expected["status"] = STATES[state]
        expected["status_text"] = state
    for key, attr, strategy in (
        ("policyName", "policy_name", free_text()),
        ("oldReportID", "old_report_id", optional_id()),
        ("accountID", "account_id", optional_id()),
        ("submitterUserID", "submitter_user_id", optional_id()),
        ("submitterPayrollID", "submitter_payroll_id", optional_id()),
        ("employeeCustomField1", "employee_custom_field_1", optional_text()),
        ("employeeCustomField2", "employee_custom_field_2", optional_text()),
        ("managerEmail", "manager_email", optional_text()),
        ("entryID", "entry_id", optional_id()),
        ("isACHReimbursed", "is_ach_reimbursed", flag(False)),
    ):
        value, want = draw(strategy)
        _put(model, key, value)
        expected[attr] = want
    for key in ("submitted", "approved", "reimbursed"):
        if draw(st.booleans()):
            moment = draw(moments)
            model[key] = moment.strftime("%Y-%m-%d %H:%M:%S")
            expected[key] = moment.replace(tzinfo=UTC)
        else:
            _put(model, key, draw(_missing()))
    submitter: dict[str, Any] = {}
    for key, attr in (
        ("firstName", "submitter_first_name"),
        ("lastName", "submitter_last_name"),
        ("fullName", "submitter_full_name"),
    ):
        value, want = draw(optional_text())
        _put(submitter, key, value)
        expected[attr] = want
    if submitter or draw(st.booleans()):
        model["submitter"] = submitter
    custom: dict[str, Any] = {}
    for key in draw(st.lists(texts, max_size=4, unique=True)):
        custom[key] = draw(st.one_of(st.none(), texts, st.integers(-(10**6), 10**6)))
    if custom or draw(st.booleans()):
        model["customField"] = custom  # never exported: the template enumerates no hash
    count = draw(st.integers(0, max_expenses))
    ids = draw(st.lists(nonempty_texts, min_size=count, max_size=count, unique=True))
    pairs = [draw(expense_cases(rid, tid)) for tid in ids]
    if pairs or draw(st.booleans()):
        model["transactionList"] = [m for m, _ in pairs]
    expected["expenses"] = tuple(e for _, e in pairs)
    if draw(st.booleans()):  # keys the template ignores
        model.update(approvers=[{"email": "boss@x.test"}], actionList=[], tag="x")
    return model, Report(**expected)


@st.composite
def export_cases(
    draw: st.DrawFn, max_reports: int = 3, max_expenses: int = 3
) -> tuple[list[dict], list[Report]]:
    """A whole export: distinct report IDs, data models and expected reports in order."""
    count = draw(st.integers(0, max_reports))
    ids = draw(st.lists(nonempty_texts, min_size=count, max_size=count, unique=True))
    pairs = [draw(report_cases(rid, max_expenses=max_expenses)) for rid in ids]
    return [m for m, _ in pairs], [r for _, r in pairs]


# ---------------------------------------------------------------- messy data models

junk_scalars = st.one_of(
    st.none(),
    texts,
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.decimals(
        min_value=Decimal("-1e20"), max_value=Decimal("1e20"), allow_nan=False, allow_infinity=False
    ),
    st.decimals(
        min_value=Decimal("-1e-10"),
        max_value=Decimal("1e-10"),
        allow_nan=False,
        allow_infinity=False,
    ),
)
junk = st.one_of(
    junk_scalars,
    st.lists(junk_scalars, max_size=2),
    st.dictionaries(st.text(max_size=3), junk_scalars, max_size=2),
)


def _keys(section: str) -> list[str]:
    return [k for k in EXPORT_TEMPLATE_KEYS[section] if "." not in k]


@st.composite
def messy_hash(draw: st.DrawFn, keys: list[str]) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(keys), unique=True, max_size=len(keys)))
    return {k: draw(junk) for k in chosen}


@st.composite
def messy_expense(draw: st.DrawFn) -> Any:
    expense = draw(messy_hash([k for k in _keys("expense") if k != "receiptObject"]))
    attendees = draw(st.sampled_from(["absent", "list", "junk"]))
    if attendees == "list":
        expense["attendees"] = draw(
            st.lists(st.one_of(messy_hash(["email", "displayName", "x"]), junk), max_size=3)
        )
    elif attendees == "junk":
        expense["attendees"] = draw(st.one_of(junk, messy_hash(["email"])))
    receipt = draw(st.sampled_from(["absent", "null", "hash", "junk"]))
    if receipt == "hash":
        expense["receiptObject"] = draw(messy_hash(["url", "thumbnail"]))
    elif receipt == "null":
        expense["receiptObject"] = None
    elif receipt == "junk" and draw(st.integers(0, 9)) == 0:
        expense["receiptObject"] = draw(junk_scalars.filter(lambda v: v is not None))
    return expense


@st.composite
def messy_reports(draw: st.DrawFn) -> list[Any]:
    """A report list as a sloppy server might hold it (occasionally one FreeMarker rejects)."""
    reports: list[Any] = []
    for _ in range(draw(st.integers(0, 3))):
        skip = {"submitter", "customField", "transactionList"}
        report = draw(messy_hash([k for k in _keys("report") if k not in skip]))
        if draw(st.booleans()):
            report["submitter"] = draw(messy_hash(["firstName", "lastName", "fullName", "x"]))
        if draw(st.booleans()):
            report["customField"] = draw(st.dictionaries(texts, junk, max_size=3))
        if draw(st.booleans()):
            report["transactionList"] = draw(st.lists(messy_expense(), max_size=3))
        if draw(st.integers(0, 19)) == 0:  # something FreeMarker itself fails on
            broken = draw(st.sampled_from(["submitter", "transactionList"]))
            report[broken] = draw(texts)
        reports.append(report)
    return reports
