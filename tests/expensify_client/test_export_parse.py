"""parse_report_export: the template's output into frozen models, strictly."""

from __future__ import annotations

import contextlib
import json
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
    ReportState,
    TagValue,
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
            customField={"Cost_Center": "CC-9", "Project_Code": 77, "Empty": None},
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
            custom_fields={"Cost_Center": "CC-9", "Project_Code": "77"},
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


def parse_error(text: str | bytes) -> str:
    with pytest.raises(ExportParseError) as info:
        parse_report_export(text)
    return str(info.value)


class TestStrictness:
    """Anything our template cannot have produced is an ExportParseError naming where."""

    def test_is_a_data_error(self):
        assert issubclass(ExportParseError, DataError)

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "{",
            '{"reports":[]',
            "[]",
            '{"reports":{}}',
            '{"reports":[],"more":1}',
            '{"reports":[],"reports":[]}',
            "not json",
        ],
    )
    def test_malformed_documents(self, text: str):
        assert parse_error(text).startswith("export")

    def test_not_utf8(self):
        assert "UTF-8" in parse_error(b'{"reports":["\xff"]}')

    def test_nan_is_not_a_number(self):
        text = export(report_model(expense_model(taxRate=Decimal(1))))
        assert "NaN" in parse_error(text.replace('"taxRate":1', '"taxRate":NaN'))

    @pytest.mark.parametrize(
        ("model", "path"),
        [
            (report_model(total="1350"), "reports[0].total"),
            (report_model(total=True), "reports[0].total"),
            (report_model(total=Decimal("13.50")), "reports[0].total"),
            (report_model(total=None), "reports[0].total"),
            (report_model(currency="XYZ"), "reports[0].currency"),
            (report_model(currency="usd"), "reports[0].currency"),
            (report_model(status="Pending"), "reports[0].status"),
            (report_model(status=None, state=None), "reports[0].state"),
            (report_model(created="2025-01-03T10:11:12"), "reports[0].created"),
            (report_model(created="2025-02-30 10:11:12"), "reports[0].created"),
            (report_model(created="2025-01-03 25:11:12"), "reports[0].created"),
            (report_model(created=None), "reports[0].created"),
            (report_model(policyID=""), "reports[0].policyID"),
            (report_model(accountEmail=None), "reports[0].accountEmail"),
            (report_model(isACHReimbursed="true"), "reports[0].isACHReimbursed"),
            (report_model(customField={"A": [1]}), "reports[0].customField.A"),
            (report_model(submitter={"firstName": {"x": 1}}), "reports[0].submitter.firstName"),
            (report_model(reportName=None), "reports[0].reportName"),
        ],
    )
    def test_wrong_report_values_name_report_and_path(self, model: dict[str, Any], path: str):
        message = parse_error(export(model))
        assert "report 'R00AbCdEfGhI'" in message
        assert path in message

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
            ({"created": "2025-01-02 00:00:00"}, "created"),
            ({"created": "02/01/2025"}, "created"),
            ({"modifiedCreated": "2025-13-01"}, "modifiedCreated"),
            ({"inserted": "yesterday"}, "inserted"),
            ({"reimbursable": "false"}, "reimbursable"),
            ({"billable": 1}, "billable"),
            ({"merchant": ["a"]}, "merchant"),
            ({"ntag2GlCode": "210"}, "ntag2GlCode"),
            ({"receiptObject": {"url": {"a": 1}}}, "receiptObject.url"),
        ],
    )
    def test_wrong_expense_values_name_transaction_and_path(
        self, changes: dict[str, Any], field: str
    ):
        second = expense_model(transactionID="T2", **changes)
        message = parse_error(export(report_model(expense_model(), second)))
        assert "report 'R00AbCdEfGhI', transaction 'T2'" in message
        assert f"reports[0].transactionList[1].{field}" in message

    def test_missing_transaction_id(self):
        message = parse_error(export(report_model(expense_model(transactionID=None))))
        assert "reports[0].transactionList[0].transactionID" in message

    @pytest.mark.parametrize(
        ("change", "path", "problem"),
        [
            (lambda d: d["reports"][0].pop("total"), "reports[0]", "missing key(s) total"),
            (lambda d: d["reports"][0].update(extra=1), "reports[0]", "unexpected key(s) extra"),
            (
                lambda d: d["reports"][0]["transactionList"][0].pop("amount"),
                "reports[0].transactionList[0]",
                "missing key(s) amount",
            ),
            (
                lambda d: d["reports"][0]["submitter"].update(middleName="Q"),
                "reports[0].submitter",
                "unexpected key(s) middleName",
            ),
            (
                lambda d: d["reports"][0]["transactionList"][0].update(receiptObject=None),
                "reports[0].transactionList[0].receiptObject",
                "expected an object",
            ),
            (
                lambda d: d["reports"][0].update(transactionList={}),
                "reports[0].transactionList",
                "expected an array",
            ),
            (lambda d: d["reports"].append(7), "reports[1]", "expected an object"),
        ],
    )
    def test_shape_is_exactly_the_templates(self, change: Any, path: str, problem: str):
        message = parse_error(edit(export(), change))
        assert f"{path}: {problem}" in message

    def test_duplicate_report_ids(self):
        text = export(report_model(), report_model())
        assert "reports[1].reportID: duplicate" in parse_error(text)

    def test_duplicate_transaction_ids(self):
        text = export(report_model(expense_model(), expense_model()))
        assert "transactionList[1].transactionID: duplicate" in parse_error(text)

    def test_errors_never_print_whole_values(self):
        long_value = "x" * 500
        message = parse_error(export(report_model(total=long_value)))
        assert long_value not in message
        assert "..." in message

    @given(st.data())
    def test_any_leaf_replaced_parses_or_raises_export_parse_error(self, data: st.DataObject):
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
            parse_report_export(json.dumps(document))
