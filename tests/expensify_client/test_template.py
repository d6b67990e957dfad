"""EXPORT_TEMPLATE: real FreeMarker round trips, and the emulator's rendition byte for byte.

The Java tests run Debian's freemarker.jar (2.3.31) through ``freemarker/RenderTemplate.java``
with FreeMarker's DEFAULT number format, so a bare ``${number}`` would print "1,234,567".
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from expensify_client import (
    EXPORT_TEMPLATE,
    ExportParseError,
    Report,
    export_template,
    parse_report_export,
    report_field_key,
)
from expensify_client.emulator._render import (
    UnsupportedTemplateError,
    c_number,
    json_string,
    render_export,
)

from .freemarker import FreeMarker, RenderFailure, compile_freemarker
from .freemarker.models import HOSTILE, export_cases, messy_reports

SAFE_INTERPOLATION = r'(js|jv)\((r|x|sub|receipt|cf), "\w+"\)|attendees\(x\)'
WRAPPERS = ("default", "beans")
TEMPLATE_FILE = Path(__file__).resolve().parents[2] / "src/expensify_client/templates"


@pytest.fixture(scope="module")
def freemarker(tmp_path_factory: pytest.TempPathFactory) -> FreeMarker:
    return compile_freemarker(tmp_path_factory.mktemp("freemarker"))


def rendition(template: str, reports: list[Any]) -> str | RenderFailure:
    try:
        return render_export(template, reports)
    except TypeError as exc:
        return RenderFailure(f"TypeError: {exc}")


def same_outcome(java: str | RenderFailure, python: str | RenderFailure) -> bool:
    if isinstance(java, RenderFailure) or isinstance(python, RenderFailure):
        return isinstance(java, RenderFailure) and isinstance(python, RenderFailure)
    return java == python


class TestTemplateSource:
    """The template is package data and follows the JSON-safety rules on its own."""

    def test_exported_constant_is_the_packaged_resource(self):
        packaged = resources.files("expensify_client").joinpath("templates/export_json.ftl")
        assert packaged.read_text(encoding="utf-8") == EXPORT_TEMPLATE
        assert (TEMPLATE_FILE / "export_json.ftl").read_text(encoding="utf-8") == EXPORT_TEMPLATE

    def test_every_interpolation_goes_through_a_json_safe_function(self):
        template = export_template(["Project Code", "Branch"])
        interpolations = re.findall(r"\$\{([^}]*)\}", template)
        assert interpolations
        assert 'js(cf, "Branch")' in interpolations
        for expression in interpolations:
            assert re.fullmatch(SAFE_INTERPOLATION, expression), expression

    def test_no_hash_is_ever_enumerated(self):
        """Issue 9: no ?keys/?values and no key-value <#list> over a hash we do not control."""
        code = re.sub(r"<#--.*?-->", "", EXPORT_TEMPLATE, flags=re.DOTALL)
        assert "?keys" not in code
        assert "?values" not in code
        for listing in re.findall(r"<#list\s+([^>]*)>", code):
            # attendees(): ``v`` is the expense's attendee list, listed only when it is a
            # sequence or collection (never a hash)
            assert re.fullmatch(r"(reports|r\.transactionList)!\[\] as \w+|v as a", listing), (
                listing
            )
        assert "<#if !(v?is_sequence || v?is_collection)>" in code

    def test_plain_text_output_and_no_locale_formatting(self):
        assert EXPORT_TEMPLATE.startswith('<#ftl output_format="plainText"')
        assert "?string(" not in EXPORT_TEMPLATE  # no locale-dependent number/boolean formats
        assert "?c" in EXPORT_TEMPLATE
        assert "?json_string" in EXPORT_TEMPLATE


