"""Wire conversion of Acumatica entities: wrapping, UNSET vs None, JSON exactness, versions."""

from __future__ import annotations

import json
import re
import typing
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import cattrs
import pytest
from cattrs.gen import make_dict_unstructure_fn, override
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acumatica_client import _models as models
from acumatica_client._converters import (
    _is_entity,
    _kinds,
    _plain_slotted,
    _unstruct_hook,
    dumps,
    from_wire,
    loads,
    make_converter,
    schema_type,
    to_wire,
)
from acumatica_client._exceptions import FieldNotInVersionError
from acumatica_client._models import (
    UNSET,
    AcumaticaEntity,
    Bill,
    BillDetail,
    Branch,
    Contact,
    CustomField,
    Employee,
    EmployeeSettings,
    ExpenseClaim,
    ExpenseClaimDetail,
    JournalTransaction,
    UnsetType,
    Vendor,
    wire_name,
)
from tests.reference import entity_properties, undeclared_keys, validate_entity

VERSIONS = ("23.200.001", "24.200.001")

ENTITY_CLASSES: list[type[AcumaticaEntity]] = sorted(
    (
        obj
        for obj in vars(models).values()
        if isinstance(obj, type) and issubclass(obj, AcumaticaEntity)
    ),
    key=lambda cls: cls.__name__,
)
SCHEMA_CLASSES = [cls for cls in ENTITY_CLASSES if cls is not AcumaticaEntity]

ISO_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}:\d{2}$")

# ------------------------------------------------------------------------ strategies

OFFSETS = st.builds(
    timezone,
    st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23)),
)
AWARE = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=OFFSETS
)
MANY_DIGITS = st.from_regex(r"-?[1-9][0-9]{0,24}\.[0-9]{1,24}", fullmatch=True).map(Decimal)
DECIMALS = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False),
    MANY_DIGITS,
    st.decimals(min_value=-(10**12), max_value=10**12, places=2),
)
SCALARS: dict[Any, st.SearchStrategy[Any]] = {
    str: st.text(max_size=12),
    Decimal: DECIMALS,
    int: st.integers(min_value=-(2**31), max_value=2**31 - 1),
    bool: st.booleans(),
    date: st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 1, 1)),
    datetime: AWARE,
}
NAMES = st.from_regex(r"[A-Z][A-Za-z0-9]{0,8}", fullmatch=True)
CUSTOM_VALUES = {
    "CustomStringField": st.text(max_size=8),
    "CustomIntField": st.integers(min_value=-(2**31), max_value=2**31 - 1),
    "CustomBooleanField": st.booleans(),
    "CustomDecimalField": MANY_DIGITS,
}
CUSTOM_FIELD = st.sampled_from(sorted(CUSTOM_VALUES)).flatmap(
    lambda kind: st.builds(CustomField, type=st.just(kind), value=CUSTOM_VALUES[kind])
)
CUSTOM = st.dictionaries(NAMES, st.dictionaries(NAMES, CUSTOM_FIELD, max_size=2), max_size=2)


def _inner(tp: Any) -> tuple[Any, bool]:
    """``X | UnsetType | None`` -> (X, whether None is allowed)."""
    args = typing.get_args(tp)
    if not args or typing.get_origin(tp) is tuple:
        return tp, False
    rest = [a for a in args if a not in (UnsetType, type(None))]
    return (rest[0] if len(rest) == 1 else tp), type(None) in args


def _value_strategy(field: attrs.Attribute[Any], tp: Any, *, full: bool) -> st.SearchStrategy[Any]:
    wire = wire_name(field)
    if wire == "id":
        return st.uuids().map(str)
    if wire == "rowNumber":
        return st.integers(min_value=1, max_value=2**40)
    if wire == "custom":
        return CUSTOM
    if typing.get_origin(tp) is tuple:
        row = typing.get_args(tp)[0]
        return st.lists(entities(row, full=full), min_size=1 if full else 0, max_size=3).map(tuple)
    if isinstance(tp, type) and issubclass(tp, AcumaticaEntity):
        return entities(tp, full=full)
    return SCALARS[tp]


