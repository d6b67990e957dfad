"""BridgeConfig: TOML, environment overrides, validation naming fields, the init template."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from expense_bridge._config import (
    _OPTIONS,
    BridgeConfig,
    _attribute_path,
    _structure,
    format_duration,
    parse_duration,
    render_template,
)
from expense_bridge._errors import ConfigError
from expense_bridge._rules import AcumaticaField, CardTarget, PostingRules, Trigger

MINIMAL = """
policies = ["P1"]
[acumatica]
base_url = "https://erp.example.com/AcumaticaERP/"
endpoint_version = "24.200.001"
username = "bridge"
client_id = "ABC@Company"
[expensify]
partner_user_id = "aa_partner"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def fields(error: ConfigError) -> set[str]:
    return {p.field for p in error.problems}


class TestLoad:
    """A TOML file becomes a typed, frozen BridgeConfig."""

    def test_minimal_file_gets_documented_defaults(self, tmp_path):
        config = BridgeConfig.from_toml(write(tmp_path, MINIMAL), env={})
        assert config.acumatica.base_url == "https://erp.example.com/AcumaticaERP"
        assert str(config.acumatica.endpoint) == "Default/24.200.001"
        assert config.policies == ("P1",)
        assert config.overlap == timedelta(days=2)
        assert config.initial_lookback == timedelta(days=30)
        assert config.cash_lookback == timedelta(days=365)
        assert config.export_label == "Acumatica"
        assert config.page_size == 50
        assert config.rules == PostingRules()
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            config.connection = "x"  # type: ignore[misc]

    def test_full_rules_and_relative_paths(self, tmp_path):
        text = (
            'state_path = "state/db.sqlite3"\noverlap = "1d12h"\n'
            + MINIMAL
            + """
[rules]
trigger = "reimbursed"
card_target = "ap_bill"
card_vendor = "AMEX"
timezone = "Europe/London"
[[rules.tag_map]]
level = 1
field = "project"
values = { "Acme" = "ACME01" }
[[rules.tag_map]]
level = 2
field = "branch"
use_gl_code = false
required = true
[provisioning.policy_rule]
by = "branch"
table = { HQ = "P1" }
"""
        )
        config = BridgeConfig.from_toml(write(tmp_path, text), env={})
        assert config.state_path == tmp_path.resolve() / "state" / "db.sqlite3"
        assert config.overlap == timedelta(days=1, hours=12)
        assert config.rules.trigger is Trigger.REIMBURSED
        assert config.rules.card_target is CardTarget.AP_BILL
        assert [m.field for m in config.rules.tag_map] == [
            AcumaticaField.PROJECT,
            AcumaticaField.BRANCH,
        ]
        assert config.rules.tag_map[0].values == {"Acme": "ACME01"}
        assert config.rules.tag_map[1].required is True
        assert config.provisioning.policy_rule.table == {"HQ": "P1"}

    def test_licence_and_endpoint(self, tmp_path):
        text = MINIMAL.replace(
            'username = "bridge"',
            'username = "bridge"\nrequests_per_minute = 90\nmax_concurrent = 3',
        )
        config = BridgeConfig.from_toml(write(tmp_path, text), env={})
        assert config.acumatica.licence.requests_per_minute == 90
        assert config.acumatica.licence.max_concurrent == 3

    def test_to_toml_round_trips(self, tmp_path):
        text = (
            MINIMAL
            + '[rules]\ncard_target = "skip"\n[[rules.tag_map]]\nlevel = 1\nfield = "project"\n'
        )
        config = BridgeConfig.from_toml(write(tmp_path, text), env={})
        for comments in (True, False):
            again = BridgeConfig.from_mapping(tomllib.loads(config.to_toml(comments=comments)))
            assert again == config

    def test_missing_file_and_bad_toml(self, tmp_path):
        with pytest.raises(ConfigError, match="does not exist"):
            BridgeConfig.from_toml(tmp_path / "nope.toml", env={})
        with pytest.raises(ConfigError, match="not valid TOML"):
            BridgeConfig.from_toml(write(tmp_path, "policies = ["), env={})


