"""Wire conversion: typed entities <-> Acumatica's ``{"value": …}`` JSON.

* Every scalar field travels as ``{"value": v}``; linked entities (``ContactInfo``) as
  nested objects; detail collections (``Details``) as arrays of objects.
* :data:`~acumatica_client.UNSET` fields are omitted ("leave unchanged"); ``None`` is sent
  as ``{"value": null}`` ("clear").
* ``Decimal`` stays ``Decimal`` in the dict; :func:`dumps` writes it as an exact JSON
  number (never through ``float``) and :func:`loads` reads numbers back as ``Decimal``.
* Dates and date-times are ISO 8601 strings with an offset (``2024-01-15T00:00:00+00:00``);
  a naive ``datetime`` is refused rather than guessed.
* Responses are read tolerantly: unknown keys are ignored, an absent field is ``UNSET``,
  ``{"value": null}`` and Acumatica's empty ``{}`` are ``None``.

The cattrs converter is built once per call site by :func:`make_converter`; nothing here
is mutable module state.
"""

from __future__ import annotations

import functools
import json
import re
import types
import typing
from collections.abc import Hashable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar, cast

import attrs
import cattrs

from ._exceptions import FieldNotInVersionError
from ._models import (
    UNSET,
    AcumaticaEntity,
    Branch,
    CustomField,
    ExpenseClaimDetail,
    UnsetType,
    wire_name,
)
from ._schema import ENTITY_FIELDS, KNOWN_VERSIONS

__all__ = ["dumps", "from_wire", "loads", "make_converter", "schema_type", "to_wire"]

E = TypeVar("E", bound=AcumaticaEntity)

_SCHEMA_NAMES: Mapping[type[AcumaticaEntity], str] = {
    ExpenseClaimDetail: "ExpenseClaimDetails",
    Branch: "CompaniesStructureDetail",
}
_SYSTEM = frozenset({"id", "rowNumber", "note", "custom"})
_VERSION = re.compile(r"\d+\.\d+\.\d+")


def schema_type(cls: type[AcumaticaEntity]) -> str:
    """The schema type name of a model class (``BillDetail``, ``ExpenseClaimDetails``…)."""
    return _SCHEMA_NAMES.get(cls, cls.__name__)


# --------------------------------------------------------------------------- scalars


def _date_out(value: date) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} has no time zone")
        return value.isoformat()
    return datetime(value.year, value.month, value.day, tzinfo=UTC).isoformat()