def entities(cls: type[Any], *, full: bool = False) -> st.SearchStrategy[Any]:
    """Instances of ``cls``: each field UNSET, None (where allowed) or a value.

    ``full=True`` sets every field to a value (for schema validation).
    """
    hints = typing.get_type_hints(cls)
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field in attrs.fields(cls):
        tp, nullable = _inner(hints[field.name])
        value = _value_strategy(field, tp, full=full)
        linked = isinstance(tp, type) and issubclass(tp, AcumaticaEntity)
        linked = linked or wire_name(field) in ("id", "rowNumber")  # no null on the wire
        if full:
            fields[field.name] = value
        elif nullable and not linked:
            fields[field.name] = st.one_of(st.just(UNSET), st.none(), value)
        else:
            fields[field.name] = st.one_of(st.just(UNSET), value)
    return st.builds(cls, **fields)


def restrict(entity: Any, version: str, schema: str) -> Any:
    """``entity`` with every field the real schema of ``version`` lacks set back to UNSET."""
    props = entity_properties(version, schema)
    changes: dict[str, Any] = {}
    for field in attrs.fields(type(entity)):
        wire = wire_name(field)
        value = getattr(entity, field.name)
        if wire not in props:
            changes[field.name] = UNSET
        elif isinstance(value, tuple):
            row_schema = props[wire]["items"]["$ref"].rsplit("/", 1)[-1]
            changes[field.name] = tuple(restrict(row, version, row_schema) for row in value)
        elif isinstance(value, AcumaticaEntity):
            changes[field.name] = restrict(value, version, props[wire]["$ref"].rsplit("/", 1)[-1])
    return attrs.evolve(entity, **changes)


def roundtrip(entity: AcumaticaEntity) -> AcumaticaEntity:
    return from_wire(type(entity), loads(dumps(to_wire(entity))))


# ----------------------------------------------------------------------------- tests


class TestEntityClasses:
    def test_every_model_class_is_covered(self) -> None:
        """The parametrised tests see every entity class the models module defines."""
        names = {cls.__name__ for cls in ENTITY_CLASSES}
        assert {n for n in models.__all__ if n not in {"UNSET", "UnsetType", "CustomField"}} == (
            names
        )

    @pytest.mark.parametrize(
        ("cls", "expected"),
        [
            (Bill, "Bill"),
            (BillDetail, "BillDetail"),
            (ExpenseClaimDetail, "ExpenseClaimDetails"),
            (ExpenseClaim, "ExpenseClaim"),
            (Contact, "Contact"),
            (EmployeeSettings, "EmployeeSettings"),
            (Branch, "CompaniesStructureDetail"),
            (Vendor, "Vendor"),
        ],
    )
    def test_schema_type(self, cls: type[AcumaticaEntity], expected: str) -> None:
        """schema_type names the type as the endpoint definition spells it."""
        assert schema_type(cls) == expected


class TestRoundTrip:
    @pytest.mark.parametrize("cls", ENTITY_CLASSES, ids=lambda c: c.__name__)
    @settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def test_round_trip_through_json(self, cls: type[AcumaticaEntity], data: st.DataObject) -> None:
        """from_wire(loads(dumps(to_wire(x)))) gives back x for every entity class."""
        entity = data.draw(entities(cls))
        assert roundtrip(entity) == entity

    @given(entity=entities(Bill))
    def test_wire_shape(self, entity: Bill) -> None:
        """Set scalars are {"value": …} under the wire name; UNSET fields are absent."""
        body = to_wire(entity)
        for field in attrs.fields(Bill):
            wire = wire_name(field)
            value = getattr(entity, field.name)
            if value is UNSET:
                assert wire not in body
            elif wire in ("id", "rowNumber"):
                assert body[wire] == value
            elif wire == "Details":
                assert isinstance(body[wire], list)
                assert len(body[wire]) == len(value)
            elif wire == "custom":
                assert set(body[wire]) == set(value)
            else:
                assert set(body[wire]) == {"value"}
                if value is None:
                    assert body[wire]["value"] is None

    @given(amount=MANY_DIGITS)
    def test_decimal_travels_exactly(self, amount: Decimal) -> None:
        """A Decimal is written as its exact literal and read back with the same digits."""
        raw = dumps(to_wire(Bill(amount=amount)))
        assert f'"Amount":{{"value":{format(amount, "f")}}}'.encode() in raw
        back = from_wire(Bill, loads(raw)).amount
        assert isinstance(back, Decimal)
        assert back.as_tuple() == amount.as_tuple()

    @given(dt=AWARE)
    def test_datetimes_are_iso_with_offset(self, dt: datetime) -> None:
        """Date-times go out as ISO 8601 with an hh:mm offset and come back tz-aware."""
        text = to_wire(Bill(last_modified_date_time=dt))["LastModifiedDateTime"]["value"]
        assert ISO_OFFSET.fullmatch(text), text
        back = from_wire(Bill, {"LastModifiedDateTime": {"value": text}}).last_modified_date_time
        assert isinstance(back, datetime)
        assert back.tzinfo is not None
        assert back == dt