class TestForeignTemplates:
    """The emulator renders only our template and never falls back."""

    @pytest.mark.parametrize(
        "template",
        [
            "",
            "default",
            '[<#list reports as r>{"id":"${r.reportID}"}<#sep>,</#sep></#list>]',
            EXPORT_TEMPLATE.replace('"total":', '"Total":'),
            EXPORT_TEMPLATE + " ",
            EXPORT_TEMPLATE.rstrip("\n"),
        ],
        ids=["empty", "keyword", "sample", "one-key-renamed", "trailing-space", "no-final-newline"],
    )
    def test_foreign_template_is_refused(self, template: str):
        with pytest.raises(UnsupportedTemplateError, match="EXPORT_TEMPLATE"):
            render_export(template, [])

    def test_unsupported_template_error_is_a_value_error(self):
        assert issubclass(UnsupportedTemplateError, ValueError)

    def test_line_endings_are_normalised(self):
        crlf = EXPORT_TEMPLATE.replace("\n", "\r\n")
        assert render_export(crlf, []) == '{"reports":[]}\r\n'
        assert render_export(EXPORT_TEMPLATE, []) == '{"reports":[]}\n'


class TestRenditionUnits:
    """The two FreeMarker built-ins the rendition re-implements, on known values."""

    @pytest.mark.parametrize(
        ("text", "escaped"),
        [
            ("plain", "plain"),
            ('say "hi"', 'say \\"hi\\"'),
            ("back\\slash", "back\\\\slash"),
            ("a\nb\tc\r\f\b", "a\\nb\\tc\\r\\f\\b"),
            ("\x00\x1f\x7f\x9f", "\\u0000\\u001F\\u007F\\u009F"),
            ("</script>", "<\\/script>"),
            ("/x", "\\/x"),
            ("a/b", "a/b"),
            ("<!-- x -->", "\\u003C!-- x --\\u003E"),
            ("]]>", "]]\\u003E"),
            ("a>b", "a>b"),
            (">", "\\u003E"),
            ("it's", "it's"),
            ("\u2028\u2029", "\\u2028\\u2029"),
            ("Zoë 😀", "Zoë 😀"),
        ],
    )
    def test_json_string(self, text: str, escaped: str):
        assert json_string(text) == escaped
        assert json.loads(f'"{escaped}"') == text

    @pytest.mark.parametrize(
        ("value", "text"),
        [
            (1234567, "1234567"),
            (-550, "-550"),
            (2**70, "1180591620717411303424"),
            (Decimal("1.2300"), "1.23"),
            (Decimal("1E+3"), "1000"),
            (Decimal("-0.00"), "0"),
            (Decimal("0.12345678901234567"), "0.1234567890123457"),
            (Decimal("0.00000000000000005"), "0"),
            (Decimal("-0.00000000000000001"), "-0"),
        ],
    )
    def test_c_number(self, value: int | Decimal, text: str):
        assert c_number(value) == text

    @pytest.mark.parametrize("bad", [True, 1.5, "1", Decimal("NaN")])
    def test_c_number_refuses_non_numbers(self, bad: Any):
        with pytest.raises(TypeError):
            c_number(bad)

    def test_float_in_data_model_is_refused(self):
        with pytest.raises(TypeError, match="float"):
            render_export(EXPORT_TEMPLATE, [{"reportID": "R1", "total": 12.5}])


def hostile_report(i: int, text: str) -> dict[str, Any]:
    return {
        "reportID": f"R{i}",
        "reportName": text,
        "status": "Approved",
        "policyID": "P1",
        "policyName": text,
        "currency": "USD",
        "total": 123_456_789_012,
        "accountEmail": "e@x.test",
        "created": "2025-01-31 23:59:59",
        "customField": {"Cost_Center": text, "Amount_Field": 42},  # not exported
        "submitter": {"fullName": text or None},
        "transactionList": [
            {
                "transactionID": f"T{i}",
                "amount": -1_234_567_899,
                "currency": "JPY",
                "created": "2025-01-02",
                "merchant": text,
                "comment": text,
                "currencyConversionRate": Decimal("0.0067"),
                "ntag1": text or None,
                "ntag1GlCode": 6100 if text else None,
                "receiptObject": {"url": text or None},
            }
        ],
    }