def _datetime_in(value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    else:
        raise TypeError(f"expected an ISO 8601 date-time string, got {value!r}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _date_in(value: Any) -> date:
    if isinstance(value, str) and len(value) == 10:
        return date.fromisoformat(value)
    return _datetime_in(value).date()


def _decimal_in(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise TypeError(f"expected a number, got {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | str):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    raise TypeError(f"expected a number, got {value!r}")


def _int_in(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(f"expected an integer, got {value!r}")
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise TypeError(f"expected an integer, got {value}")
        return int(value)
    return int(value)


def _bool_in(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise TypeError(f"expected a boolean, got {value!r}")


def _str_in(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {value!r}")


_SCALAR_IN: Mapping[type, Any] = {
    str: _str_in,
    Decimal: _decimal_in,
    int: _int_in,
    bool: _bool_in,
    datetime: _datetime_in,
    date: _date_in,
}


# --------------------------------------------------------------------------- field kinds


@attrs.frozen
class _Kind:
    """How one model field travels: a wrapped scalar, a linked entity, or details."""

    tag: str  # "scalar" | "entity" | "details" | "custom" | "system"
    target: Any = None


def _strip_optional(tp: Any) -> Any:
    args = [a for a in typing.get_args(tp) if a not in (type(None), UnsetType)]
    literal_unset = [a for a in typing.get_args(tp) if typing.get_origin(a) is typing.Literal]
    args = [a for a in args if a not in literal_unset]
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return tp


def _kinds(cls: type[Any]) -> Mapping[str, tuple[str, _Kind]]:
    """attribute name -> (wire name, kind), from the resolved attrs types (memoised)."""
    return _kinds_of(cast("Hashable", cls))


@functools.cache
def _kinds_of(cls: Any) -> Mapping[str, tuple[str, _Kind]]:
    hints = typing.get_type_hints(cls)
    result: dict[str, tuple[str, _Kind]] = {}
    for field in attrs.fields(cls):
        wire = wire_name(field)
        tp = _strip_optional(hints[field.name])
        if wire in ("id", "rowNumber"):
            result[field.name] = (wire, _Kind("system", _SCALAR_IN[str if wire == "id" else int]))
        elif wire == "custom":
            result[field.name] = (wire, _Kind("custom"))
        elif typing.get_origin(tp) is tuple:
            result[field.name] = (wire, _Kind("details", typing.get_args(tp)[0]))
        elif isinstance(tp, type) and issubclass(tp, AcumaticaEntity):
            result[field.name] = (wire, _Kind("entity", tp))
        elif tp in _SCALAR_IN:
            result[field.name] = (wire, _Kind("scalar", tp))
        else:
            raise TypeError(f"{cls.__name__}.{field.name}: unsupported type {tp!r}")
    return result


# --------------------------------------------------------------------------- out


def _scalar_out(value: Any) -> Any:
    if isinstance(value, date):
        return _date_out(value)
    return value


def _check_version(cls: type[AcumaticaEntity], wire: str, version: str | None) -> None:
    if version is None or wire in _SYSTEM:
        return
    if version not in ENTITY_FIELDS:
        return  # a version we have no table for: the server is the judge
    fields = ENTITY_FIELDS[version].get(schema_type(cls))
    if fields is not None and wire not in fields:
        raise FieldNotInVersionError(schema_type(cls), wire, version)


def _out(entity: AcumaticaEntity, version: str | None) -> dict[str, Any]:
    cls = type(entity)
    body: dict[str, Any] = {}
    for name, (wire, kind) in _kinds(cls).items():
        value = getattr(entity, name)
        if value is UNSET:
            continue
        _check_version(cls, wire, version)
        if kind.tag == "system":
            body[wire] = value
        elif kind.tag == "custom":
            body[wire] = {
                view: {
                    field: {"type": custom.type, "value": _scalar_out(custom.value)}
                    for field, custom in fields.items()
                }
                for view, fields in value.items()
            }
        elif kind.tag == "details":
            body[wire] = [_out(row, version) for row in value]
        elif kind.tag == "entity":
            body[wire] = None if value is None else _out(value, version)
        else:
            body[wire] = {"value": None if value is None else _scalar_out(value)}
    return body


def to_wire(entity: AcumaticaEntity, *, version: str | None = None) -> dict[str, Any]:
    """The request body for ``entity``: wrapped values, UNSET omitted, None as null.

    With ``version`` (an endpoint version such as ``"24.200.001"``), a set field that the
    version's schema does not have raises :class:`FieldNotInVersionError` before any
    request is made.
    """
    if version is not None and version not in KNOWN_VERSIONS and not _VERSION.fullmatch(version):
        raise ValueError(f"malformed endpoint version {version!r}")
    return _out(entity, version)


# --------------------------------------------------------------------------- in


def _unwrap(value: Any) -> Any:
    """A wire field's value: ``{"value": v}`` -> v; ``{}`` or null -> None."""
    if isinstance(value, Mapping):
        return value.get("value")
    return value


def _in(cls: type[E], data: Mapping[str, Any], path: str) -> E:
    if not isinstance(data, Mapping):
        raise TypeError(f"{path}: expected an object, got {type(data).__name__}")
    kwargs: dict[str, Any] = {}
    for name, (wire, kind) in _kinds(cls).items():
        if wire not in data:
            continue
        raw = data[wire]
        where = f"{path}.{wire}" if path else wire
        try:
            if kind.tag == "system":
                kwargs[name] = None if raw is None else kind.target(raw)
            elif kind.tag == "custom":
                kwargs[name] = _custom_in(raw)
            elif kind.tag == "details":
                rows = raw or []
                kwargs[name] = tuple(
                    _in(kind.target, row, f"{where}[{i}]") for i, row in enumerate(rows)
                )
            elif kind.tag == "entity":
                kwargs[name] = None if raw is None else _in(kind.target, raw, where)
            else:
                value = _unwrap(raw)
                kwargs[name] = None if value is None else _SCALAR_IN[kind.target](value)
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise ValueError(f"{where}: {exc}") from exc
    return cls(**kwargs)


def _custom_in(raw: Any) -> Mapping[str, Mapping[str, CustomField]]:
    views: dict[str, dict[str, CustomField]] = {}
    for view, fields in (raw or {}).items():
        views[view] = {
            field: CustomField(
                type=str(spec.get("type", spec.get("Type", ""))), value=spec.get("value")
            )
            for field, spec in (fields or {}).items()
            if isinstance(spec, Mapping)
        }
    return views


def from_wire(cls: type[E], data: Mapping[str, Any]) -> E:
    """Read an entity from its wire JSON (tolerant of unknown keys).

    Raises ``ValueError`` naming the field path when a value has the wrong type.
    """
    return _in(cls, data, "")


def make_converter() -> cattrs.Converter:
    """A cattrs converter with hooks for every entity class (``unstructure``/``structure``).

    ``converter.unstructure(entity)`` equals :func:`to_wire` without a version check;
    ``converter.structure(data, Bill)`` equals :func:`from_wire`.
    """
    converter = cattrs.Converter()
    converter.register_unstructure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, AcumaticaEntity),
        lambda entity: _out(entity, None),
    )
    converter.register_structure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, AcumaticaEntity),
        lambda data, cls: _in(cls, data, ""),
    )
    return converter


# --------------------------------------------------------------------------- JSON


def _encode(value: Any, out: list[str]) -> None:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send the non-finite number {value}")
        out.append(format(value, "f"))
    elif value is None or isinstance(value, bool | int | str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, float):
        raise TypeError("floats are not sent; use Decimal for money and quantities")
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(body: Any) -> bytes:
    """JSON for a request body; ``Decimal`` is written as its exact number literal.

    A ``float`` anywhere in the body is refused: money never travels through binary floats.
    """
    out: list[str] = []
    _encode(body, out)
    return "".join(out).encode("utf-8")


def loads(data: bytes | str) -> Any:
    """Parse a response body; JSON numbers with a fraction become ``Decimal``."""
    return json.loads(data, parse_float=Decimal)