class TestUnsetAndNone:
    def test_unset_is_omitted_none_is_null(self) -> None:
        """UNSET leaves a field out; None sends {"value": null} (clears it)."""
        assert to_wire(Bill()) == {}
        assert to_wire(Bill(vendor_ref=None, hold=False)) == {
            "VendorRef": {"value": None},
            "Hold": {"value": False},
        }
        assert dumps(to_wire(Bill(vendor_ref=None))) == b'{"VendorRef":{"value":null}}'

    def test_nested_shapes(self) -> None:
        """Linked entities nest as objects, details as arrays; system keys per the reference."""
        bill = Bill(
            id="3f1c0b8e-0000-4000-8000-000000000001",
            note="from Expensify",
            custom={"Document": {"UsrKey": CustomField(type="CustomStringField", value="k")}},
            details=(BillDetail(row_number=1, account="6100", amount=Decimal("10.00")),),
        )
        assert to_wire(bill) == {
            "id": "3f1c0b8e-0000-4000-8000-000000000001",
            "note": {"value": "from Expensify"},
            "custom": {"Document": {"UsrKey": {"type": "CustomStringField", "value": "k"}}},
            "Details": [
                {
                    "rowNumber": 1,
                    "Account": {"value": "6100"},
                    "Amount": {"value": Decimal("10.00")},
                }
            ],
        }
        employee = Employee(employee_id="EP001", contact_info=Contact(email="a@example.com"))
        assert to_wire(employee) == {
            "EmployeeID": {"value": "EP001"},
            "ContactInfo": {"Email": {"value": "a@example.com"}},
        }

    def test_linked_entity_none_is_refused(self) -> None:
        """A linked entity cannot be sent as null (the schema has no null object)."""
        with pytest.raises(ValueError, match="ContactInfo"):
            to_wire(Employee(contact_info=None))

    @pytest.mark.parametrize("entity", [Bill(id=None), BillDetail(row_number=None)])
    def test_null_system_key_is_refused(self, entity: AcumaticaEntity) -> None:
        """id and rowNumber are bare values with no null form; None is refused."""
        with pytest.raises(ValueError, match="cannot be sent as null"):
            to_wire(entity)

    def test_naive_datetime_is_refused(self) -> None:
        """A naive datetime is never guessed into a zone."""
        with pytest.raises(ValueError, match="naive"):
            to_wire(Bill(last_modified_date_time=datetime(2024, 1, 1)))

    def test_date_only_travels_without_offset(self) -> None:
        """A date-only field travels as midnight with no offset (Acumatica's own form)."""
        assert to_wire(Bill(date=date(2024, 1, 15), due_date=date(2024, 2, 14))) == {
            "Date": {"value": "2024-01-15T00:00:00"},
            "DueDate": {"value": "2024-02-14T00:00:00"},
        }
        assert to_wire(JournalTransaction(transaction_date=date(2026, 11, 20))) == {
            "TransactionDate": {"value": "2026-11-20T00:00:00"}
        }

    def test_date_times_keep_their_offset(self) -> None:
        """Date-times are not date-only: their offset travels with them."""
        stamp = datetime(2026, 11, 20, 9, 30, tzinfo=timezone(timedelta(hours=2)))
        assert to_wire(Bill(last_modified_date_time=stamp)) == {
            "LastModifiedDateTime": {"value": "2026-11-20T09:30:00+02:00"}
        }

    @given(st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31)))
    def test_date_only_round_trips_to_the_same_day(self, day: date) -> None:
        """What is sent reads back as the same calendar day, in any time zone."""
        sent = to_wire(Bill(date=day))["Date"]["value"]
        assert sent == f"{day.isoformat()}T00:00:00"
        assert from_wire(Bill, {"Date": {"value": sent}}).date == day
        assert from_wire(Bill, {"Date": {"value": sent + "+00:00"}}).date == day

    def test_offset_with_seconds_goes_out_in_utc(self) -> None:
        """An offset with seconds (historic zones) is sent as the same instant in UTC."""
        odd = timezone(timedelta(hours=1, seconds=15))
        dt = datetime(2024, 1, 1, 12, 0, tzinfo=odd)
        text = to_wire(Bill(last_modified_date_time=dt))["LastModifiedDateTime"]["value"]
        assert text == "2024-01-01T10:59:45+00:00"