@pytest.mark.java
@pytest.mark.parametrize("wrapper", WRAPPERS)
class TestRealFreeMarker:
    """FreeMarker 2.3.31 renders the template to JSON that parses into the expected reports."""

    def test_harness_exposes_locale_number_formatting(self, freemarker: FreeMarker, wrapper: str):
        """Sanity: the harness keeps FreeMarker's default number format (grouping)."""
        assert freemarker.render("${n}|${n?c}", {"n": 1234567}, wrapper) == "1,234,567|1234567"

    def test_hostile_strings_and_big_negative_amounts(self, freemarker: FreeMarker, wrapper: str):
        reports = [hostile_report(i, text) for i, text in enumerate(HOSTILE)]
        output = freemarker.render(EXPORT_TEMPLATE, {"reports": reports}, wrapper)
        assert isinstance(output, str), output
        assert output == render_export(EXPORT_TEMPLATE, reports)
        assert "</" not in output  # ?json_string writes <\/
        parsed = parse_report_export(output.encode("utf-8"))
        assert [r.report_name for r in parsed] == list(HOSTILE)
        assert all(r.custom_fields == {} for r in parsed)
        assert all(r.problems == () for r in parsed)
        for report, text in zip(parsed, HOSTILE, strict=True):
            (expense,) = report.expenses
            assert expense.merchant == text
            assert expense.comment == text
            assert expense.amount_cents == -1_234_567_899
            assert expense.currency_conversion_rate == Decimal("0.0067")
            assert report.total_cents == 123_456_789_012
            assert report.submitter_full_name == (text or None)
            assert expense.receipt_url == (text or None)
            assert [(t.level, t.name, t.gl_code) for t in expense.tags] == (
                [(1, text, "6100")] if text else []
            )

    def test_missing_everything_still_renders(self, freemarker: FreeMarker, wrapper: str):
        models = [{}, {"reports": []}, {"reports": [{}]}, {"reports": [{"transactionList": [{}]}]}]
        outputs = freemarker.render_many(EXPORT_TEMPLATE, models, wrapper)
        assert outputs[0] == outputs[1] == '{"reports":[]}\n'
        for model, output in zip(models[2:], outputs[2:], strict=True):
            assert output == render_export(EXPORT_TEMPLATE, model["reports"])
            document = json.loads(output)
            assert document["reports"][0]["reportID"] is None
            with pytest.raises(ExportParseError, match=r"reports\[0\]\.reportID"):
                parse_report_export(output)

    def test_crlf_template_renders_like_the_rendition(self, freemarker: FreeMarker, wrapper: str):
        crlf = EXPORT_TEMPLATE.replace("\n", "\r\n")
        reports = [hostile_report(0, "x")]
        assert freemarker.render(crlf, {"reports": reports}, wrapper) == render_export(
            crlf, reports
        )

    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.lists(export_cases(max_reports=2, max_expenses=2), min_size=2, max_size=5))
    def test_round_trip_equals_independent_expectation(
        self, freemarker: FreeMarker, wrapper: str, exports: list[tuple[list[dict], list[Report]]]
    ):
        """Batch: one JVM renders every export; each parses to the reports it was built from."""
        outputs = freemarker.render_many(
            EXPORT_TEMPLATE, [{"reports": m} for m, _ in exports], wrapper
        )
        for (models, expected), output in zip(exports, outputs, strict=True):
            assert isinstance(output, str), output
            assert output == render_export(EXPORT_TEMPLATE, models)
            assert parse_report_export(output.encode("utf-8")) == expected

    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.lists(messy_reports(), min_size=5, max_size=10))
    def test_rendition_is_byte_for_byte_freemarker(
        self, freemarker: FreeMarker, wrapper: str, batch: list[list[Any]]
    ):
        """Any data model, sloppy types included: same bytes, or both refuse to render.

        Under BeansWrapper the only difference allowed is that Java renders a structurally
        broken model (a string where a hash belongs) that the rendition refuses.
        """
        outputs = freemarker.render_many(EXPORT_TEMPLATE, [{"reports": r} for r in batch], wrapper)
        for reports, java in zip(batch, outputs, strict=True):
            python = rendition(EXPORT_TEMPLATE, reports)
            if wrapper == "beans" and isinstance(python, RenderFailure):
                # BeansWrapper also exposes strings and numbers as hashes, so a report whose
                # ``submitter`` is a string still renders there; the rendition follows the
                # DefaultObjectWrapper and refuses it, as the default server would.
                continue
            assert same_outcome(java, python), (reports, java, python)
            if isinstance(java, str):
                json.loads(java)  # whatever the data, the output is valid JSON

    def test_many_reports_in_one_export(self, freemarker: FreeMarker, wrapper: str):
        reports = [hostile_report(i, HOSTILE[i % len(HOSTILE)]) for i in range(500)]
        output = freemarker.render(EXPORT_TEMPLATE, {"reports": reports}, wrapper)
        assert isinstance(output, str)
        assert output == render_export(EXPORT_TEMPLATE, reports)
        parsed = parse_report_export(output)
        assert [r.report_id for r in parsed] == [f"R{i}" for i in range(500)]
        assert sum(e.amount_cents for r in parsed for e in r.expenses) == -1_234_567_899 * 500


