"""iter_report_export / parse_report_export: the template's output into frozen models.

One odd report never sinks the export: soft problems are recorded on the report, hard ones
make it an UnparsedReport naming the field; only a broken document raises.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from expensify_client import (
    EXPORT_TEMPLATE,
    DataError,
    Expense,
    ExportParseError,
    Report,
    ReportProblem,
    ReportState,
    TagValue,
    UnparsedReport,
    iter_report_export,
    parse_report_export,
)
from expensify_client.emulator._render import render_export

from .freemarker.models import export_cases

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=4,
)


def expense_model(**changes: Any) -> dict[str, Any]:
    model: dict[str, Any] = {
        "transactionID": "4000000000000000001",
        "amount": 1234,
        "currency": "EUR",
        "created": "2025-01-02",
        "merchant": "Café",
    }
    model.update(changes)
    return model


def report_model(*expenses: dict[str, Any], **changes: Any) -> dict[str, Any]:
    model: dict[str, Any] = {
        "reportID": "R00AbCdEfGhI",
        "reportName": "January",
        "status": "Approved",
        "policyID": "0123456789ABCDEF",
        "currency": "USD",
        "total": 1350,
        "accountEmail": "ann@acme.test",
        "created": "2025-01-03 10:11:12",
        "transactionList": list(expenses) if expenses else [expense_model()],
    }
    model.update(changes)
    return model


def export(*reports: dict[str, Any]) -> str:
    return render_export(EXPORT_TEMPLATE, list(reports) if reports else [report_model()])


def edit(text: str, change: Any) -> str:
    document = json.loads(text)
    change(document)
    return json.dumps(document)


class TestRoundTrip:
    """Whatever valid data model is rendered parses back to the report it describes."""

    @given(export_cases())
    def test_rendition_then_parse_equals_expected(self, case: tuple[list[dict], list[Report]]):
        models, expected = case
        text = render_export(EXPORT_TEMPLATE, models)
        assert parse_report_export(text) == expected
        assert parse_report_export(text.encode("utf-8")) == expected

    def test_a_full_report(self):
        expense = expense_model(
            modifiedAmount=1100,
            convertedAmount=1350,
            currencyConversionRate=Decimal("1.0940"),
            modifiedMerchant="Café de Flore",
            modifiedCreated="2025-01-01",
            inserted="2025-01-02 08:00:00",
            category="Meals",
            categoryGlCode=6100,
            categoryPayrollCode="P1",
            tag="Sales:Paris",
            tagGlCode="200:210",
            ntag1="Sales",
            ntag1GlCode="200",
            ntag2="Paris",
            ntag2GlCode="210",
            comment="team lunch",
            reimbursable=False,
            billable=True,
            hasTax=True,
            taxAmount=183,
            taxName="VAT",
            taxRate=Decimal("20"),
            taxCode="2",
            mcc=5812,
            bank="Amex",
            cardID=998877,
            externalID="ext-1",
            receiptObject={"url": "https://receipts.test/r1.png"},
        )
        model = report_model(
            expense,
            oldReportID=3397451,
            accountID=42,
            policyName="Acme EU",
            managerEmail="boss@acme.test",
            submitted="2025-01-04 09:00:00",
            approved="2025-01-05 09:30:00",
            reimbursed="2025-01-06 12:00:00",
            entryID="E1",
            isACHReimbursed=True,
            submitter={"firstName": "Ann", "lastName": "Lee", "fullName": "Ann Lee"},
            submitterUserID="U1",
            submitterPayrollID="PAY1",
            employeeCustomField1="CF1",
            employeeCustomField2="CF2",
            customField={"Cost_Center": "CC-9", "Project_Code": 77, "Empty": None},  # ignored
            status="Reimbursed",
        )
        (report,) = parse_report_export(export(model))
        assert report == Report(
            report_id="R00AbCdEfGhI",
            report_name="January",
            status=ReportState.REIMBURSED,
            policy_id="0123456789ABCDEF",
            currency="USD",
            total_cents=1350,
            account_email="ann@acme.test",
            created=datetime(2025, 1, 3, 10, 11, 12, tzinfo=UTC),
            policy_name="Acme EU",
            old_report_id="3397451",
            account_id="42",
            submitter_first_name="Ann",
            submitter_last_name="Lee",
            submitter_full_name="Ann Lee",
            submitter_user_id="U1",
            submitter_payroll_id="PAY1",
            employee_custom_field_1="CF1",
            employee_custom_field_2="CF2",
            manager_email="boss@acme.test",
            submitted=datetime(2025, 1, 4, 9, tzinfo=UTC),
            approved=datetime(2025, 1, 5, 9, 30, tzinfo=UTC),
            reimbursed=datetime(2025, 1, 6, 12, tzinfo=UTC),
            entry_id="E1",
            is_ach_reimbursed=True,
            status_text="Reimbursed",
            expenses=(
                Expense(
                    transaction_id="4000000000000000001",
                    report_id="R00AbCdEfGhI",
                    amount_cents=1234,
                    currency="EUR",
                    created=date(2025, 1, 2),
                    merchant="Café",
                    modified_amount_cents=1100,
                    converted_amount_cents=1350,
                    currency_conversion_rate=Decimal("1.094"),
                    modified_merchant="Café de Flore",
                    modified_created=date(2025, 1, 1),
                    inserted=datetime(2025, 1, 2, 8, tzinfo=UTC),
                    category="Meals",
                    category_gl_code="6100",
                    category_payroll_code="P1",
                    tag="Sales:Paris",
                    tag_gl_code="200:210",
                    tags=(
                        TagValue(level=1, name="Sales", gl_code="200"),
                        TagValue(level=2, name="Paris", gl_code="210"),
                    ),
                    comment="team lunch",
                    reimbursable=False,
                    billable=True,
                    has_tax=True,
                    tax_amount_cents=183,
                    tax_name="VAT",
                    tax_rate=Decimal(20),
                    tax_code="2",
                    mcc="5812",
                    bank="Amex",
                    card_id="998877",
                    external_id="ext-1",
                    receipt_url="https://receipts.test/r1.png",
                ),
            ),
        )
        assert report.created.tzinfo is UTC
        assert report.expenses[0].effective_amount_cents == 1100

    def test_empty_export(self):
        assert parse_report_export(b'{"reports":[]}\n') == []

    def test_utf8_bom_is_ignored(self):
        text = export()
        assert parse_report_export(b"\xef\xbb\xbf" + text.encode()) == parse_report_export(text)


class TestNormalisation:
    """Expensify writes "no value" as "" or null; the models say None or the default."""

    def test_empty_strings_and_nulls_become_none_or_defaults(self):
        expense = expense_model(
            merchant=None,
            comment=None,
            modifiedAmount="",
            modifiedMerchant="",
            modifiedCreated="",
            category="",
            reimbursable=None,
            billable=None,
            hasTax=None,
            taxRate="",
            receiptObject={"url": ""},
        )
        model = report_model(expense, submitted="", managerEmail="", isACHReimbursed=None)
        (report,) = parse_report_export(export(model))
        (item,) = report.expenses
        assert (item.merchant, item.comment) == ("", "")
        assert item.modified_amount_cents is None
        assert item.modified_merchant is None
        assert item.modified_created is None
        assert item.category is None
        assert item.tax_rate is None
        assert item.receipt_url is None
        assert (item.reimbursable, item.billable, item.has_tax) == (True, False, False)
        assert report.submitted is None
        assert report.manager_email is None
        assert report.is_ach_reimbursed is False

    @pytest.mark.parametrize(
        ("status", "state"),
        [
            ("Open", ReportState.OPEN),
            ("Processing", ReportState.SUBMITTED),
            ("Approved", ReportState.APPROVED),
            ("Reimbursed", ReportState.REIMBURSED),
            ("Closed", ReportState.ARCHIVED),
            ("Archived", ReportState.ARCHIVED),
            ("Outstanding", ReportState.SUBMITTED),
            ("Paid", ReportState.REIMBURSED),
            ("APPROVED", ReportState.APPROVED),
        ],
    )
    def test_status_vocabulary(self, status: str, state: ReportState):
        (report,) = parse_report_export(export(report_model(status=status)))
        assert report.status is state

    @pytest.mark.parametrize(
        ("state", "expected"),
        [
            ("OPEN", ReportState.OPEN),
            ("SUBMITTED", ReportState.SUBMITTED),
            ("APPROVED", ReportState.APPROVED),
            ("MANUALREIMBURSED", ReportState.REIMBURSED),
            ("ARCHIVED", ReportState.ARCHIVED),
        ],
    )
    def test_state_is_used_when_status_is_missing(self, state: str, expected: ReportState):
        (report,) = parse_report_export(export(report_model(status=None, state=state)))
        assert report.status is expected

    def test_status_wins_over_state(self):
        (report,) = parse_report_export(export(report_model(status="Open", state="APPROVED")))
        assert report.status is ReportState.OPEN

    @pytest.mark.parametrize(
        ("text", "moment"),
        [
            ("2025-01-03 10:11:12", datetime(2025, 1, 3, 10, 11, 12, tzinfo=UTC)),
            ("2025-01-03 10:11:12.5", datetime(2025, 1, 3, 10, 11, 12, 500000, tzinfo=UTC)),
            ("2025-01-03", datetime(2025, 1, 3, tzinfo=UTC)),
        ],
    )
    def test_report_times_are_utc(self, text: str, moment: datetime):
        (report,) = parse_report_export(export(report_model(created=text)))
        assert report.created == moment
        assert report.created.utcoffset() is not None

    def test_tags_keep_their_level_numbers(self):
        expense = expense_model(ntag2="Paris", ntag3="", ntag4="Team", ntag4GlCode=44)
        (report,) = parse_report_export(export(report_model(expense)))
        assert report.expenses[0].tags == (
            TagValue(level=2, name="Paris"),
            TagValue(level=4, name="Team", gl_code="44"),
        )


def only(text: str | bytes) -> Report | UnparsedReport:
    (item,) = list(iter_report_export(text))
    return item


def unparsed(model: dict[str, Any]) -> UnparsedReport:
    item = only(export(model))
    assert isinstance(item, UnparsedReport), item
    return item


def parse_error(text: str | bytes) -> str:
    with pytest.raises(ExportParseError) as info:
        list(iter_report_export(text))
    return str(info.value)


class TestModifiedValues:
    """modifiedAmount 0/"0"/"" means not modified (unless ``modified`` is true), etc."""

    @pytest.mark.parametrize("value", [0, "0", "", None])
    def test_unmodified_amount_posts_the_real_amount(self, value: Any):
        (report,) = parse_report_export(export(report_model(expense_model(modifiedAmount=value))))
        (expense,) = report.expenses
        assert expense.modified_amount_cents is None
        assert expense.effective_amount_cents == 1234

    @pytest.mark.parametrize("value", [0, "0"])
    def test_modified_flag_makes_zero_a_real_edit(self, value: Any):
        model = report_model(expense_model(modifiedAmount=value, modified=True))
        (report,) = parse_report_export(export(model))
        assert report.expenses[0].effective_amount_cents == 0

    def test_flag_explained_by_another_edit_keeps_the_amount(self):
        """The flag is per expense: an edited merchant does not make the amount 0.00."""
        expense = expense_model(modifiedAmount=0, modified=True, modifiedMerchant="Flore")
        (report,) = parse_report_export(export(report_model(expense)))
        (item,) = report.expenses
        assert item.effective_amount_cents == 1234
        assert item.effective_merchant == "Flore"
        dated = expense_model(modifiedAmount="0", modified=True, modifiedCreated="2025-01-01")
        (report,) = parse_report_export(export(report_model(dated)))
        assert report.expenses[0].effective_amount_cents == 1234

    def test_a_real_edit_is_kept(self):
        model = report_model(expense_model(modifiedAmount=1100, modified=False))
        (report,) = parse_report_export(export(model))
        assert report.expenses[0].effective_amount_cents == 1100

    @pytest.mark.parametrize("value", ["", "0", 0, None])
    def test_unmodified_merchant_and_date(self, value: Any):
        model = report_model(expense_model(modifiedMerchant=value, modifiedCreated=value))
        (report,) = parse_report_export(export(model))
        (expense,) = report.expenses
        assert (expense.modified_merchant, expense.modified_created) == (None, None)
        assert expense.effective_merchant == "Café"
        assert expense.effective_date == date(2025, 1, 2)

    def test_a_string_amount_other_than_zero_is_a_wrong_type(self):
        bad = unparsed(report_model(expense_model(modifiedAmount="1100")))
        assert [p.field for p in bad.problems] == ["reports[0].transactionList[0].modifiedAmount"]


class TestSoftProblems:
    """Kept, flagged: the report is complete and usable."""

    def test_unknown_status_is_kept_raw(self):
        report = only(export(report_model(status="Reimbursed (withdrawing)")))
        assert isinstance(report, Report)
        assert report.status is None
        assert report.status_text == "Reimbursed (withdrawing)"
        assert report.problems == (
            ReportProblem(
                "reports[0].status",
                "unknown report status (kept as text)",
                "string 'Reimbursed (withdrawing)'",
            ),
        )

    def test_unknown_state_when_status_is_missing(self):
        report = only(export(report_model(status=None, state="BILLING")))
        assert isinstance(report, Report)
        assert (report.status, report.status_text) == (None, "BILLING")
        assert [p.field for p in report.problems] == ["reports[0].state"]

    def test_neither_status_nor_state(self):
        report = only(export(report_model(status=None, state=None)))
        assert isinstance(report, Report)
        assert (report.status, report.status_text) == (None, None)
        assert [p.field for p in report.problems] == ["reports[0].state"]

    @pytest.mark.parametrize(("text", "value"), [("true", True), ("false", False)])
    def test_string_booleans(self, text: str, value: bool):
        model = report_model(expense_model(reimbursable=text), isACHReimbursed=text)
        report = only(export(model))
        assert isinstance(report, Report)
        assert report.is_ach_reimbursed is value
        assert report.expenses[0].reimbursable is value
        assert {p.field for p in report.problems} == {
            "reports[0].isACHReimbursed",
            "reports[0].transactionList[0].reimbursable",
        }

    def test_extra_key_is_ignored_with_a_note(self):
        text = edit(export(), lambda d: d["reports"][0].update(extra=1))
        report = only(text)
        assert isinstance(report, Report)
        assert [(p.field, p.message) for p in report.problems] == [
            ("reports[0]", "unexpected key(s) extra (ignored)")
        ]

    def test_known_status_has_no_problem(self):
        report = only(export())
        assert isinstance(report, Report)
        assert report.problems == ()
        assert report.status_text == "Approved"


class TestOneBadReportAmongGood:
    """The odd report is listed apart; every other report still comes through."""

    def test_retired_currency_and_good_neighbours(self):
        text = export(
            report_model(reportID="R1"),
            report_model(expense_model(currency="HRK"), reportID="R2"),
            report_model(reportID="R3", status="Reimbursed (withdrawing)"),
        )
        items = list(iter_report_export(text))
        assert [type(i).__name__ for i in items] == ["Report", "UnparsedReport", "Report"]
        bad = items[1]
        assert isinstance(bad, UnparsedReport)
        assert bad.report_id == "R2"
        assert bad.problems == (
            ReportProblem(
                "reports[1].transactionList[0].currency",
                "expected a current ISO 4217 currency code, got string 'HRK'",
                "string 'HRK'",
            ),
        )
        assert bad.raw["reportID"] == "R2"
        assert bad.raw["transactionList"][0]["currency"] == "HRK"

    def test_parse_report_export_raises_with_both_kinds(self):
        text = export(report_model(reportID="R1"), report_model(total="12", reportID="R2"))
        with pytest.raises(ExportParseError) as info:
            parse_report_export(text)
        assert "report 'R2'" in str(info.value)
        assert "reports[1].total" in str(info.value)
        assert [r.report_id for r in info.value.reports] == ["R1"]
        assert [u.report_id for u in info.value.unparsed] == ["R2"]

    def test_every_problem_is_listed(self):
        bad = unparsed(report_model(expense_model(amount="x"), total=None, currency="HRK"))
        assert {p.field for p in bad.problems} == {
            "reports[0].total",
            "reports[0].currency",
            "reports[0].transactionList[0].amount",
        }

    def test_report_without_id(self):
        bad = unparsed(report_model(reportID=None))
        assert bad.report_id is None
        assert "reports[0].reportID" in {p.field for p in bad.problems}

    def test_not_an_object(self):
        text = edit(export(), lambda d: d["reports"].append(7))
        items = list(iter_report_export(text))
        assert isinstance(items[0], Report)
        assert items[1] == UnparsedReport(
            None, (ReportProblem("reports[1]", "expected an object, got number 7", "number 7"),)
        )


class TestHardProblems:
    """Anything that cannot be built faithfully: UnparsedReport naming the field path."""

    def test_is_a_data_error(self):
        assert issubclass(ExportParseError, DataError)

    @pytest.mark.parametrize(
        ("model", "path"),
        [
            (report_model(total="1350"), "reports[0].total"),
            (report_model(total=True), "reports[0].total"),
            (report_model(total=Decimal("13.50")), "reports[0].total"),
            (report_model(total=None), "reports[0].total"),
            (report_model(currency="XYZ"), "reports[0].currency"),
            (report_model(currency="HRK"), "reports[0].currency"),
            (report_model(currency="usd"), "reports[0].currency"),
            (report_model(status=["x"]), "reports[0].status"),
            (report_model(created="2025-01-03T10:11:12"), "reports[0].created"),
            (report_model(created="2025-02-30 10:11:12"), "reports[0].created"),
            (report_model(created="2025-01-03 25:11:12"), "reports[0].created"),
            (report_model(created=None), "reports[0].created"),
            (report_model(policyID=""), "reports[0].policyID"),
            (report_model(accountEmail=None), "reports[0].accountEmail"),
            (report_model(isACHReimbursed="yes"), "reports[0].isACHReimbursed"),
            (report_model(submitter={"firstName": {"x": 1}}), "reports[0].submitter.firstName"),
            (report_model(reportName=None), "reports[0].reportName"),
        ],
    )
    def test_wrong_report_values_name_the_path(self, model: dict[str, Any], path: str):
        bad = unparsed(model)
        assert bad.report_id == "R00AbCdEfGhI"
        assert [p.field for p in bad.problems if p.field == path] == [path]

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"amount": "1234"}, "amount"),
            ({"amount": Decimal("12.34")}, "amount"),
            ({"amount": None}, "amount"),
            ({"modifiedAmount": False}, "modifiedAmount"),
            ({"convertedAmount": "1"}, "convertedAmount"),
            ({"currencyConversionRate": "1.1"}, "currencyConversionRate"),
            ({"currency": None}, "currency"),
            ({"currency": "HRK"}, "currency"),
            ({"created": "2025-01-02 00:00:00"}, "created"),
            ({"created": "02/01/2025"}, "created"),
            ({"modifiedCreated": "2025-13-01"}, "modifiedCreated"),
            ({"inserted": "yesterday"}, "inserted"),
            ({"reimbursable": "no"}, "reimbursable"),
            ({"billable": 1}, "billable"),
            ({"merchant": ["a"]}, "merchant"),
            ({"ntag2GlCode": "210"}, "ntag2GlCode"),
            ({"receiptObject": {"url": {"a": 1}}}, "receiptObject.url"),
        ],
    )
    def test_wrong_expense_values_sink_only_their_report(self, changes: dict[str, Any], field: str):
        second = expense_model(transactionID="T2", **changes)
        text = export(report_model(expense_model(), second), report_model(reportID="R2"))
        bad, good = list(iter_report_export(text))
        assert isinstance(bad, UnparsedReport)
        assert isinstance(good, Report)
        assert [p.field for p in bad.problems] == [f"reports[0].transactionList[1].{field}"]

    def test_missing_transaction_id(self):
        bad = unparsed(report_model(expense_model(transactionID=None)))
        assert "reports[0].transactionList[0].transactionID" in {p.field for p in bad.problems}

    @pytest.mark.parametrize(
        ("change", "path", "problem"),
        [
            (lambda d: d["reports"][0].pop("total"), "reports[0]", "missing key(s) total"),
            (
                lambda d: d["reports"][0]["transactionList"][0].pop("amount"),
                "reports[0].transactionList[0]",
                "missing key(s) amount",
            ),
            (
                lambda d: d["reports"][0]["transactionList"][0].update(receiptObject=None),
                "reports[0].transactionList[0].receiptObject",
                "expected an object, got null",
            ),
            (
                lambda d: d["reports"][0].update(transactionList={}),
                "reports[0].transactionList",
                "expected an array, got an object",
            ),
        ],
    )
    def test_shape_is_the_templates(self, change: Any, path: str, problem: str):
        bad = only(edit(export(), change))
        assert isinstance(bad, UnparsedReport)
        assert (path, problem) in {(p.field, p.message) for p in bad.problems}

    def test_duplicate_report_ids(self):
        first, second = list(iter_report_export(export(report_model(), report_model())))
        assert isinstance(first, Report)
        assert isinstance(second, UnparsedReport)
        assert [p.field for p in second.problems] == ["reports[1].reportID"]

    def test_duplicate_transaction_ids(self):
        bad = unparsed(report_model(expense_model(), expense_model()))
        assert [p.field for p in bad.problems] == ["reports[0].transactionList[1].transactionID"]

    def test_problems_never_hold_whole_values(self):
        long_value = "x" * 500
        bad = unparsed(report_model(total=long_value))
        for problem in bad.problems:
            assert long_value not in str(problem)
        assert "..." in bad.problems[0].value_repr


class TestBrokenDocuments:
    """Only a broken document raises (ExportParseError), naming the place."""

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "{",
            '{"reports":[]',
            "[]",
            '{"reports":{}}',
            '{"reports":[],"more":1}',
            '{"reports":[{"reportID":"R1"}',
            "not json",
            '{"reports":[]} trailing',
        ],
    )
    def test_malformed_documents(self, text: str):
        assert parse_error(text).startswith("export")

    def test_not_utf8(self):
        assert "UTF" in parse_error(b'{"reports":["\xff"]}')

    def test_nan_is_not_a_number(self):
        text = export(report_model(expense_model(taxRate=Decimal(1))))
        assert parse_error(text.replace('"taxRate":1', '"taxRate":NaN')).startswith("export")

    def test_reports_before_the_break_were_yielded(self):
        text = export(report_model(reportID="R1"), report_model(reportID="R2"))
        broken = text[: text.index('"reportID":"R2"') + 20]
        iterator = iter_report_export(broken)
        assert next(iterator).report_id == "R1"
        with pytest.raises(ExportParseError, match="after 1 report"):
            next(iterator)

    def test_wrong_source_type(self):
        with pytest.raises(ExportParseError, match="int"):
            list(iter_report_export(42))  # type: ignore[arg-type]

    @given(st.data())
    def test_any_leaf_replaced_yields_or_raises_export_parse_error(self, data: st.DataObject):
        """Fuzz: swap one value of a valid export for any JSON value; no other exception."""
        document = json.loads(export(report_model(expense_model(ntag1="A"))))
        node: Any = document
        while isinstance(node, dict | list) and node:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            key = data.draw(st.sampled_from(keys))
            if not isinstance(node[key], dict | list) or data.draw(st.booleans()):
                node[key] = data.draw(JSON_VALUES)
                break
            node = node[key]
        with contextlib.suppress(ExportParseError):
            for item in iter_report_export(json.dumps(document)):
                assert isinstance(item, Report | UnparsedReport)


class TestSources:
    """bytes, str, a binary file or byte chunks (split anywhere) give the same reports."""

    @given(export_cases(max_reports=3, max_expenses=2), st.data())
    def test_every_source_kind_and_any_chunking(
        self, case: tuple[list[dict], list[Report]], data: st.DataObject
    ):
        models, expected = case
        raw = render_export(EXPORT_TEMPLATE, models).encode("utf-8")
        cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=6)))
        bounds = [0, *cuts, len(raw)]
        chunks = [raw[a:b] for a, b in itertools.pairwise(bounds)]
        for source in (raw, raw.decode("utf-8"), io.BytesIO(raw), iter(chunks), chunks):
            assert list(iter_report_export(source)) == expected

    def test_bom_in_a_chunk_stream(self):
        raw = export().encode("utf-8")
        chunks = [b"\xef", b"\xbb\xbf" + raw[:5], raw[5:]]
        (report,) = list(iter_report_export(chunks))
        assert isinstance(report, Report)

    def test_lazy_one_report_at_a_time(self):
        raw = export(*(report_model(reportID=f"R{i}") for i in range(300))).encode("utf-8")
        consumed: list[int] = []

        def chunks() -> Any:
            for start in range(0, len(raw), 1024):
                consumed.append(start)
                yield raw[start : start + 1024]

        iterator = iter_report_export(chunks())
        first = next(iterator)
        assert first.report_id == "R0"
        assert len(consumed) < len(raw) // 1024  # the whole stream was not read for one report


class TestBoundedMemory:
    """Streaming keeps one report at a time: Python's peak does not grow with the export."""

    @staticmethod
    def _peak(reports: int) -> int:
        one = export(report_model(*(expense_model(transactionID=f"T{j}") for j in range(3))))
        body = one[len('{"reports":[') : -len("]}\n")]

        def chunks() -> Iterator[bytes]:
            yield b'{"reports":['
            for i in range(reports):
                text = body.replace("R00AbCdEfGhI", f"R{i}", 1)
                yield (("," if i else "") + text).encode("utf-8")
            yield b"]}\n"

        tracemalloc.start()
        try:
            count = sum(1 for item in iter_report_export(chunks()) if isinstance(item, Report))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert count == reports
        return peak

    def test_peak_is_flat_as_the_export_grows(self):
        small, large = self._peak(20), self._peak(400)
        # 20x the expenses; only the seen-ID set grows (a few dozen bytes per report).
        assert large < small + 400 * 200
        assert large < 4 * 2**20