class TestReading:
    def test_absent_null_and_empty_object(self) -> None:
        """Absent -> UNSET; {"value": null} -> None; Acumatica's empty {} -> None."""
        bill = from_wire(Bill, {"VendorRef": {"value": None}, "Description": {}})
        assert bill.vendor_ref is None
        assert bill.description is None
        assert bill.amount is UNSET
        assert bill.details is UNSET

    def test_unknown_keys_are_tolerated(self) -> None:
        """Server-added members (_links, files, error, new fields) are ignored."""
        data = {
            "id": "3f1c0b8e-0000-4000-8000-000000000001",
            "rowNumber": 1,
            "_links": {"self": "/entity/Default/24.200.001/Bill/x", "files:put": "/x/{filename}"},
            "files": [{"id": "f", "filename": "r.pdf", "href": "/files/r"}],
            "error": None,
            "BrandNewField": {"value": 1},
            "VendorRef": {"value": "EXB-1", "error": None},
            "Details": [{"rowNumber": 1, "Account": {"value": "6100"}, "Unknown": {"value": 2}}],
        }
        bill = from_wire(Bill, data)
        assert bill == Bill(
            id="3f1c0b8e-0000-4000-8000-000000000001",
            row_number=1,
            vendor_ref="EXB-1",
            details=(BillDetail(row_number=1, account="6100"),),
        )

    def test_strings_become_typed_values(self) -> None:
        """Strings and JSON numbers convert to the attrs types (Decimal, date, datetime…)."""
        bill = from_wire(
            Bill,
            loads(
                b'{"Amount":{"value":"12.50"},"Balance":{"value":3},"TaxTotal":{"value":1.10},'
                b'"Date":{"value":"2024-01-15T00:00:00+00:00"},"DueDate":{"value":"2024-02-01"},'
                b'"Hold":{"value":"true"},"LastModifiedDateTime":{"value":"2024-07-15T10:31:28.402Z"}}'
            ),
        )
        assert bill.amount == Decimal("12.50")
        assert isinstance(bill.balance, Decimal)
        assert bill.balance == 3
        assert bill.tax_total == Decimal("1.10")
        assert isinstance(bill.tax_total, Decimal)
        assert bill.date == date(2024, 1, 15)
        assert bill.due_date == date(2024, 2, 1)
        assert bill.hold is True
        assert bill.last_modified_date_time == datetime(2024, 7, 15, 10, 31, 28, 402000, tzinfo=UTC)
        account = from_wire(models.Account, {"AccountID": {"value": "42"}})
        assert account.account_id == 42

    def test_naive_response_datetime_is_utc(self) -> None:
        """A response date-time without offset is read as UTC, never as local time."""
        bill = from_wire(Bill, {"LastModifiedDateTime": {"value": "2024-01-02T03:04:05"}})
        assert bill.last_modified_date_time == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)

    def test_note_and_custom_variants(self) -> None:
        """A bare-string note and a capital-T custom discriminator are both accepted."""
        bill = from_wire(
            Bill,
            {"note": "plain", "custom": {"Doc": {"UsrX": {"Type": "CustomIntField", "value": 5}}}},
        )
        assert bill.note == "plain"
        assert bill.custom == {"Doc": {"UsrX": CustomField(type="CustomIntField", value=5)}}

    def test_bad_values_name_their_path(self) -> None:
        """A wrongly typed value raises ValueError naming every bad field (details by index)."""
        data = {
            "Amount": {"value": "abc"},
            "Hold": {"value": 3},
            "Details": [{}, {"Qty": {"value": True}}],
        }
        with pytest.raises(ValueError, match="cannot read Bill") as info:
            from_wire(Bill, data)
        text = str(info.value)
        assert "Bill.amount" in text
        assert "Bill.hold" in text
        assert "Bill.details[1].qty" in text
        assert isinstance(info.value.__cause__, cattrs.BaseValidationError)

    @pytest.mark.parametrize("data", [[], "x", None, 5])
    def test_non_object_is_refused(self, data: Any) -> None:
        """A body that is not a JSON object is a ValueError, not a crash."""
        with pytest.raises(ValueError, match="expected a JSON object"):
            from_wire(Bill, data)

    def test_fractional_integer_is_refused(self) -> None:
        """An IntValue with a fraction is refused rather than truncated."""
        with pytest.raises(ValueError, match="account_id"):
            from_wire(models.Account, loads(b'{"AccountID":{"value":1.5}}'))