class TestEnvironment:
    """EXPENSE_BRIDGE_<SECTION>__<FIELD> overrides the file."""

    def test_overrides_each_kind(self, tmp_path):
        env = {
            "EXPENSE_BRIDGE_ACUMATICA__ENDPOINT_VERSION": "23.200.001",
            "EXPENSE_BRIDGE_ACUMATICA__REQUESTS_PER_MINUTE": "60",
            "EXPENSE_BRIDGE_RULES__RELEASE": "yes",
            "EXPENSE_BRIDGE_POLICIES": "P1, P2",
            "EXPENSE_BRIDGE_CONNECTION": "prod",
            "EXPENSE_BRIDGE_OVERLAP": "3d",
            "expense_bridge_provisioning__policy_rule__table": "SALES=P2,OPS=P1",
            "EXPENSE_BRIDGE_KEY": "reserved: the vault key, not an option",
            "EXPENSE_BRIDGE_CONFIG": "/elsewhere.toml",
            "UNRELATED": "x",
        }
        config = BridgeConfig.from_toml(write(tmp_path, MINIMAL), env=env)
        assert config.acumatica.endpoint_version == "23.200.001"
        assert config.acumatica.requests_per_minute == 60
        assert config.rules.release is True
        assert config.policies == ("P1", "P2")
        assert config.connection == "prod"
        assert config.overlap == timedelta(days=3)
        assert config.provisioning.policy_rule.table == {"SALES": "P2", "OPS": "P1"}

    def test_env_can_supply_a_missing_required_value(self, tmp_path):
        text = MINIMAL.replace('endpoint_version = "24.200.001"\n', "")
        with pytest.raises(ConfigError):
            BridgeConfig.from_toml(write(tmp_path, text), env={})
        env = {"EXPENSE_BRIDGE_ACUMATICA__ENDPOINT_VERSION": "24.200.001"}
        assert BridgeConfig.from_toml(write(tmp_path, text), env=env).acumatica.endpoint_version

    def test_unknown_or_malformed_variables_are_errors(self, tmp_path):
        env = {
            "EXPENSE_BRIDGE_ACUMATICA__ENDPONT_VERSION": "24.200.001",
            "EXPENSE_BRIDGE_PAGE_SIZE": "many",
            "EXPENSE_BRIDGE_RULES__HOLD": "perhaps",
            "EXPENSE_BRIDGE_RULES__TAG_MAP": "1=project",
        }
        with pytest.raises(ConfigError) as info:
            BridgeConfig.from_toml(write(tmp_path, MINIMAL), env=env)
        assert fields(info.value) == {
            "EXPENSE_BRIDGE_ACUMATICA__ENDPONT_VERSION",
            "page_size",
            "rules.hold",
            "rules.tag_map",
        }


