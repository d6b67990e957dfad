"""Billable flags, attendees and rates in descriptions, and per-card routing (issue 11).

Golden cases (hand-computed documents) and properties over generated worlds
(``strategies.worlds``) decorated with billable flags, attendees and cards.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from acumatica_client import UNSET, Bill, BillDetail, JournalTransaction, to_wire
from expense_bridge import BridgeConfig
from expense_bridge._catalog import AccountInfo, LedgerCatalog
from expense_bridge._errors import ErrorCode, MappingError
from expense_bridge._keys import (
    DESCRIPTION_MAX_LENGTH,
    DocumentKind,
    DocumentPart,
    key_from_description,
)
from expense_bridge._rules import (
    AcumaticaField,
    CardTarget,
    PostIn,
    PostingRules,
    ReimbursableTarget,
    TagMapping,
)
from expense_bridge.mapping import card_route_key, conversion_rates, plan_report
from expensify_client import Attendee, Category, Expense, Policy, Report, ReportState, TagValue

from .strategies import CARD_LIABILITY, CARD_VENDOR, World, worlds

D = Decimal
POSTING_DATE = date(2025, 1, 31)
POLICY = Policy(
    policy_id="POL1",
    categories=(Category(name="Meals", gl_code="63000"), Category(name="Travel", gl_code="61000")),
)
CATALOG = LedgerCatalog(
    accounts=[
        AccountInfo(code="61000", type="Expense"),
        AccountInfo(code="63000", type="Expense"),
        AccountInfo(code="21000", type="Liability"),
        AccountInfo(code="22000", type="Liability"),
        AccountInfo(code="22100", type="Liability"),
        AccountInfo(code="22200", type="Liability"),
        AccountInfo(code="22900", type="Liability", active=False),
    ],
    subaccounts={"000000"},
    vendor_by_email={"ann@firm.test": "EMP0001"},
    vendors={"EMP0001", "AMEX", "VISA", "CITI"},
    projects={"PRJ1"},
    project_tasks={("PRJ1", "T1")},
    branches={"MAIN"},
)
RULES = PostingRules(
    employee_liability_account="21000",
    card_liability_account="22000",
    card_vendor="AMEX",
    date_rule=PostingRules().date_rule,
    tag_map=(
        TagMapping(level=1, field=AcumaticaField.PROJECT, use_gl_code=False),
        TagMapping(level=2, field=AcumaticaField.PROJECT_TASK, use_gl_code=False),
    ),
)


def exp(tid: str, cents: int, **kw) -> Expense:
    values: dict = {"currency": "USD", "created": date(2024, 2, 20), "category": "Meals"}
    values.update(kw)
    return Expense(transaction_id=tid, report_id="R9", amount_cents=cents, **values)


def report(*expenses: Expense, **kw) -> Report:
    values: dict = {
        "report_id": "R9",
        "report_name": "Client dinner",
        "status": ReportState.APPROVED,
        "policy_id": "POL1",
        "currency": "USD",
        "total_cents": 0,
        "account_email": "ann@firm.test",
        "created": datetime(2024, 2, 26, tzinfo=UTC),
        "approved": datetime(2024, 3, 1, 12, tzinfo=UTC),
        "expenses": expenses,
    }
    values.update(kw)
    return Report(**values)


def plan(rep: Report, rules: PostingRules = RULES, catalog: LedgerCatalog = CATALOG):
    return plan_report(rep, policy=POLICY, catalog=catalog, rules=rules, posting_date=POSTING_DATE)


def problems(rep: Report, rules: PostingRules = RULES) -> list[tuple[ErrorCode, str, str | None]]:
    with pytest.raises(MappingError) as info:
        plan(rep, rules)
    return [(p.code, p.field, p.transaction_id) for p in info.value.problems]


# ----------------------------------------------------------------------- billable


class TestBillable:
    def test_bill_lines_carry_nonbillable_with_project_and_task(self):
        tags = (TagValue(level=1, name="PRJ1"), TagValue(level=2, name="T1"))
        rep = report(
            exp("1", 5000, merchant="Bistro", billable=True, tags=tags),
            exp("2", 1200, merchant="Coffee"),
        )
        (doc,) = plan(rep)
        first, second = doc.document.details
        assert first == BillDetail(
            account="63000",
            qty=D(1),
            unit_cost=D("50.00"),
            extended_cost=D("50.00"),
            transaction_description="Bistro",
            project="PRJ1",
            project_task="T1",
            non_billable=False,  # Acumatica can rebill it to PRJ1/T1
        )
        assert second.non_billable is True
        for version in ("23.200.001", "24.200.001"):  # the field is in both schemas
            wire = to_wire(doc.document, version=version)
            assert [d["NonBillable"] for d in wire["Details"]] == [
                {"value": False},
                {"value": True},
            ]

    def test_journal_expense_lines_carry_the_flag_and_the_credit_line_none(self):
        rules = attrs.evolve(RULES, reimbursable_target=ReimbursableTarget.JOURNAL)
        rep = report(exp("1", 5000, billable=True), exp("2", 700))
        (doc,) = plan(rep, rules)
        flags = [d.non_billable for d in doc.document.details]
        assert flags == [False, True, UNSET]


# ------------------------------------------------------------ descriptions


class TestDescriptions:
    def test_attendees_follow_merchant_and_comment(self):
        attendees = (
            Attendee(email="bob@client.test", display_name="Bob Client"),
            Attendee(email="cy@client.test"),
            Attendee(display_name="Bob Client"),  # the same name once
        )
        rep = report(exp("1", 9000, merchant="Bistro", comment="Q3 review", attendees=attendees))
        (doc,) = plan(rep)
        assert doc.document.details[0].transaction_description == (
            "Bistro - Q3 review; attendees: Bob Client, cy@client.test"
        )

    def test_attendees_alone(self):
        rep = report(exp("1", 9000, attendees=(Attendee(email="a@b.test"),)))
        (doc,) = plan(rep)
        assert doc.document.details[0].transaction_description == "attendees: a@b.test"

    def test_rate_note_of_a_foreign_expense_is_never_cut(self):
        many = tuple(Attendee(display_name=f"Guest number {n}") for n in range(40))
        rep = report(
            exp(
                "1",
                4000,
                currency="EUR",
                converted_amount_cents=4340,
                currency_conversion_rate=D("1.0850"),
                merchant="Brasserie",
                comment="x " * 50,
                attendees=many,
            )
        )
        (doc,) = plan(rep)
        text = doc.document.details[0].transaction_description
        assert len(text) <= DESCRIPTION_MAX_LENGTH
        assert text.endswith(" [EUR 40.00 @ 1.085]")
        assert text.startswith("Brasserie - x x")
        assert doc.document.details[0].extended_cost == D("43.40")

    def test_journal_key_prefix_survives_any_line_text(self):
        rules = attrs.evolve(RULES, reimbursable_target=ReimbursableTarget.JOURNAL)
        rep = report(exp("1", 100, comment="EXB-R1: not a key " * 30), report_name="N" * 400)
        (doc,) = plan(rep, rules)
        assert key_from_description(doc.document.description) == "EXB-R9"
        assert {d.reference_nbr for d in doc.document.details} == {"EXB-R9"}


# ------------------------------------------------------------------ card routing


def card(tid: str, cents: int, **kw) -> Expense:
    return exp(tid, cents, reimbursable=False, **kw)


class TestCardRouting:
    def test_route_key_precedence_card_id_then_number_then_bank(self):
        rules = attrs.evolve(
            RULES, card_accounts={"42": "VISA", "1234XXXXXXXX1979": "CITI", "Amex Feed": "AMEX"}
        )
        e = card("1", 1, card_id="42", card_number="1234XXXXXXXX1979", bank="Amex Feed")
        assert card_route_key(e, rules) == "42"
        assert card_route_key(attrs.evolve(e, card_id="7"), rules) == "1234XXXXXXXX1979"
        assert card_route_key(attrs.evolve(e, card_id=None, card_number=None), rules) == (
            "Amex Feed"
        )
        assert card_route_key(card("2", 1, bank="Other"), rules) is None

    def test_bill_goes_to_the_cards_own_vendor(self):
        rules = attrs.evolve(
            RULES, card_target=CardTarget.AP_BILL, card_accounts={"1234XXXXXXXX1979": "VISA"}
        )
        rep = report(
            card("1", 2500, card_number="1234XXXXXXXX1979"),
            card("2", 500, card_number="1234XXXXXXXX1979"),
        )
        (doc,) = plan(rep, rules)
        assert (doc.part, doc.kind, doc.key) == (DocumentPart.CARD, DocumentKind.BILL, "EXB-R9-C")
        assert isinstance(doc.document, Bill)
        assert doc.document.vendor == "VISA"

    def test_unmapped_card_uses_the_default_vendor(self):
        rules = attrs.evolve(RULES, card_target=CardTarget.AP_BILL, card_accounts={"42": "VISA"})
        (doc,) = plan(report(card("1", 2500, card_id="7")), rules)
        assert doc.document.vendor == "AMEX"

    def test_all_cards_mapped_needs_no_default(self):
        rules = attrs.evolve(
            RULES,
            card_target=CardTarget.AP_BILL,
            card_vendor=None,
            card_accounts={"42": "VISA"},
        )
        (doc,) = plan(report(card("1", 2500, card_id="42")), rules)
        assert doc.document.vendor == "VISA"
        journal = attrs.evolve(
            rules, card_target=CardTarget.JOURNAL, card_liability_account=None,
            card_accounts={"42": "22100"},
        )  # fmt: skip
        (doc,) = plan(report(card("1", 2500, card_id="42")), journal)
        assert [(d.account, d.credit_amount) for d in doc.document.details] == [
            ("63000", D("0.00")),
            ("22100", D("25.00")),
        ]

    def test_one_bill_cannot_have_two_vendors(self):
        rules = attrs.evolve(RULES, card_target=CardTarget.AP_BILL, card_accounts={"42": "VISA"})
        rep = report(card("1", 2500, card_id="42"), card("2", 100, card_id="7"))
        assert problems(rep, rules) == [
            (ErrorCode.CARD_TARGET_INCOMPLETE, "rules.card_accounts", None)
        ]

    def test_unknown_vendor_or_inactive_account_names_the_card(self):
        rules = attrs.evolve(RULES, card_target=CardTarget.AP_BILL, card_accounts={"42": "NOPE"})
        rep = report(card("1", 2500, card_id="42"), card("2", 100, card_id="42"))
        assert problems(rep, rules) == [
            (ErrorCode.CARD_TARGET_INCOMPLETE, "rules.card_accounts.42", "1")
        ]
        journal = attrs.evolve(rules, card_target=CardTarget.JOURNAL, card_accounts={"42": "22900"})
        assert problems(rep, journal) == [
            (ErrorCode.GL_ACCOUNT_INACTIVE, "rules.card_accounts.42", "1")
        ]

    def test_journal_credits_each_cards_liability_account(self):
        rules = attrs.evolve(RULES, card_accounts={"42": "22100", "Citi Feed": "22200"})
        rep = report(
            card("1", 2500, card_id="42"),
            card("2", 1000, bank="Citi Feed", billable=True),
            card("3", 300, card_id="9"),  # unmapped: the default card liability
            card("4", 200, card_id="42"),
            exp("5", 800),  # reimbursable: its own bill
        )
        card_doc = next(d for d in plan(rep, rules) if d.part is DocumentPart.CARD)
        assert isinstance(card_doc.document, JournalTransaction)
        credits = [(d.account, d.credit_amount) for d in card_doc.document.details[4:]]
        assert credits == [("22100", D("27.00")), ("22200", D("10.00")), ("22000", D("3.00"))]
        assert card_doc.total == D("40.00")

    def test_config_reads_card_accounts(self, tmp_path):
        path = tmp_path / "bridge.toml"
        path.write_text(
            'policies = ["P1"]\n[acumatica]\nbase_url = "https://erp.example.com/AcumaticaERP/"\n'
            'endpoint_version = "24.200.001"\nusername = "bridge"\nclient_id = "ABC@Company"\n'
            '[expensify]\npartner_user_id = "aa_partner"\n'
            '[rules]\ncard_liability_account = "22000"\n'
            'card_accounts = { "42" = "22100", "Amex Feed" = "22200" }\n',
            encoding="utf-8",
        )
        config = BridgeConfig.from_toml(path, env={})
        assert dict(config.rules.card_accounts) == {"42": "22100", "Amex Feed": "22200"}
        assert "card_accounts" in config.to_toml(comments=True)
        assert BridgeConfig.from_toml(path, env={}).rules == config.rules


# ---------------------------------------------------------------- properties


@st.composite
def decorated_worlds(draw: st.DrawFn, **kw) -> World:
    """A world whose expenses are billable or not, have attendees and cards."""
    world = draw(worlds(**kw))
    cards = ["C1", "C2", "C3"]
    expenses = []
    for e in world.report.expenses:
        n = draw(st.integers(0, 30))
        expenses.append(
            attrs.evolve(
                e,
                billable=draw(st.booleans()),
                attendees=tuple(Attendee(display_name=f"Guest {k} " * 3) for k in range(n)),
                card_id=draw(st.sampled_from([None, *cards])),
                currency_conversion_rate=draw(st.sampled_from([None, D("1.25"), D("0.0071")])),
            )
        )
    routes = {"C1": CARD_LIABILITY, "C2": "21000"}  # C3 and cardless: the default
    rules = attrs.evolve(world.rules, card_accounts=routes)
    if rules.card_target is CardTarget.AP_BILL:
        rules = attrs.evolve(rules, card_accounts={"C1": CARD_VENDOR})
    return attrs.evolve(
        world, report=attrs.evolve(world.report, expenses=tuple(expenses)), rules=rules
    )


class TestProperties:
    @given(decorated_worlds())
    def test_flags_descriptions_and_balance(self, world: World):
        docs = plan_report(world.report, **world.kwargs())
        by_part = {
            DocumentPart.REIMBURSABLE: [e for e in world.report.expenses if e.reimbursable],
            DocumentPart.CARD: [e for e in world.report.expenses if not e.reimbursable],
        }
        for doc in docs:
            expenses = by_part[doc.part]
            details = doc.document.details
            lines = details if isinstance(doc.document, Bill) else details[: len(expenses)]
            assert [d.non_billable for d in lines] == [not e.billable for e in expenses]
            for d, e in zip(lines, expenses, strict=True):
                text = d.transaction_description
                assert len(text) <= DESCRIPTION_MAX_LENGTH
                if e.currency != world.report.currency:
                    assert text.endswith("]")
                    assert f"[{e.currency} " in text
                if e.attendees and len(text) < 200:
                    assert "attendees: " in text
            if isinstance(doc.document, JournalTransaction):
                debit = sum(d.debit_amount for d in details)
                credit = sum(d.credit_amount for d in details)
                assert debit == credit
                credits = {d.account for d in details[len(expenses) :]}
                routed = {world.rules.card_accounts.get(e.card_id or "") for e in expenses} - {None}
                if doc.part is DocumentPart.CARD:
                    assert routed <= credits
                assert key_from_description(doc.document.description) == doc.key
            else:
                assert doc.document.vendor_ref == doc.key
                if doc.part is DocumentPart.CARD:
                    vendors = {
                        world.rules.card_accounts.get(e.card_id or "", CARD_VENDOR)
                        for e in expenses
                    }
                    assert vendors == {doc.document.vendor}


# ------------------------------------------------------------------ report fields

FIELDS = {"Branch": "BranchID", "Client Project": "Project", "Purpose": "Description"}


class TestReportFields:
    def test_report_fields_fill_the_bill_header_and_the_lines_branch(self):
        catalog = attrs.evolve(CATALOG, branches=frozenset({"MAIN", "EAST"}))
        rules = attrs.evolve(RULES, report_fields=FIELDS, default_branch="MAIN")
        rep = report(
            exp("1", 5000),
            custom_fields={"Branch": "EAST", "Client_Project": "PRJ1", "Purpose": "Kick-off\n"},
        )
        (doc,) = plan(rep, rules, catalog)
        bill = doc.document
        assert (bill.branch_id, bill.project, bill.description) == ("EAST", "PRJ1", "Kick-off")
        assert bill.vendor_ref == "EXB-R9"  # the key is untouched
        assert [d.branch for d in bill.details] == ["EAST"]

    def test_journal_takes_branch_and_description_but_keeps_the_key(self):
        catalog = attrs.evolve(CATALOG, branches=frozenset({"MAIN", "EAST"}))
        rules = attrs.evolve(
            RULES, report_fields=FIELDS, reimbursable_target=ReimbursableTarget.JOURNAL
        )
        rep = report(exp("1", 5000), custom_fields={"Branch": "EAST", "Client_Project": "PRJ1",
                                                    "Purpose": "P" * 400})  # fmt: skip
        (doc,) = plan(rep, rules, catalog)
        journal = doc.document
        assert journal.branch_id == "EAST"
        assert journal.description.startswith("EXB-R9: PPP")
        assert len(journal.description) == DESCRIPTION_MAX_LENGTH
        assert key_from_description(journal.description) == "EXB-R9"
        assert {d.branch_id for d in journal.details} == {"EAST"}

    def test_missing_values_keep_the_defaults(self):
        rules = attrs.evolve(RULES, report_fields=FIELDS, default_branch="MAIN")
        (doc,) = plan(report(exp("1", 5000)), rules)
        assert (doc.document.branch_id, doc.document.project) == ("MAIN", UNSET)
        assert doc.document.description == "Client dinner"

    def test_unknown_values_are_held_naming_the_report_field(self):
        rules = attrs.evolve(RULES, report_fields=FIELDS)
        rep = report(exp("1", 5000), custom_fields={"Branch": "WEST", "Client_Project": "NOPE"})
        with pytest.raises(MappingError) as info:
            plan(rep, rules)
        assert info.value.report_id == "R9"
        assert [(p.code, p.field) for p in info.value.problems] == [
            (ErrorCode.REPORT_FIELD_UNKNOWN, "report_fields.Branch"),
            (ErrorCode.REPORT_FIELD_UNKNOWN, "report_fields.Client_Project"),
        ]
        assert "'WEST'" in info.value.problems[0].message

    def test_configuration_accepts_header_fields_only(self):
        base: dict = {
            "policies": ["P"],
            "acumatica": {"base_url": "https://x.test", "endpoint_version": "24.200.001",
                          "username": "u", "client_id": "a@b"},
            "expensify": {"partner_user_id": "p"},
        }  # fmt: skip
        cfg = BridgeConfig.from_mapping({**base, "rules": {"report_fields": FIELDS}})
        assert dict(cfg.rules.report_fields) == FIELDS
        assert BridgeConfig.from_mapping(cfg.to_mapping()) == cfg
        from expense_bridge import ConfigError

        with pytest.raises(ConfigError) as caught:
            BridgeConfig.from_mapping({**base, "rules": {"report_fields": {"X": "Vendor"}}})
        assert [p.field for p in caught.value.problems] == ["rules.report_fields"]

    def test_fingerprint_sees_report_fields_only_when_exported(self):
        from expense_bridge.mapping import content_fingerprint

        plain = report(exp("1", 5000))
        assert content_fingerprint(plain) == content_fingerprint(
            attrs.evolve(plain, custom_fields={})
        )
        assert content_fingerprint(plain) != content_fingerprint(
            attrs.evolve(plain, custom_fields={"Branch": "EAST"})
        )

    @given(
        branch=st.sampled_from(["MAIN", "EAST", "WEST", ""]),
        purpose=st.text(max_size=300),
        target=st.sampled_from([ReimbursableTarget.AP_BILL, ReimbursableTarget.JOURNAL]),
    )
    def test_header_values_are_checked_or_applied(self, branch, purpose, target):
        catalog = attrs.evolve(CATALOG, branches=frozenset({"MAIN", "EAST"}))
        rules = attrs.evolve(RULES, report_fields=FIELDS, reimbursable_target=target)
        rep = report(exp("1", 5000), custom_fields={"Branch": branch, "Purpose": purpose})
        if branch == "WEST":
            with pytest.raises(MappingError):
                plan(rep, rules, catalog)
            return
        (doc,) = plan(rep, rules, catalog)
        assert len(doc.document.description) <= DESCRIPTION_MAX_LENGTH
        assert doc.document.branch_id == (branch or UNSET)
        if target is ReimbursableTarget.JOURNAL:
            assert key_from_description(doc.document.description) == "EXB-R9"
        else:
            assert doc.document.vendor_ref == "EXB-R9"


# ------------------------------------------------------------------- currencies


class TestCurrencies:
    def eur(self) -> Report:
        return report(
            exp("1", 4000, currency="USD", converted_amount_cents=3690,
                currency_conversion_rate=D("0.9225")),
            exp("2", 1000, currency="EUR"),
            currency="EUR",
        )  # fmt: skip

    def test_report_currency_is_the_default_and_explicit(self):
        assert PostingRules().post_in is PostIn.REPORT
        (doc,) = plan(self.eur())
        assert (doc.currency, doc.document.currency_id, doc.total) == ("EUR", "EUR", D("46.90"))
        assert doc.document.details[0].transaction_description == "[USD 40.00 @ 0.9225]"

    def test_base_posts_a_base_currency_report_and_holds_the_others(self):
        rules = attrs.evolve(RULES, post_in=PostIn.BASE, base_currency="USD")
        (doc,) = plan(report(exp("1", 4000)), rules)
        assert doc.document.currency_id == "USD"
        assert problems(self.eur(), rules) == [(ErrorCode.CURRENCY_NOT_BASE, "currency", None)]
        euro = attrs.evolve(rules, base_currency="EUR")
        assert plan(self.eur(), euro)[0].document.currency_id == "EUR"

    def test_tenant_list_checks_report_and_base_currency(self):
        catalog = attrs.evolve(CATALOG, currencies=frozenset({"USD"}))
        with pytest.raises(MappingError) as info:
            plan(self.eur(), RULES, catalog)
        assert [(p.code, p.field) for p in info.value.problems] == [
            (ErrorCode.CURRENCY_UNSUPPORTED, "currency")
        ]
        rules = attrs.evolve(RULES, base_currency="CHF")
        with pytest.raises(MappingError) as info:
            plan(report(exp("1", 100)), rules, catalog)
        assert [(p.code, p.field) for p in info.value.problems] == [
            (ErrorCode.CURRENCY_UNSUPPORTED, "rules.base_currency")
        ]

    def test_rates_for_the_audit(self):
        assert conversion_rates(self.eur()) == "1 USD->EUR 0.9225"
        assert conversion_rates(report(exp("1", 100))) is None
        no_rate = report(exp("1", 100, currency="GBP", converted_amount_cents=90), currency="EUR")
        assert conversion_rates(no_rate) == "1 GBP->EUR ?"

    @given(
        currency=st.sampled_from(["USD", "EUR", "JPY"]),
        base=st.sampled_from(["USD", "EUR"]),
        post_in=st.sampled_from(list(PostIn)),
        listed=st.sampled_from([None, frozenset({"USD", "EUR"}), frozenset({"USD", "EUR", "JPY"})]),
    )
    def test_document_currency_is_the_report_currency_when_posted(
        self, currency, base, post_in, listed
    ):
        rules = attrs.evolve(RULES, post_in=post_in, base_currency=base)
        catalog = attrs.evolve(CATALOG, currencies=listed)
        rep = report(exp("1", 4000, currency=currency), currency=currency)
        allowed = (post_in is PostIn.REPORT or currency == base) and (
            listed is None or currency in listed
        )
        try:
            (doc,) = plan(rep, rules, catalog)
        except MappingError as exc:
            assert not allowed, exc.problems  # noqa: PT017
            codes = {p.code for p in exc.problems}
            assert codes <= {ErrorCode.CURRENCY_NOT_BASE, ErrorCode.CURRENCY_UNSUPPORTED}
            return
        assert allowed
        assert doc.document.currency_id == currency == doc.currency