class TestJson:
    def test_floats_are_refused(self) -> None:
        """A float anywhere in a body is a TypeError: money never travels as binary float."""
        with pytest.raises(TypeError, match="Decimal"):
            dumps({"a": [{"b": 0.1}]})

    @pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
    def test_non_finite_is_refused(self, value: Decimal) -> None:
        """NaN and infinities have no JSON form and are refused."""
        with pytest.raises(ValueError, match="non-finite"):
            dumps({"value": value})

    @given(value=st.decimals(allow_nan=False, allow_infinity=False))
    def test_any_finite_decimal_round_trips(self, value: Decimal) -> None:
        """Every finite Decimal survives dumps/loads with the same numeric value."""
        raw = dumps([value])
        json.loads(raw)  # standard JSON
        back = loads(raw)[0]
        assert Decimal(back) == value

    def test_huge_exponent_stays_compact(self) -> None:
        """A huge exponent is written in exponent form, not as a giant integer literal."""
        raw = dumps([Decimal("1E+5000")])
        assert len(raw) < 20
        assert loads(raw) == [Decimal("1E+5000")]

    def test_text_and_structure(self) -> None:
        """Strings, booleans, null, nesting and non-ASCII text are standard JSON."""
        body = {"a": 'Zoë "q" \\ \n', "b": [True, None, 3], "c": {"d": Decimal("-0.50")}}
        raw = dumps(body)
        assert json.loads(raw, parse_float=Decimal) == body
        assert b'"d":-0.50' in raw

    def test_non_string_keys_are_refused(self) -> None:
        """Object keys must be strings."""
        with pytest.raises(TypeError, match="keys"):
            dumps({1: "x"})


class TestConverterFactory:
    def test_converter_matches_functions(self) -> None:
        """make_converter() unstructures/structures exactly like to_wire/from_wire."""
        bill = Bill(vendor="EP001", amount=Decimal("1.10"), details=(BillDetail(qty=Decimal(2)),))
        converter = make_converter()
        assert converter.unstructure(bill) == to_wire(bill)
        assert converter.structure(to_wire(bill), Bill) == bill

    def test_global_converter_untouched(self) -> None:
        """The cattrs global converter is never configured by this package."""
        make_converter()
        to_wire(Bill(vendor="x"))
        assert cattrs.global_converter.unstructure(Bill(vendor="x"))["vendor"] == "x"

    def test_versioned_converter_checks_fields(self) -> None:
        """A converter built for 23.200.001 refuses BillDetail.LCType; one for 24 accepts it."""
        bill = Bill(details=(BillDetail(lc_type="LC"),))
        with pytest.raises(FieldNotInVersionError):
            make_converter(version="23.200.001").unstructure(bill)
        assert make_converter(version="24.200.001").unstructure(bill) == {
            "Details": [{"LCType": {"value": "LC"}}]
        }


