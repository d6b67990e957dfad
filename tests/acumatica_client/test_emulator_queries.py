"""``$filter``/``$top``/``$skip``/``$select``/``$expand`` semantics of the emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from acumatica_client.emulator import AcumaticaEmulator, FilterSyntaxError, compile_filter
from tests.reference import validate_entity

VERSIONS = ("23.200.001", "24.200.001")
HOST = "https://erp.test"
START = datetime(2025, 1, 1, tzinfo=UTC)
VENDORS = [
    ("V1", "Ann O'Neil", "Active"),
    ("V2", "Bob's Supplies", "Inactive"),
    ("V3", "Carol Ltd", "Active"),
    ("V4", "Dan O'Neil", "Hold"),
]


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def world(version: str) -> tuple[AcumaticaEmulator, httpx.Client]:
    clock = Clock()
    emu = AcumaticaEmulator(version=version, clock=clock)
    for index, (code, name, status) in enumerate(VENDORS):
        clock.now = START + timedelta(days=index)
        emu.seed_vendors({"VendorID": code, "VendorName": name, "Status": status})
    client = httpx.Client(transport=emu.transport(), base_url=f"{HOST}/entity/Default/{version}")
    client.post(f"{HOST}/entity/auth/login", json={"name": "admin", "password": "admin-password"})
    return emu, client


def ids(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [row["VendorID"]["value"] for row in answer.json()]


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class TestFilter:
    """The OData subset: operators, functions, literals, precedence."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("VendorName eq 'Ann O''Neil'", ["V1"]),
            ("substringof('O''Neil', VendorName)", ["V1", "V4"]),
            ("startswith(VendorName,'Bob''s')", ["V2"]),
            ("endswith(VendorName, 'Ltd')", ["V3"]),
            ("Status ne 'Active'", ["V2", "V4"]),
            ("VendorID gt 'V2' and VendorID le 'V4'", ["V3", "V4"]),
            ("VendorID lt 'V2' or VendorID ge 'V4'", ["V1", "V4"]),
            ("not (Status eq 'Active')", ["V2", "V4"]),
            ("Status eq 'Active' and (VendorID eq 'V1' or VendorID eq 'V2')", ["V1"]),
            ("Status eq 'Active' and VendorID eq 'V1' or VendorID eq 'V2'", ["V1", "V2"]),
            ("LastModifiedDateTime gt datetimeoffset'2025-01-02T00:00:00+00:00'", ["V3", "V4"]),
            ("LastModifiedDateTime ge datetimeoffset'2025-01-02T00:00:00Z'", ["V2", "V3", "V4"]),
        ],
    )
    def test_operators(self, version: str, text: str, expected: list[str]) -> None:
        _, client = world(version)
        answer = client.get("/Vendor", params={"$filter": text})
        assert ids(answer) == expected
        for row in answer.json():
            validate_entity(version, "Vendor", row)

    @pytest.mark.parametrize(
        "text",
        [
            "VendorName eq 'unterminated",
            "Colour eq 'red'",  # not a field of Vendor
            "VendorName eq",
            "VendorName like 'A'",
            "(VendorID eq 'V1'",
            "VendorID eq 'V1' extra",
            "MainContact eq 'x'",  # a linked entity, not a value
            "LastModifiedDateTime gt datetimeoffset'2025-01-02T00%3A00%3A00Z'",  # encoded twice
        ],
    )
    def test_invalid_filters_are_400_not_empty_lists(self, version: str, text: str) -> None:
        _, client = world(version)
        answer = client.get("/Vendor", params={"$filter": text})
        assert answer.status_code == 400
        assert "$filter" in answer.json()["message"]

    def test_a_filter_on_get_by_key_hides_a_non_matching_record(self, version: str) -> None:
        _, client = world(version)
        assert client.get("/Vendor/V1", params={"$filter": "Status eq 'Active'"}).is_success
        hidden = client.get("/Vendor/V2", params={"$filter": "Status eq 'Active'"})
        assert hidden.status_code == 500
        assert hidden.json()["exceptionType"].endswith("NoEntitySatisfiesTheConditionException")


class TestPagingAndShape:
    """Paging, row numbers, ``$select`` and ``$expand``."""

    def test_top_and_skip_page_in_insertion_order_with_row_numbers(self, version: str) -> None:
        _, client = world(version)
        page = client.get("/Vendor", params={"$top": "2", "$skip": "1"})
        assert ids(page) == ["V2", "V3"]
        assert [r["rowNumber"] for r in page.json()] == [2, 3]
        assert ids(client.get("/Vendor", params={"$skip": "4"})) == []
        assert ids(client.get("/Vendor", params={"$top": "0"})) == []
        for bad in ("-1", "two"):
            assert client.get("/Vendor", params={"$top": bad}).status_code == 400

    def test_select_limits_fields_and_expand_adds_linked_entities(self, version: str) -> None:
        emu, client = world(version)
        emu.seed_vendors({"VendorID": "V9", "MainContact": {"Email": "v9@x.test"}})
        plain = client.get("/Vendor/V9").json()
        assert "MainContact" not in plain
        expanded = client.get("/Vendor/V9", params={"$expand": "MainContact"}).json()
        assert expanded["MainContact"]["Email"] == {"value": "v9@x.test"}
        selected = client.get("/Vendor", params={"$select": "VendorID"}).json()
        assert all(
            set(r) == {"id", "rowNumber", "note", "VendorID", "custom", "_links"} for r in selected
        )
        for row in (plain, expanded, *selected):
            validate_entity(version, "Vendor", row)
        assert client.get("/Vendor", params={"$select": "Nope"}).status_code == 400
        assert client.get("/Vendor", params={"$expand": "VendorName"}).status_code == 400


NAMES = st.text(alphabet="abAB' ", min_size=0, max_size=6)


@given(names=st.lists(NAMES, min_size=1, max_size=6), probe=NAMES)
def test_quoted_literals_round_trip_for_any_text(names: list[str], probe: str) -> None:
    """``eq`` with OData quote doubling selects exactly the records equal to the text."""
    literal = "'" + probe.replace("'", "''") + "'"
    predicate = compile_filter(f"VendorName eq {literal}", lambda name: name == "VendorName")
    assert [n for n in names if predicate({"VendorName": n})] == [n for n in names if n == probe]
    starts = compile_filter(f"startswith(VendorName,{literal})", lambda name: True)
    assert [n for n in names if starts({"VendorName": n})] == [
        n for n in names if n.startswith(probe)
    ]


def test_compile_filter_refuses_a_literal_on_the_left() -> None:
    with pytest.raises(FilterSyntaxError):
        compile_filter("'a' eq VendorName", lambda name: True)