@pytest.mark.java
class TestObjectWrappers:
    """Why the template enumerates nothing: BeansWrapper exposes a Map's bean methods."""

    def test_keys_of_a_map_differ_between_wrappers(self, freemarker: FreeMarker):
        probe = "<#list h?keys as k>${k};</#list>"
        model = {"h": {"Cost_Center": "CC-9"}}
        default = freemarker.render(probe, model, "default")
        beans = freemarker.render(probe, model, "beans")
        assert default == "Cost_Center;"
        assert isinstance(beans, str), beans
        assert beans != default  # e.g. class, empty, getClass... or a refusal under 2.3.31
        assert "Cost_Center;" in beans

    def test_direct_access_is_identical_under_both(self, freemarker: FreeMarker):
        probe = '${(h["Cost_Center"])!"-"}|${(h["class"])???c}|${(h["missing"])???c}'
        model = {"h": {"Cost_Center": "CC-9"}}
        assert freemarker.render(probe, model, "default") == "CC-9|false|false"
        beans = freemarker.render(probe, model, "beans")
        assert isinstance(beans, str)
        assert beans.startswith("CC-9|")


@pytest.mark.java
def test_the_emulators_reader_builds_the_types_a_java_server_holds(freemarker: FreeMarker):
    """The harness reads its models with the emulator's FreeMarkerRender.parseJson (one
    reader for both): each JSON value becomes the Java type a server's data model holds."""
    model = {"xs": [1, -(2**63), 2**70, Decimal("1.50"), Decimal("1E+3"), "\u00e9\u20ac\U0001f600",
                    True, [1], {"b": 1, "a": 2}]}  # fmt: skip
    classes = freemarker.render("<#list xs as x>${x.class.name}|</#list>", model, "beans")
    assert classes == (
        "java.lang.Long|java.lang.Long|java.math.BigInteger|java.math.BigDecimal|"
        "java.math.BigDecimal|java.lang.String|java.lang.Boolean|java.util.ArrayList|"
        "java.util.LinkedHashMap|"
    )
    values = freemarker.render(
        "<#list xs[8]?keys as k>${k}</#list>|${xs[3]?c}|${xs[2]?c}|${xs[4]?c}|${xs[5]}",
        model,
        "default",
    )
    assert values == "ba|1.5|1180591620717411303424|1000|\u00e9\u20ac\U0001f600"