class TestVersions:
    def test_lc_type_not_in_23(self) -> None:
        """BillDetail.lc_type set on 23.200.001 raises FieldNotInVersionError naming it."""
        bill = Bill(vendor="EP001", details=(BillDetail(account="6100"), BillDetail(lc_type="X")))
        with pytest.raises(FieldNotInVersionError) as info:
            to_wire(bill, version="23.200.001")
        assert (info.value.entity, info.value.field, info.value.version) == (
            "BillDetail",
            "LCType",
            "23.200.001",
        )
        assert isinstance(info.value, ValueError)
        assert to_wire(bill, version="24.200.001")["Details"][1] == {"LCType": {"value": "X"}}

    def test_unset_field_never_checked(self) -> None:
        """A field missing from the version is fine while it is UNSET."""
        body = to_wire(Bill(details=(BillDetail(account="6100"),)), version="23.200.001")
        assert body == {"Details": [{"Account": {"value": "6100"}}]}

    def test_none_counts_as_set(self) -> None:
        """Clearing a field (None) that the version lacks is also refused."""
        with pytest.raises(FieldNotInVersionError):
            to_wire(Bill(details=(BillDetail(lc_nbr=None),)), version="23.200.001")

    @pytest.mark.parametrize("version", ["24", "latest", "24.200", "../x"])
    def test_malformed_version(self, version: str) -> None:
        """A malformed endpoint version is a ValueError."""
        with pytest.raises(ValueError, match="malformed"):
            to_wire(Bill(), version=version)

    def test_unknown_well_formed_version_is_not_checked(self) -> None:
        """A version without a table (e.g. 25.200.001) is left to the server to judge."""
        assert to_wire(Bill(details=(BillDetail(lc_type="X"),)), version="25.200.001")