BAD_VALUES = [
    ("acumatica", "base_url", "ftp://x", "acumatica.base_url"),
    ("acumatica", "endpoint_version", "latest", "acumatica.endpoint_version"),
    ("acumatica", "endpoint_version", "", "acumatica.endpoint_version"),
    ("acumatica", "endpoint_name", "De fault", "acumatica.endpoint_name"),
    ("acumatica", "auth", "basic", "acumatica.auth"),
    ("acumatica", "client_id", "no-tenant", "acumatica.client_id"),
    ("acumatica", "username", "", "acumatica.username"),
    ("acumatica", "requests_per_minute", 0, "acumatica.requests_per_minute"),
    ("acumatica", "max_concurrent", "4", "acumatica.max_concurrent"),
    ("acumatica", "rate_share", 1.5, "acumatica.rate_share"),
    ("acumatica", "rate_share", "half", "acumatica.rate_share"),
    ("acumatica", "timeout", "0s", "acumatica.timeout"),
    ("acumatica", "retries", -1, "acumatica.retries"),
    ("expensify", "partner_user_id", "", "expensify.partner_user_id"),
    ("state", "url", "mysql://u@h/db", "state.url"),
    ("state", "rate_limits_url", "memcached://h", "state.rate_limits_url"),
    ("expensify", "base_url", "integrations.expensify.com", "expensify.base_url"),
    ("expensify", "timeout", "soon", "expensify.timeout"),
    ("expensify", "retries", "3", "expensify.retries"),
    ("rules", "trigger", "PAID", "rules.trigger"),
    ("rules", "reimbursable_target", "cheque", "rules.reimbursable_target"),
    ("rules", "date_rule", "tomorrow", "rules.date_rule"),
    ("rules", "card_target", "wallet", "rules.card_target"),
    ("rules", "hold", "yes", "rules.hold"),
    ("rules", "base_currency", "dollars", "rules.base_currency"),
    ("rules", "timezone", "Mars/Olympus", "rules.timezone"),
    ("rules", "tag_map", {"level": 1}, "rules.tag_map"),
    ("provisioning", "tag_source", "people", "provisioning.tag_source"),
    ("provisioning", "admins", "a@b.c", "provisioning.admins"),
    (None, "page_size", 0, "page_size"),
    (None, "overlap", "2 days", "overlap"),
    (None, "cash_lookback", "0s", "cash_lookback"),
    (None, "policies", [], "policies"),
    (None, "policies", [""], "policies"),
    (None, "run_provisioning_first", 1, "run_provisioning_first"),
    (None, "export_label", 5, "export_label"),
    (None, "state_path", 3, "state_path"),
    ("notifications", "webhook_url", "ftp://hooks", "notifications.webhook_url"),
    ("notifications", "smtp_host", 25, "notifications.smtp_host"),
    ("notifications", "smtp_port", 0, "notifications.smtp_port"),
    ("notifications", "smtp_from", 5, "notifications.smtp_from"),
    ("notifications", "smtp_to", ["ops at firm"], "notifications.smtp_to"),
    ("notifications", "smtp_starttls", "yes", "notifications.smtp_starttls"),
    ("notifications", "smtp_username", 5, "notifications.smtp_username"),
    ("rules", "mark_reimbursed_when_paid", "yes", "rules.mark_reimbursed_when_paid"),
    ("rules", "tax_categories", {"VAT20": 20}, "rules.tax_categories"),
    ("rules", "card_accounts", {"42": 22100}, "rules.card_accounts"),
    ("rules", "report_fields", {"Branch": "Vendor"}, "rules.report_fields"),
    ("rules", "post_in", "euro", "rules.post_in"),
    ("rules", "create_missing_vendors", "yes", "rules.create_missing_vendors"),
    ("rules", "tax_account", 23000, "rules.tax_account"),
    ("rules", "tax_zone", 5, "rules.tax_zone"),
    ("rules", "prefer_policy_gl_code", "yes", "rules.prefer_policy_gl_code"),
    ("rules", "post_card_only_approved", 1, "rules.post_card_only_approved"),
    ("rules", "post_closed", "true", "rules.post_closed"),
    ("rules", "posting_concurrency", 0, "rules.posting_concurrency"),
    ("rules", "expense_items", {"Travel": 5}, "rules.expense_items"),
    ("rules", "claim_stage", "paid", "rules.claim_stage"),
    ("rules", "attach_receipts", "yes", "rules.attach_receipts"),
    ("rules", "receipts_on", "footer", "rules.receipts_on"),
    ("rules", "receipt_attempts", 0, "rules.receipt_attempts"),
    ("rules", "attach_report_pdf", "yes", "rules.attach_report_pdf"),
    ("rules", "closed_period", "previous_open", "rules.closed_period"),
]


class TestValidation:
    """Every validation error names its field; all problems are reported together."""

    @pytest.mark.parametrize(("section", "key", "value", "field"), BAD_VALUES)
    def test_bad_value_names_its_field(self, section, key, value, field):
        data = tomllib.loads(MINIMAL)
        (data.setdefault(section, {}) if section else data)[key] = value
        with pytest.raises(ConfigError) as info:
            BridgeConfig.from_mapping(data)
        assert fields(info.value) == {field}
        problem = info.value.problems[0]
        assert problem.message
        assert problem.fix

    def test_every_option_is_covered_by_a_validation_case(self):
        """No option escapes the table above (apart from free-text and optional ones)."""
        free_text = {
            "connection", "vault_path", "acumatica.tenant", "acumatica.branch",
            "rules.default_branch", "rules.default_subaccount", "rules.release",
            "rules.employee_liability_account", "rules.card_liability_account",
            "rules.card_vendor", "rules.ledger_id", "rules.bill_terms",
            "provisioning.default_policy", "provisioning.top_approver",
            "provisioning.terminate_leavers", "provisioning.expense_account_types",
            "provisioning.new_categories_enabled", "provisioning.tag_level",
            "provisioning.policy_rule.by", "provisioning.policy_rule.table",
            "initial_lookback",
        }  # fmt: skip
        covered = {f for *_, f in BAD_VALUES}
        assert {o.dotted for o in _OPTIONS} - covered - free_text == set()

    def test_cross_field_rules(self):
        data = tomllib.loads(MINIMAL)
        data["acumatica"].pop("client_id")
        data["rules"] = {
            "hold": True,
            "release": True,
            "reimbursable_target": "journal",
            "card_target": "ap_bill",
        }
        with pytest.raises(ConfigError) as info:
            BridgeConfig.from_mapping(data)
        assert fields(info.value) == {
            "acumatica.client_id",
            "rules.release",
            "rules.employee_liability_account",
            "rules.card_vendor",
        }

    def test_cookie_auth_needs_no_client_id(self):
        data = tomllib.loads(MINIMAL)
        data["acumatica"].pop("client_id")
        data["acumatica"]["auth"] = "cookie"
        assert BridgeConfig.from_mapping(data).acumatica.auth == "cookie"

    def test_unknown_keys_and_tag_map_details(self):
        data = tomllib.loads(MINIMAL)
        data["acumatica"]["pasword"] = "x"
        data["extra"] = {"a": 1}
        data["rules"] = {
            "tag_map": [
                {"level": 1, "field": "project", "colour": "red"},
                {"level": 1, "field": "branch"},
                {"level": 0, "field": "galaxy", "use_gl_code": "yes"},
            ]
        }
        with pytest.raises(ConfigError) as info:
            BridgeConfig.from_mapping(data)
        assert fields(info.value) == {
            "acumatica.pasword",
            "extra",
            "rules.tag_map[0].colour",
            "rules.tag_map[1].level",
            "rules.tag_map[2].level",
            "rules.tag_map[2].field",
            "rules.tag_map[2].use_gl_code",
        }

    def test_endpoint_version_is_never_guessed(self):
        data = tomllib.loads(MINIMAL)
        del data["acumatica"]["endpoint_version"]
        with pytest.raises(ConfigError) as info:
            BridgeConfig.from_mapping(data)
        assert fields(info.value) == {"acumatica.endpoint_version"}
        assert "never guessed" in info.value.problems[0].fix


