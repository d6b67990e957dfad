"""ExpensifyEmulator: any template through real FreeMarker, the lenient job JSON, xlsx output."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from expensify_client import EXPORT_TEMPLATE
from expensify_client.emulator import (
    API_PATH,
    ExpenseSpec,
    ExpensifyEmulator,
    FreeMarkerError,
    FreeMarkerRenderer,
    FreeMarkerUnavailableError,
    category,
)
from expensify_client.emulator._lenient_json import LenientJSONError, loads_object
from expensify_client.emulator._xlsx import csv_text_to_xlsx
from tests.reference import in_ci

URL = "https://integrations.expensify.com" + API_PATH
PID = "aa_ex_example_com"
SECRET = "s3cr3t"
OWNER = "owner@acme.test"
DAY = datetime(2025, 2, 3, 9, tzinfo=UTC)
CSV_TEMPLATE = (
    "<#list reports as r><#list r.transactionList as e>"
    "${r.reportID},${e.merchant},${(e.amount/100)?string('0.00')},${e.categoryGlCode!''}\n"
    "</#list></#list>"
)


def _engine(tmp_path: Path, wrapper: str = "default") -> FreeMarkerRenderer:
    engine = FreeMarkerRenderer(cache_dir=tmp_path / "fm", object_wrapper=wrapper)
    reason = engine.unavailable_reason()
    if reason is not None:
        if in_ci():
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return engine


def make(**kwargs: Any) -> ExpensifyEmulator:
    emu = ExpensifyEmulator(rate_limits=False, clock=lambda: DAY, **kwargs)
    emu.add_account(PID, SECRET, email=OWNER)
    emu.add_policy("P1", "Acme", owner=OWNER, categories=[category("Meals", "6100")])
    emu.add_report(
        "P1",
        submitter=OWNER,
        name="Trip",
        currency="USD",
        created=DAY,
        report_id="R00AAAAAAAAA",
        expenses=[
            ExpenseSpec(
                amount_cents=1250,
                currency="USD",
                created=DAY.date(),
                merchant="Diner, Inc",
                category="Meals",
            )
        ],
    )
    return emu


def export(emu: ExpensifyEmulator, template: str, extension: str = "csv") -> httpx.Response:
    job = {
        "type": "file",
        "credentials": {"partnerUserID": PID, "partnerUserSecret": SECRET},
        "onReceive": {"immediateResponse": ["returnRandomFileName"]},
        "inputSettings": {
            "type": "combinedReportData",
            "filters": {"reportIDList": "R00AAAAAAAAA"},
        },
        "outputSettings": {"fileExtension": extension},
        "onFinish": [{"actionName": "markAsExported", "label": "x"}],
    }
    with httpx.Client(transport=emu.transport()) as http:
        return http.post(URL, data={"requestJobDescription": json.dumps(job), "template": template})


@pytest.mark.java
class TestRealFreeMarker:
    """Third-party templates go through the real engine, under either object wrapper."""

    @pytest.mark.parametrize("wrapper", ["default", "beans"])
    def test_any_template(self, tmp_path: Path, wrapper: str) -> None:
        emu = make(freemarker=_engine(tmp_path, wrapper))
        response = export(emu, CSV_TEMPLATE)
        assert response.status_code == 200
        assert emu.files()[response.text] == b"R00AAAAAAAAA,Diner, Inc,12.50,6100\n"
        assert emu.exported_labels("R00AAAAAAAAA") == frozenset({"x"})

    def test_add_header_is_true(self, tmp_path: Path) -> None:
        _engine(tmp_path)
        emu = make()
        response = export(emu, "<#if addHeader>H</#if>${reports?size}")
        assert emu.files()[response.text] == b"H1"

    def test_template_error_is_a_500_and_marks_nothing(self, tmp_path: Path) -> None:
        emu = make(freemarker=_engine(tmp_path))
        response = export(emu, "${reports[0].noSuchField}")
        body = response.json()
        assert body["responseCode"] == 500
        assert body["responseMessage"].startswith("Template error: freemarker.")
        assert emu.files() == {}
        assert emu.exported_labels("R00AAAAAAAAA") == frozenset()

    def test_forced_engine_renders_the_projects_template_too(self, tmp_path: Path) -> None:
        python = make()
        java = make(renderer="freemarker", freemarker=_engine(tmp_path))
        answer = export(python, EXPORT_TEMPLATE, "json")
        assert answer.text in python.files(), answer.text
        by_python = python.files()[answer.text]
        answer = export(java, EXPORT_TEMPLATE, "json")
        assert answer.text in java.files(), answer.text
        by_java = java.files()[answer.text]
        assert by_java == by_python

    def test_live_like_engine_is_lenient_and_does_not_group_digits(self, tmp_path: Path) -> None:
        # The emulator's default engine: a template that increments a variable it never
        # assigned, and prints a bare number, renders (as a production client's does live).
        _engine(tmp_path)
        emu = make()
        template = (
            "<#list reports as r><#list r.transactionList as e>"
            "${e.merchant}|${e.amount}|${e.noSuchField}|<#assign n = n + 1>${n}"
            "</#list></#list>"
        )
        response = export(emu, template)
        assert emu.files()[response.text] == b"Diner, Inc|1250||1"
        strict = make(freemarker=_engine(tmp_path))
        assert export(strict, template).json()["responseCode"] == 500

    def test_number_format_setting(self, tmp_path: Path) -> None:
        grouped = _engine(tmp_path)
        plain = FreeMarkerRenderer(cache_dir=tmp_path / "fm", number_format="computer")
        assert grouped.render("${n}", {"n": 123456}) == "123,456"
        assert plain.render("${n}", {"n": 123456}) == "123456"

    def test_engine_directly(self, tmp_path: Path) -> None:
        engine = _engine(tmp_path)
        model = {"reports": [{"rate": Decimal("1.2345"), "big": 2**70, "none": None}]}
        text = engine.render(
            "${reports[0].rate?c} ${reports[0].big?c} ${reports[0].none!'-'}", model
        )
        assert text == f"1.2345 {2**70} -"
        with pytest.raises(FreeMarkerError, match="freemarker"):
            engine.render("<#if>", model)
        with pytest.raises(TypeError):
            engine.render("x", {"f": 1.5})


class TestWithoutAJVM:
    """No JVM or no jar: a clear emulator error, nothing generated or marked."""

    def test_third_party_template_needs_a_jvm(self, tmp_path: Path) -> None:
        emu = make(freemarker=FreeMarkerRenderer(jar=tmp_path / "absent.jar"))
        body = export(emu, CSV_TEMPLATE).json()
        assert body["responseCode"] == 410
        assert "needs a JVM with FreeMarker" in body["responseMessage"]
        assert "libfreemarker-java" in body["responseMessage"]
        assert emu.files() == {}
        assert emu.exported_labels("R00AAAAAAAAA") == frozenset()

    def test_projects_template_still_renders(self, tmp_path: Path) -> None:
        emu = make(freemarker=FreeMarkerRenderer(jar=tmp_path / "absent.jar"))
        response = export(emu, EXPORT_TEMPLATE, "json")
        reports = json.loads(emu.files()[response.text])["reports"]
        assert [r["reportID"] for r in reports] == ["R00AAAAAAAAA"]

    def test_renderer_reports_why(self, tmp_path: Path) -> None:
        engine = FreeMarkerRenderer(jar=tmp_path / "absent.jar")
        assert not engine.available()
        with pytest.raises(FreeMarkerUnavailableError, match=r"absent\.jar"):
            engine.render("x", {})
        no_java = FreeMarkerRenderer(java=str(tmp_path / "no-java"))
        assert not no_java.available()
        assert "no Java runtime" in str(no_java.unavailable_reason())


class TestXlsx:
    """``xlsx`` output: a workbook holding the rendered CSV."""

    def test_workbook_rows_and_cells(self) -> None:
        book = csv_text_to_xlsx('a,b\n"x, y",<&>\n\n')
        with zipfile.ZipFile(io.BytesIO(book)) as archive:
            assert archive.testzip() is None
            sheet = archive.read("xl/worksheets/sheet1.xml").decode()
            assert "xl/workbook.xml" in archive.namelist()
        assert sheet.count("<row ") == 2
        assert '<c r="A2" t="inlineStr"><is><t xml:space="preserve">x, y</t></is></c>' in sheet
        assert "&lt;&amp;&gt;" in sheet

    def test_export_to_xlsx(self) -> None:
        emu = make()
        response = export(emu, EXPORT_TEMPLATE, "xlsx")
        assert response.text.endswith(".xlsx")
        with zipfile.ZipFile(io.BytesIO(emu.files()[response.text])) as archive:
            assert "R00AAAAAAAAA" in archive.read("xl/worksheets/sheet1.xml").decode()


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


class TestLenientJSON:
    """org.json's grammar: strict JSON reads the same; its extensions are accepted."""

    @given(st.dictionaries(st.text(max_size=8), _json_values, max_size=5))
    def test_strict_json_reads_identically(self, value: dict[str, Any]) -> None:
        assert loads_object(json.dumps(value)) == value
        assert loads_object(json.dumps(value, ensure_ascii=False, indent=2)) == value

    def test_extensions(self) -> None:
        text = "{a:1, 'b':'x\\'y', c=[1,,2,], d=>true; e:1.50, f:null, g:-0.5e1,}"
        assert loads_object(text) == {
            "a": 1,
            "b": "x'y",
            "c": [1, None, 2],
            "d": True,
            "e": Decimal("1.50"),
            "f": None,
            "g": Decimal("-0.5e1"),
        }

    def test_trailing_text_after_the_object_is_ignored(self) -> None:
        assert loads_object('{"a":1} trailing') == {"a": 1}

    @pytest.mark.parametrize(
        "text",
        ['{"a":1,"a":2}', '{"a" 1}', '{"a":1 "b":2}', "[]", '{"a":"\\x"}', '{"a":"open', "{"],
    )
    def test_refusals(self, text: str) -> None:
        with pytest.raises(LenientJSONError, match=r"at \d+ \[character \d+ line \d+\]"):
            loads_object(text)