@pytest.mark.reference
class TestAgainstPublishedSchemas:
    @pytest.mark.parametrize("version", VERSIONS)
    @pytest.mark.parametrize("cls", SCHEMA_CLASSES, ids=lambda c: c.__name__)
    @settings(
        max_examples=25,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def test_version_check_agrees_with_schema(
        self, cls: type[AcumaticaEntity], version: str, data: st.DataObject
    ) -> None:
        """to_wire(version=…) raises exactly when the real schema lacks a set field, and
        otherwise produces a body the published schema validates."""
        entity = data.draw(entities(cls))
        schema = schema_type(cls)
        unchecked = to_wire(entity)
        missing = list(undeclared_keys(version, schema, unchecked))
        if missing:
            with pytest.raises(FieldNotInVersionError):
                to_wire(entity, version=version)
        else:
            body = to_wire(entity, version=version)
            assert body == unchecked
            validate_entity(version, schema, loads(dumps(body)))

    @pytest.mark.parametrize("version", VERSIONS)
    @pytest.mark.parametrize("cls", SCHEMA_CLASSES, ids=lambda c: c.__name__)
    @settings(
        max_examples=5,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def test_fully_populated_entity_is_valid(
        self, cls: type[AcumaticaEntity], version: str, data: st.DataObject
    ) -> None:
        """An entity with every field the version has set validates against its schema."""
        schema = schema_type(cls)
        entity = restrict(data.draw(entities(cls, full=True)), version, schema)
        body = to_wire(entity, version=version)
        assert len(body) >= 3
        validate_entity(version, schema, loads(dumps(body)))
        assert from_wire(cls, loads(dumps(body))) == entity

    @pytest.mark.parametrize("cls", SCHEMA_CLASSES, ids=lambda c: c.__name__)
    def test_every_wire_name_exists_in_some_version(self, cls: type[AcumaticaEntity]) -> None:
        """Each model field's wire name is a property of its schema type in 23 or 24."""
        known = set()
        for version in VERSIONS:
            known |= set(entity_properties(version, schema_type(cls)))
        for field in attrs.fields(cls):
            assert wire_name(field) in known, f"{cls.__name__}.{field.name}"


# ------------------------------------------------------------------ generated fast paths


def _cattrs_reference(version: str | None = None) -> cattrs.Converter:
    """The unstructuring the generated code replaced: cattrs' own generated function with
    the package's per-field hooks and ``omit_if_default`` (no version check)."""
    converter = cattrs.Converter()

    def factory(cls: Any) -> Any:
        overrides = {
            name: override(rename=wire, unstruct_hook=_unstruct_hook(kind, wire, converter))
            for name, (wire, kind) in _kinds(cls).items()
        }
        make: Any = make_dict_unstructure_fn
        return make(
            cls, converter, _cattrs_omit_if_default=True, _cattrs_use_alias=False, **overrides
        )

    converter.register_unstructure_hook_factory(_is_entity, factory)
    return converter


@attrs.frozen(kw_only=True)
class _Validated(AcumaticaEntity):
    """A model whose __init__ does more than store the fields (a validator)."""

    amount: models.OptDec = attrs.field(
        default=UNSET,
        metadata={"wire": "Amount"},
        validator=lambda _, __, value: _refuse_negative(value),
    )


def _refuse_negative(value: Any) -> None:
    if isinstance(value, Decimal) and value < 0:
        raise ValueError("negative")


class TestGeneratedFastPaths:
    @pytest.mark.parametrize("cls", ENTITY_CLASSES, ids=lambda c: c.__name__)
    @settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def test_request_body_is_byte_identical_to_the_cattrs_reference(
        self, cls: type[AcumaticaEntity], data: st.DataObject
    ) -> None:
        """The generated unstructuring gives the same dict, in the same key order (so the
        same bytes), as cattrs' generated function with the same hooks."""
        entity = data.draw(entities(cls))
        expected = _cattrs_reference().unstructure(entity)
        assert to_wire(entity) == expected
        assert dumps(to_wire(entity)) == dumps(expected)

    def test_the_version_check_runs_before_conversion(self) -> None:
        """A field the version lacks is refused before any field of that entity is
        converted (a float that would be refused too comes first in field order)."""
        line = BillDetail(qty=0.5, lc_type="LC")  # type: ignore[arg-type]
        with pytest.raises(FieldNotInVersionError, match="LCType"):
            to_wire(Bill(details=(line,)), version="23.200.001")
        with pytest.raises(TypeError, match="floats"):
            to_wire(Bill(details=(line,)), version="24.200.001")

    @pytest.mark.parametrize("cls", ENTITY_CLASSES, ids=lambda c: c.__name__)
    def test_every_model_is_read_by_filling_its_slots(self, cls: type[AcumaticaEntity]) -> None:
        """The fast reader's slot filling applies to every model (the guard holds)."""
        assert _plain_slotted(cls)

    def test_a_model_with_a_validator_is_read_through_init(self) -> None:
        """Slot filling would skip the validator; such a model goes through __init__."""
        assert not _plain_slotted(_Validated)
        assert from_wire(_Validated, {"Amount": {"value": Decimal("2.50")}}) == _Validated(
            amount=Decimal("2.50")
        )
        with pytest.raises(ValueError, match="negative"):
            from_wire(_Validated, {"Amount": {"value": Decimal("-1")}})

    @pytest.mark.parametrize("cls", ENTITY_CLASSES, ids=lambda c: c.__name__)
    @settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def test_slot_filling_reads_what_init_reads(
        self, cls: type[AcumaticaEntity], data: st.DataObject
    ) -> None:
        """Reading any body with slot filling equals reading it through ``__init__``
        (the detailed cattrs reader), absent fields included."""
        body = loads(dumps(to_wire(data.draw(entities(cls)))))
        fast = from_wire(cls, body)
        assert fast == make_converter().structure(body, cls)
        for field in attrs.fields(cls):
            if wire_name(field) not in body:
                assert getattr(fast, field.name) is UNSET


class TestLoads:
    @pytest.mark.parametrize(
        "raw",
        [
            b'{"a":1.50,"b":[1,2e3,"x"]}',
            '{"a":1.50}',
            b'\xef\xbb\xbf{"a":0.1}',  # UTF-8 with a BOM: json.loads accepts bytes so
            '{"a":"Zoë"}'.encode("utf-16"),
            '{"a":"Zoë"}'.encode("utf-32-le"),
        ],
    )
    def test_same_result_as_json_loads(self, raw: bytes | str) -> None:
        """The shared decoder reads exactly what ``json.loads(..., parse_float=Decimal)`` reads."""
        assert loads(raw) == json.loads(raw, parse_float=Decimal)

    @pytest.mark.parametrize("raw", ['\ufeff{"a":1}', b'{"a":', "", b"[1,]"])
    def test_same_errors_as_json_loads(self, raw: bytes | str) -> None:
        """Malformed input (and a BOM in text) is refused like ``json.loads`` refuses it."""
        with pytest.raises(json.JSONDecodeError) as expected:
            json.loads(raw, parse_float=Decimal)
        with pytest.raises(json.JSONDecodeError) as got:
            loads(raw)
        assert got.value.msg == expected.value.msg
        assert got.value.pos == expected.value.pos
