"""A pure-Python rendition of exactly one FreeMarker template: :data:`EXPORT_TEMPLATE`.

The emulator cannot run FreeMarker, and a general FreeMarker interpreter would be a project of
its own. Instead :func:`render_export` produces, byte for byte, what FreeMarker 2.3.31 renders
from ``expensify_client/templates/export_json.ftl`` (the test suite checks that against the
real ``freemarker.jar`` on generated data models). Any other template is refused with
:class:`UnsupportedTemplateError`: the emulator never falls back to a default rendering.

Data model
==========

``reports`` is the FreeMarker data model as the Integration Server holds it: a sequence of
report hashes (expensify-api.md sections 3.2 and 3.3). Every key is optional: an absent key and
``None`` are both FreeMarker's *missing* and render as ``null``. Python types map to FreeMarker
types as ``str`` → string, ``int`` and :class:`~decimal.Decimal` → number (``bool`` excluded),
``bool`` → boolean, :class:`~collections.abc.Mapping` → hash, ``list``/``tuple`` → sequence.
``float`` is refused (:class:`TypeError`): amounts are integer cents and rates are ``Decimal``.

The template (and this rendition) is type-agnostic: a *string slot* renders strings as JSON
strings and numbers/booleans as their ``?c`` text in quotes; a *value slot* renders strings as
JSON strings, numbers as ``?c`` and booleans as ``true``/``false``. A hash or sequence found
where a scalar belongs renders as ``{}``. Judging the values is the parser's job
(:func:`expensify_client.parse_report_export`).

Report keys consumed (slot kind, expected type)::

    reportID              string   str, e.g. "R00AbCdEfGhI"
    oldReportID           string   str | int (legacy numeric ID)
    reportName            string   str
    status                string   str, website vocabulary: Open, Processing, Approved,
                                   Reimbursed, Closed (also Archived; New Expensify names)
    state                 string   str, OPEN | SUBMITTED | APPROVED | REIMBURSED | ARCHIVED
                                   (used by the parser when ``status`` is missing)
    policyID              string   str
    policyName            string   str
    currency              string   str, ISO 4217 (report currency)
    total                 value    int, cents in ``currency``
    accountEmail          string   str (submitter)
    accountID             string   str | int
    managerEmail          string   str
    created               string   str "yyyy-MM-dd HH:mm:ss" (UTC)
    submitted             string   str "yyyy-MM-dd HH:mm:ss" (UTC)
    approved              string   str "yyyy-MM-dd HH:mm:ss" (UTC)
    reimbursed            string   str "yyyy-MM-dd HH:mm:ss" (UTC)
    entryID               string   str | int
    isACHReimbursed       value    bool
    submitter             hash     Mapping with firstName, lastName, fullName (string slots)
    submitterUserID       string   str
    submitterPayrollID    string   str
    employeeCustomField1  string   str
    employeeCustomField2  string   str
    customField           hash     Mapping of report-field values by key (non-alphanumerics
                                   of the field name as ``_``); read only for the keys
                                   written into an ``export_template(report_fields)``
                                   template, each a string slot, as ``reportFields``
    transactionList       sequence list/tuple of expense hashes

Expense keys consumed (items of ``transactionList``)::

    transactionID           string  str | int
    amount                  value   int, cents in the expense ``currency`` (may be negative)
    modifiedAmount          value   int, cents; missing when the amount was not edited
    convertedAmount         value   int, cents in the report currency
    currency                string  str, ISO 4217 (the expense's original currency)
    currencyConversionRate  value   Decimal | int
    merchant                string  str
    modifiedMerchant        string  str
    created                 string  str "yyyy-MM-dd"
    modifiedCreated         string  str "yyyy-MM-dd"
    modified                value   bool, INT-era "was edited" flag (usually missing)
    inserted                string  str "yyyy-MM-dd HH:mm:ss" (UTC)
    category                string  str
    categoryGlCode          string  str
    categoryPayrollCode     string  str
    tag                     string  str, levels joined with ":"
    tagGlCode               string  str
    ntag1 .. ntag5          string  str, the tag chosen on level 1..5
    ntag1GlCode .. ntag5GlCode  string  str
    comment                 string  str
    reimbursable            value   bool
    billable                value   bool
    hasTax                  value   bool
    taxAmount               value   int, cents
    taxName                 string  str
    taxRate                 value   Decimal | int (percent)
    taxCode                 string  str
    mcc                     string  str | int
    bank                    string  str
    cardID                  string  str | int
    cardNumber              string  str (masked card number)
    externalID              string  str
    receiptObject           hash    Mapping with ``url`` (string slot)
    attendees               list    list/tuple of hashes with ``email``, ``displayName``
                                    (string slots); not a list: ``null``; an item that is
                                    not a hash (or None): both values ``null``

Other keys (``type``, ``approvers``, ``actionList``, ``manager``, and ``customField``
beyond the keys a template names ...) are ignored, as the template ignores them (it never
enumerates a hash: under ``BeansWrapper`` ``?keys`` would list a bean's methods). Data
FreeMarker itself would fail on (a report, ``submitter``, ``receiptObject`` or a read
``customField`` that is not a hash, a ``transactionList`` that is not a
sequence, an expense that is not a hash) raises :class:`TypeError` here: the real server would
fail the export job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Context, Decimal
from types import MappingProxyType
from typing import Any, Final

from expensify_client._template import EXPORT_TEMPLATE, export_template

__all__ = ["EXPORT_TEMPLATE_KEYS", "UnsupportedTemplateError", "render_export"]


class UnsupportedTemplateError(ValueError):
    """A template other than :data:`expensify_client.EXPORT_TEMPLATE` (the only one rendered)."""


_S: Final = "s"  # string slot: js() in the template
_V: Final = "v"  # value slot: jv() in the template

_REPORT_HEAD: Final = (
    ("reportID", _S),
    ("oldReportID", _S),
    ("reportName", _S),
    ("status", _S),
    ("state", _S),
    ("policyID", _S),
    ("policyName", _S),
    ("currency", _S),
    ("total", _V),
    ("accountEmail", _S),
    ("accountID", _S),
    ("managerEmail", _S),
    ("created", _S),
    ("submitted", _S),
    ("approved", _S),
    ("reimbursed", _S),
    ("entryID", _S),
    ("isACHReimbursed", _V),
)
_SUBMITTER: Final = ("firstName", "lastName", "fullName")
_REPORT_TAIL: Final = (
    ("submitterUserID", _S),
    ("submitterPayrollID", _S),
    ("employeeCustomField1", _S),
    ("employeeCustomField2", _S),
)
_EXPENSE: Final = (
    ("transactionID", _S),
    ("amount", _V),
    ("modifiedAmount", _V),
    ("convertedAmount", _V),
    ("currency", _S),
    ("currencyConversionRate", _V),
    ("merchant", _S),
    ("modifiedMerchant", _S),
    ("created", _S),
    ("modifiedCreated", _S),
    ("modified", _V),
    ("inserted", _S),
    ("category", _S),
    ("categoryGlCode", _S),
    ("categoryPayrollCode", _S),
    ("tag", _S),
    ("tagGlCode", _S),
    *((key, _S) for n in range(1, 6) for key in (f"ntag{n}", f"ntag{n}GlCode")),
    ("comment", _S),
    ("reimbursable", _V),
    ("billable", _V),
    ("hasTax", _V),
    ("taxAmount", _V),
    ("taxName", _S),
    ("taxRate", _V),
    ("taxCode", _S),
    ("mcc", _S),
    ("bank", _S),
    ("cardID", _S),
    ("cardNumber", _S),
    ("externalID", _S),
)
_ATTENDEE: Final = ("email", "displayName")

#: Every data-model key the template reads: ``{"report": (...), "expense": (...)}``; nested
#: hashes as ``"submitter.firstName"``, ``"receiptObject.url"``.
EXPORT_TEMPLATE_KEYS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "report": (
            *(k for k, _ in _REPORT_HEAD),
            *(f"submitter.{k}" for k in _SUBMITTER),
            *(k for k, _ in _REPORT_TAIL),
            "transactionList",
        ),
        "expense": (
            *(k for k, _ in _EXPENSE),
            "receiptObject.url",
            *(f"attendees.{k}" for k in _ATTENDEE),
        ),
    }
)

_SHORT_ESCAPES: Final = {"\n": "\\n", "\r": "\\r", "\f": "\\f", "\b": "\\b", "\t": "\\t"}
_C_QUANTUM: Final = Decimal(1).scaleb(-16)  # ?c keeps at most 16 fraction digits


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


_EXPECTED: Final = _normalise(EXPORT_TEMPLATE)
_FIELDS_LINE: Final = re.compile(r'^"reportFields":\{(.*)\},<#t>$', re.MULTILINE)
_FIELD_READ: Final = re.compile(r'"(\w+)":\$\{js\(cf, "\1"\)\}')


def _report_field_keys(template: str) -> tuple[str, ...] | None:
    """The report-field keys of a template of :func:`export_template`'s family, else None."""
    normal = _normalise(template)
    if normal == _EXPECTED:
        return ()
    match = _FIELDS_LINE.search(normal)
    if match is None:
        return None
    keys = tuple(m.group(1) for m in _FIELD_READ.finditer(match.group(1)))
    if not keys or _normalise(export_template(keys)) != normal:
        return None
    return keys