@pytest.mark.java
@pytest.mark.parametrize("setup", ["default+classic", "beans+classic"])
def test_classic_compatible_server_renders_the_same(freemarker: FreeMarker, setup: str):
    """classic_compatible=true (the live server's apparent setting) changes nothing either."""
    reports = [hostile_report(i, text) for i, text in enumerate(HOSTILE)]
    models = [{"reports": reports}, {}, {"reports": [{}]}, {"reports": [{"transactionList": [{}]}]}]
    outputs = freemarker.render_many(EXPORT_TEMPLATE, models, setup)
    for model, output in zip(models, outputs, strict=True):
        assert output == render_export(EXPORT_TEMPLATE, model.get("reports", [])), output


class TestReportFieldTemplates:
    """export_template(report_fields): report fields read by names fixed in the template."""

    def test_no_names_is_the_packaged_template(self):
        assert export_template(()) == EXPORT_TEMPLATE
        assert '"reportFields":{},<#t>' in EXPORT_TEMPLATE

    def test_keys_follow_expensify_and_are_read_by_fixed_names(self):
        assert report_field_key("Project Code") == "Project_Code"
        assert report_field_key(" Cost-centre (EU) ") == "Cost_centre__EU_"
        with pytest.raises(ValueError, match="empty"):
            report_field_key("  ")
        template = export_template(["Project Code", "Branch", "Project_Code"])
        line = next(x for x in template.splitlines() if x.startswith('"reportFields"'))
        assert line == (
            '"reportFields":{"Project_Code":${js(cf, "Project_Code")},'
            '"Branch":${js(cf, "Branch")}},<#t>'
        )
        assert "?keys" not in re.sub(r"<#--.*?-->", "", template, flags=re.DOTALL)

    def test_rendition_reads_the_named_fields_only(self):
        template = export_template(["Project Code", "Branch"])
        report = {**hostile_report(0, "x"), "customField": {"Project_Code": "PRJ1", "Other": "y"}}
        (parsed,) = parse_report_export(render_export(template, [report]))
        assert parsed.custom_fields == {"Project_Code": "PRJ1"}  # Branch has no value
        (plain,) = parse_report_export(render_export(EXPORT_TEMPLATE, [report]))
        assert plain.custom_fields == {}
        with pytest.raises(TypeError, match="customField"):
            render_export(template, [{**report, "customField": "junk"}])

    @pytest.mark.parametrize(
        "template",
        [
            EXPORT_TEMPLATE.replace('"reportFields":{}', '"reportFields":{"A":${js(r, "A")}}'),
            EXPORT_TEMPLATE.replace('"reportFields":{}', '"reportFields":{"A":${js(cf, "B")}}'),
            export_template(["A"]) + " ",
        ],
        ids=["other-hash", "other-key", "trailing-space"],
    )
    def test_lookalike_templates_are_refused(self, template: str):
        with pytest.raises(UnsupportedTemplateError):
            render_export(template, [])


@pytest.mark.java
@pytest.mark.parametrize("wrapper", WRAPPERS)
class TestReportFieldsUnderFreeMarker:
    def test_named_fields_byte_for_byte(self, freemarker: FreeMarker, wrapper: str):
        template = export_template(["Project Code", "Branch", "Cost Centre"])
        reports = [
            {**hostile_report(i, text), "customField": {"Project_Code": text, "Branch": 7,
                                                        "Other": "z"}}
            for i, text in enumerate(HOSTILE)
        ]  # fmt: skip
        reports.append({**hostile_report(len(HOSTILE), "y")})  # no customField at all
        output = freemarker.render(template, {"reports": reports}, wrapper)
        assert isinstance(output, str), output
        assert output == render_export(template, reports)
        parsed = parse_report_export(output)
        expected = [{"Project_Code": t, "Branch": "7"} if t else {"Branch": "7"} for t in HOSTILE]
        assert [r.custom_fields for r in parsed] == [*expected, {}]