class TestTemplate:
    """The init template explains every option and loads back."""

    def test_every_option_is_explained(self):
        text = render_template()
        assert "# [[rules.tag_map]]" in text
        for option in _OPTIONS:
            if option.kind != "tag_map":
                assert f"{option.path[-1]} =" in text, option.dotted
            first_words = " ".join(option.doc.split()[:3])
            assert first_words in " ".join(line.lstrip("# ") for line in text.splitlines()), (
                option.dotted
            )

    def test_empty_template_fails_naming_exactly_the_required_fields(self):
        with pytest.raises(ConfigError) as info:
            BridgeConfig.from_mapping(tomllib.loads(render_template()))
        assert fields(info.value) == {
            "policies",
            "acumatica.base_url",
            "acumatica.endpoint_version",
            "acumatica.username",
            "acumatica.client_id",
            "expensify.partner_user_id",
        }

    def test_filled_template_loads_back_to_the_defaults(self):
        values = tomllib.loads(MINIMAL)
        config = BridgeConfig.from_mapping(tomllib.loads(render_template(values)))
        assert config == BridgeConfig.from_mapping(values)
        assert config.rules == PostingRules()


@given(st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=5000)))
def test_duration_round_trip(value):
    value = timedelta(seconds=int(value.total_seconds()))
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize("text", ["", "2", "d", "2days", "-1d", "1h2d", "1.5h"])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


# --------------------------------------------------------------------------- the writer

RICH = (
    """
connection = "acme \\"eu\\" \\\\ ünïcode"
export_label = "Posted: Acumatica #1"
overlap = "1d12h"
state_path = "/var/lib/expense-bridge/state.sqlite3"
"""
    + MINIMAL
    + """
[rules]
card_target = "skip"
tax_categories = { "VAT 20%" = "V20", "GST" = "G", "a.b" = "dotted key" }
[[rules.tag_map]]
level = 1
field = "project"
values = { "Acme, Inc." = "ACME01", "Ünïcode \\"quoted\\"" = "Q" }
[[rules.tag_map]]
level = 2
field = "branch"
use_gl_code = false
required = true
[provisioning]
admins = ["a@firm.test", "b@firm.test"]
[provisioning.policy_rule]
by = "branch"
table = { "HQ" = "P1", "New York" = "P2" }
[notifications]
smtp_host = "smtp.firm.test"
smtp_to = ["ops@firm.test"]
"""
)

_plain_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1
).filter(lambda s: s == s.strip())