def json_string(text: str) -> str:
    """FreeMarker 2.3.31's ``?json_string`` (``StringUtil.jsStringEnc(s, json=true)``).

    Besides JSON's mandatory escapes it writes ``\\/`` for a ``/`` that starts the string or
    follows ``<``, ``\\u003C`` for ``<`` before ``!``/``?`` or at the end, ``\\u003E`` for a
    ``>`` that starts the string or closes ``]]>``/``-->``, and ``\\uXXXX`` (upper-case hex)
    for other control characters, U+007F..U+009F, U+2028 and U+2029.
    """
    out: list[str] = []
    last = len(text) - 1
    for i, ch in enumerate(text):
        c = ord(ch)
        candidate = (c <= 0x3E or c >= 0x7F or ch == "\\") and ch != " " and not 0xA0 <= c < 0x2028
        if not candidate:
            out.append(ch)
        elif c <= 0x1F:
            out.append(_SHORT_ESCAPES.get(ch) or f"\\u{c:04X}")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "/" and (i == 0 or text[i - 1] == "<"):
            out.append("\\/")
        elif ch == ">":
            prev = text[i - 1] if i else ""
            dangerous = i == 0 or (prev in ("]", "-") and (i == 1 or text[i - 2] == prev))
            out.append("\\u003E" if dangerous else ">")
        elif ch == "<":
            dangerous = i == last or text[i + 1] in ("!", "?")
            out.append("\\u003C" if dangerous else "<")
        elif 0x7F <= c <= 0x9F or c in (0x2028, 0x2029):
            out.append(f"\\u{c:04X}")
        else:
            out.append(ch)
    return "".join(out)