class TestWriter:
    """to_toml and the init template are written with tomlkit: valid TOML that reads back
    to the same configuration, every option explained in a comment."""

    @pytest.mark.parametrize("comments", [True, False])
    def test_written_file_reads_back_to_the_same_config(self, tmp_path, comments):
        config = BridgeConfig.from_toml(write(tmp_path, RICH), env={})
        assert config.rules.tag_map[0].values['Ünïcode "quoted"'] == "Q"
        out = tmp_path / "out" / "config.toml"
        out.parent.mkdir()
        out.write_text(config.to_toml(comments=comments), encoding="utf-8")
        assert BridgeConfig.from_toml(out, env={}) == config

    def test_commented_file_explains_every_option_and_keeps_its_comments(self):
        import tomlkit

        text = BridgeConfig.from_mapping(tomllib.loads(RICH)).to_toml()
        assert text.startswith("# expense-bridge configuration.\n")
        for option in _OPTIONS:
            first_words = " ".join(option.doc.split()[:3])
            assert first_words in " ".join(line.lstrip("# ") for line in text.splitlines()), (
                option.dotted
            )
        # tomlkit reads it back and writes it out unchanged, comments included
        assert tomlkit.parse(text).as_string() == text
        plain = BridgeConfig.from_mapping(tomllib.loads(RICH)).to_toml(comments=False)
        assert "#" not in plain.replace("#1", "")
        assert "[state]" not in plain  # no empty tables without comments

    def test_template_with_values_reads_back_and_marks_only_the_missing(self, tmp_path):
        values = {"acumatica": {"base_url": "https://erp.example.com"}, "policies": ["P1"]}
        text = render_template(values)
        assert 'base_url = "https://erp.example.com"' in text
        required = [line for line in text.splitlines() if line.endswith("# REQUIRED")]
        assert [line.split(" =")[0] for line in required] == [
            "endpoint_version", "username", "partner_user_id",
        ]  # fmt: skip
        with pytest.raises(ConfigError) as info:
            BridgeConfig.from_toml(write(tmp_path, text), env={})
        assert fields(info.value) == {
            "acumatica.endpoint_version", "acumatica.username", "acumatica.client_id",
            "expensify.partner_user_id",
        }  # fmt: skip

    @given(connection=_plain_text, label=_plain_text, key=_plain_text, value=_plain_text)
    def test_any_text_round_trips(self, connection, label, key, value):
        data = tomllib.loads(MINIMAL)
        data.update(connection=connection, export_label=label)
        data["provisioning"] = {"policy_rule": {"table": {key: value}}}
        config = BridgeConfig.from_mapping(data)
        for comments in (True, False):
            text = config.to_toml(comments=comments)
            assert BridgeConfig.from_mapping(tomllib.loads(text)) == config


# --------------------------------------------------------------------------- structuring


class TestStructuring:
    """Validated options become the settings objects through one cattrs converter, driven by
    the option table: a new option needs no hand-written construction code."""

    def test_every_option_is_an_attribute_of_the_settings(self):
        for option in _OPTIONS:
            cls = BridgeConfig
            for part in _attribute_path(option):
                attrs.resolve_types(cls)
                field = attrs.fields_dict(cls)[part]  # KeyError: an option without attribute
                cls = field.type
            assert field.name == _attribute_path(option)[-1]

    def test_the_mapping_round_trips_through_the_converter(self):
        config = BridgeConfig.from_mapping(tomllib.loads(RICH))
        mapping = config.to_mapping()
        assert mapping["state_path"] == "/var/lib/expense-bridge/state.sqlite3"
        assert mapping["overlap"] == "1d12h"
        assert mapping["rules"]["tag_map"][1] == {
            "level": 2, "field": "branch", "use_gl_code": False, "required": True, "values": {},
        }  # fmt: skip
        assert "url" not in mapping.get("state", {})  # None values are left out
        assert BridgeConfig.from_mapping(mapping) == config

    def test_an_option_without_an_attribute_is_refused_not_dropped(self, monkeypatch):
        from expense_bridge import _config

        values = _validated(tomllib.loads(MINIMAL))
        stray = _config._Opt(("rules", "no_such_rule"), "bool", "Not a rule.", default=False)
        monkeypatch.setattr(_config, "_OPTIONS", (*_OPTIONS, stray))
        values[stray.path] = True
        with pytest.raises(ConfigError) as info:
            _structure(values)
        assert fields(info.value) == {"rules"}
        assert "no_such_rule" in info.value.problems[0].message

    def test_a_value_the_settings_refuse_names_the_option(self):
        values = _validated(tomllib.loads(MINIMAL))
        values["notifications", "smtp_to"] = ("not an address",)
        with pytest.raises(ConfigError) as info:
            _structure(values)
        problem = info.value.problems[0]
        assert problem.field == "notifications"
        assert "not an address" in problem.message


def _validated(data):
    from expense_bridge._config import _Reader

    reader = _Reader(data, None)
    values = {option.path: reader.value(option) for option in _OPTIONS}
    assert reader.problems == []
    return values