def c_number(value: int | Decimal) -> str:
    """FreeMarker's ``?c`` for a Java ``Long``/``BigInteger`` (``int``) or ``BigDecimal``.

    ``BigDecimal`` goes through ``DecimalFormat("0.################")``: plain notation, at
    most 16 fraction digits rounded half-even, trailing zeros dropped, and ``-0`` for a
    negative value that rounds to zero.
    """
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise TypeError(f"not a FreeMarker number: {value!r}")
    if isinstance(value, int):
        return str(value)
    if not value.is_finite():
        raise TypeError(f"{value!r} has no Java BigDecimal form")
    context = Context(prec=max(value.adjusted(), 0) + 40, rounding=ROUND_HALF_EVEN)
    rounded = value.quantize(_C_QUANTUM, context=context)
    if rounded.is_zero():
        return "-0" if value < 0 else "0"
    text = format(rounded, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _scalar(value: Any, slot: str) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return f'"{json_string(value)}"'
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | Decimal):
        text = c_number(value)
    elif isinstance(value, Mapping | list | tuple):
        return "{}"
    else:
        raise TypeError(f"{type(value).__name__} is not a FreeMarker data-model type: {value!r}")
    return f'"{text}"' if slot == _S else text


def _hash(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{where} must be a hash (Mapping), not {type(value).__name__}")
    return value


def _fields(data: Mapping[str, Any], spec: Sequence[tuple[str, str]]) -> str:
    return ",".join(f'"{key}":{_scalar(data.get(key), slot)}' for key, slot in spec)


def _attendees(value: Any) -> str:
    """``attendees(x)`` of the template: a list of ``{email, displayName}`` or ``null``."""
    if not isinstance(value, list | tuple):
        return "null"  # missing, or a hash/scalar where the list belongs
    items = []
    for item in value:
        data: Mapping[str, Any] = item if isinstance(item, Mapping) else {}
        items.append("{" + ",".join(f'"{k}":{_scalar(data.get(k), _S)}' for k in _ATTENDEE) + "}")
    return "[" + ",".join(items) + "]"


def _expense(expense: Any, where: str) -> str:
    if not isinstance(expense, Mapping):
        raise TypeError(f"{where} must be a hash (Mapping), not {type(expense).__name__}")
    data: Mapping[str, Any] = expense
    receipt = _hash(data.get("receiptObject"), f"{where}.receiptObject")
    return (
        "{"
        + _fields(data, _EXPENSE)
        + f',"receiptObject":{{"url":{_scalar(receipt.get("url"), _S)}}}'
        + f',"attendees":{_attendees(data.get("attendees"))}}}'
    )


def _report(report: Any, where: str, fields: tuple[str, ...] = ()) -> str:
    if not isinstance(report, Mapping):
        raise TypeError(f"{where} must be a hash (Mapping), not {type(report).__name__}")
    submitter = _hash(report.get("submitter"), f"{where}.submitter")
    custom = _hash(report.get("customField"), f"{where}.customField") if fields else {}
    values = ",".join(f'"{key}":{_scalar(custom.get(key), _S)}' for key in fields)
    expenses = report.get("transactionList")
    if expenses is None:
        expenses = ()
    if not isinstance(expenses, list | tuple):
        raise TypeError(
            f"{where}.transactionList must be a sequence, not {type(expenses).__name__}"
        )
    names = ",".join(f'"{key}":{_scalar(submitter.get(key), _S)}' for key in _SUBMITTER)
    items = ",".join(
        _expense(item, f"{where}.transactionList[{i}]") for i, item in enumerate(expenses)
    )
    return (
        "{"
        + _fields(report, _REPORT_HEAD)
        + f',"submitter":{{{names}}},'
        + _fields(report, _REPORT_TAIL)
        + f',"reportFields":{{{values}}}'
        + f',"transactionList":[{items}]}}'
    )


def _final_line_break(template: str) -> str:
    for ending in ("\r\n", "\n", "\r"):
        if template.endswith(ending):
            return ending
    return ""


def render_export(template: str, reports: Sequence[Mapping[str, Any]]) -> str:
    """Render ``reports`` through ``template`` exactly as FreeMarker renders EXPORT_TEMPLATE.

    ``template`` must equal :data:`expensify_client.EXPORT_TEMPLATE`, or
    :func:`expensify_client.export_template` of some report fields, after normalising line
    endings, else :class:`UnsupportedTemplateError`. The output is ``{"reports":[...]}``
    followed by the template's final line break. See the module docstring for the data model.
    """
    fields = _report_field_keys(template)
    if fields is None:
        raise UnsupportedTemplateError(
            "the emulator renders only expensify_client.EXPORT_TEMPLATE (or "
            "export_template(report_fields)); this template differs"
        )
    body = ",".join(_report(report, f"reports[{i}]", fields) for i, report in enumerate(reports))
    return '{"reports":[' + body + "]}" + _final_line_break(template)
