"""Wire conversion: typed entities <-> Acumatica's ``{"value": …}`` JSON.

* Every scalar field travels as ``{"value": v}`` under its PascalCase wire name; linked
  entities (``ContactInfo``) as nested objects; detail collections (``Details``) as arrays
  of objects. ``id`` and ``rowNumber`` are bare, ``note`` is ``{"value": …}`` and
  ``custom`` is ``{"View": {"Field": {"type": "CustomStringField", "value": …}}}``.
* :data:`~acumatica_client.UNSET` fields are omitted ("leave unchanged"); ``None`` is sent
  as ``{"value": null}`` ("clear"). ``None`` in a linked entity, ``id`` or ``rowNumber``
  is refused (the schema has no null there; clear the fields instead); responses may
  still carry null, which reads as ``None``.
* ``Decimal`` stays ``Decimal`` in the dict; :func:`dumps` writes it as an exact JSON
  number (never through ``float``) and :func:`loads` reads numbers back as ``Decimal``.
* Date-times are ISO 8601 strings with their offset (``2024-01-15T09:30:00+01:00``); a
  naive ``datetime`` is refused rather than guessed. Date-only fields (typed ``date`` in
  the models: Bill ``Date``/``DueDate``, JournalTransaction ``TransactionDate``, …) are
  sent as midnight without an offset (``2024-01-15T00:00:00``), the way Acumatica's own
  client and examples send them, so no time zone can shift the day.
* Responses are read tolerantly: unknown keys are ignored, an absent field is ``UNSET``,
  ``{"value": null}`` and Acumatica's empty ``{}`` are ``None``.

The work is done by a :class:`cattrs.Converter` whose hooks come from one hook factory per
direction, selected by a predicate for entity classes (:func:`configure_converter`).
:func:`to_wire` and :func:`from_wire` use converters built by :func:`make_converter` and
memoised per endpoint version; nothing here is mutable module configuration.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
import types
import typing
from collections.abc import Callable, Hashable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, TypeVar, cast

import attrs
import cattrs
from cattrs.errors import IterableValidationError, IterableValidationNote
from cattrs.gen import make_dict_structure_fn, override

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

__all__ = [
    "configure_converter",
    "dumps",
    "from_wire",
    "loads",
    "make_converter",
    "schema_type",
    "to_wire",
]

E = TypeVar("E", bound=AcumaticaEntity)

_SCHEMA_NAMES: Mapping[type[AcumaticaEntity], str] = {
    ExpenseClaimDetail: "ExpenseClaimDetails",
    Branch: "CompaniesStructureDetail",
}
#: Members every entity object may carry whatever the version (``Entity`` in the schema).
_SYSTEM = frozenset({"id", "rowNumber", "note", "custom"})
_VERSION = re.compile(r"\d+\.\d+\.\d+")

# Typed loosely so the per-field overrides can be passed as ``**kwargs`` (mypy cannot
# tell them apart from the function's own ``_cattrs_*`` flags).
_make_structure_fn: Callable[..., Callable[[Any, Any], Any]] = make_dict_structure_fn


def schema_type(cls: type[AcumaticaEntity]) -> str:
    """The schema type name of a model class (``BillDetail``, ``ExpenseClaimDetails``…)."""
    return _SCHEMA_NAMES.get(cls, cls.__name__)


def _is_entity(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, AcumaticaEntity)


# --------------------------------------------------------------------------- scalars


def date_only(value: date) -> str:
    """A date-only value on the wire: ``2026-11-20T00:00:00`` (midnight, no UTC offset).

    Acumatica's contract-4 ``DateTimeValue`` carries document dates; its own client and
    examples send them without an offset, so the server never moves the day.
    """
    if isinstance(value, datetime):
        raise TypeError("date_only() takes a date; date-times keep their offset")
    return f"{value.isoformat()}T00:00:00"


_AS_IS = frozenset({str, Decimal, bool, int})


def _scalar_out(value: Any) -> Any:
    if type(value) in _AS_IS:
        return value
    if isinstance(value, datetime):
        offset = value.utcoffset()
        if offset is None:
            raise ValueError(f"naive datetime {value.isoformat()} has no time zone")
        if offset % timedelta(minutes=1):
            value = value.astimezone(UTC)  # ISO 8601 offsets have no seconds
        return value.isoformat()
    if isinstance(value, date):
        return date_only(value)
    if isinstance(value, float):
        raise TypeError("floats are not sent; use Decimal for money and quantities")
    return value


def _datetime_in(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 date-time string, got {value!r}")
    text = value.strip()
    parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _date_in(value: Any) -> date:
    if isinstance(value, str) and len(value.strip()) == 10:
        return date.fromisoformat(value.strip())
    return _datetime_in(value).date()


def _decimal_in(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise TypeError(f"expected a number, got {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(value)
        except ArithmeticError:
            raise ValueError(f"expected a number, got {value!r}") from None
    elif isinstance(value, float):
        result = Decimal(repr(value))  # the shortest repr, not the binary expansion
    else:
        raise TypeError(f"expected a number, got {value!r}")
    if not result.is_finite():
        raise ValueError(f"expected a finite number, got {value!r}")
    return result


def _int_in(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal | str):
        try:
            number = Decimal(value)
        except ArithmeticError:
            raise ValueError(f"expected an integer, got {value!r}") from None
        if not number.is_finite() or number != number.to_integral_value():
            raise ValueError(f"expected an integer, got {value!r}")
        return int(number)
    raise TypeError(f"expected an integer, got {value!r}")


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


_SCALAR_IN: Mapping[type, Callable[[Any], Any]] = {
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
    """How one model field travels: a wrapped scalar, a linked entity, details, …"""

    tag: str  # "scalar" | "entity" | "details" | "custom" | "system"
    target: Any = None


def _strip_optional(tp: Any) -> Any:
    """``X | UnsetType | None`` -> ``X``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a not in (type(None), UnsetType)]
        if len(args) == 1:
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
            result[field.name] = (wire, _Kind("system", str if wire == "id" else int))
        elif wire == "custom":
            result[field.name] = (wire, _Kind("custom"))
        elif typing.get_origin(tp) is tuple:
            result[field.name] = (wire, _Kind("details", typing.get_args(tp)[0]))
        elif _is_entity(tp):
            result[field.name] = (wire, _Kind("entity", tp))
        elif tp in _SCALAR_IN:
            result[field.name] = (wire, _Kind("scalar", tp))
        else:
            raise TypeError(f"{cls.__name__}.{field.name}: unsupported type {tp!r}")
    return result


# --------------------------------------------------------------------------- hooks


def _unwrap(raw: Any) -> Any:
    """A wire field's value: ``{"value": v}`` -> v; ``{}`` or null -> None; bare v -> v."""
    if isinstance(raw, Mapping):
        return raw.get("value")
    return raw


def _custom_out(value: Mapping[str, Mapping[str, CustomField]]) -> dict[str, Any]:
    return {
        view: {
            name: {"type": field.type, "value": _scalar_out(field.value)}
            for name, field in fields.items()
        }
        for view, fields in value.items()
    }


def _custom_in(raw: Any, _: Any = None) -> Mapping[str, Mapping[str, CustomField]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise TypeError(f"expected an object of views, got {type(raw).__name__}")
    views: dict[str, dict[str, CustomField]] = {}
    for view, fields in raw.items():
        if not isinstance(fields, Mapping):
            continue
        views[str(view)] = {
            str(name): CustomField(
                type=str(spec.get("type", spec.get("Type", ""))), value=spec.get("value")
            )
            for name, spec in fields.items()
            if isinstance(spec, Mapping)
        }
    return views


def _unstruct_hook(kind: _Kind, wire: str, converter: cattrs.Converter) -> Callable[[Any], Any]:
    if kind.tag == "system":

        def bare(value: Any) -> Any:
            if value is None:
                raise ValueError(f"{wire} cannot be sent as null; leave it UNSET")
            return value

        return bare
    if kind.tag == "custom":
        return _custom_out
    if kind.tag == "details":
        return _rows_out(kind.target, converter)
    if kind.tag == "entity":
        target = kind.target

        def linked(value: Any) -> Any:
            if value is None:
                raise ValueError(
                    f"{wire}: a linked entity cannot be sent as null; leave it UNSET or "
                    "set its fields to None to clear them"
                )
            return converter.unstructure(value, unstructure_as=target)

        return linked

    def wrap(value: Any) -> dict[str, Any]:
        if type(value) in _AS_IS:
            return {"value": value}
        return {"value": None if value is None else _scalar_out(value)}

    return wrap


def _struct_hook(
    kind: _Kind, converter: cattrs.Converter, detailed: bool = True
) -> Callable[[Any, Any], Any]:
    if kind.tag == "system":
        read = _SCALAR_IN[kind.target]
        return lambda raw, _: None if raw is None else read(raw)
    if kind.tag == "custom":
        return _custom_in
    if kind.tag == "details":
        row_type = kind.target
        if not detailed:
            hooks: list[Callable[[Any, Any], Any]] = []  # resolved on first use

            def fast_details(raw: Any, tp: Any) -> tuple[Any, ...]:
                if raw is None:
                    return ()
                if type(raw) is not list and not isinstance(raw, tuple):
                    raise TypeError(f"expected an array of {row_type.__name__}")
                if not hooks:
                    hooks.append(converter.get_structure_hook(row_type))
                hook = hooks[0]
                return tuple([hook(row, row_type) for row in raw])

            return fast_details

        def details(raw: Any, tp: Any) -> tuple[Any, ...]:
            if raw is None:
                return ()
            if not isinstance(raw, list | tuple):
                raise TypeError(f"expected an array of {row_type.__name__}, got {raw!r:.60}")
            rows: list[Any] = []
            failures: list[Exception] = []
            for index, row in enumerate(raw):
                try:
                    rows.append(converter.structure(row, row_type))
                except Exception as exc:  # collected into the group raised below
                    exc.__notes__ = [
                        *getattr(exc, "__notes__", []),
                        IterableValidationNote(f"Structuring row @ index {index}", index, tp),
                    ]
                    failures.append(exc)
            if failures:
                raise IterableValidationError(f"invalid {row_type.__name__} rows", failures, tp)
            return tuple(rows)

        return details
    if kind.tag == "entity":
        target = kind.target
        return lambda raw, _: None if raw is None else converter.structure(raw, target)
    read = _SCALAR_IN[kind.target]
    exact: Any = kind.target  # a value already of this exact type needs no conversion

    def scalar(raw: Any, _: Any) -> Any:
        value: Any = raw.get("value") if type(raw) is dict else _unwrap(raw)
        if value is None:
            return None
        if type(value) is exact and (exact is not Decimal or value.is_finite()):
            return value
        return read(value)

    return scalar


def _allowed_fields(cls: type[AcumaticaEntity], version: str | None) -> frozenset[str] | None:
    """Wire fields of ``cls`` in ``version``, or None when there is nothing to check."""
    if version is None or version not in ENTITY_FIELDS:
        return None  # a version we have no table for: the server is the judge
    fields = ENTITY_FIELDS[version].get(schema_type(cls))
    return None if fields is None else frozenset(fields) | _SYSTEM


def configure_converter(
    converter: cattrs.Converter, *, version: str | None = None, detailed: bool = True
) -> None:
    """Register the entity hook factories on ``converter``.

    ``unstructure(entity)`` gives the request body (UNSET omitted, None as null);
    ``structure(data, cls)`` reads a response tolerantly. With ``version``, unstructuring
    an entity that sets a field the version's schema lacks raises
    :class:`FieldNotInVersionError`. ``detailed=False`` builds faster structuring code
    whose errors do not list every path (:func:`from_wire` uses it first and repeats a
    failed read with the detailed converter for the message).
    """

    def unstructure_factory(cls: Any) -> Callable[[Any], dict[str, Any]]:
        allowed = _allowed_fields(cls, version)
        absent: tuple[tuple[str, str], ...] = ()
        if allowed is not None and version is not None:
            absent = tuple(
                (name, wire) for name, (wire, _) in _kinds(cls).items() if wire not in allowed
            )
        return _fast_unstructure_fn(cls, converter, absent, version)

    def structure_factory(cls: Any) -> Callable[[Any, Any], Any]:
        if not detailed:
            return _fast_structure_fn(cls, converter)
        overrides = {
            name: override(rename=wire, struct_hook=_struct_hook(kind, converter, detailed))
            for name, (wire, kind) in _kinds(cls).items()
        }
        build = _make_structure_fn(
            cls,
            converter,
            _cattrs_forbid_extra_keys=False,
            _cattrs_detailed_validation=detailed,
            _cattrs_use_alias=False,
            **overrides,
        )

        def structure(data: Any, target: Any) -> Any:
            if type(data) is not dict and not isinstance(data, Mapping):
                raise TypeError(f"expected a JSON object for {cls.__name__}, got {data!r:.60}")
            return build(data, target)

        return structure

    converter.register_unstructure_hook_factory(_is_entity, unstructure_factory)
    converter.register_structure_hook_factory(_is_entity, structure_factory)


def _fast_unstructure_fn(
    cls: Any,
    converter: cattrs.Converter,
    absent: tuple[tuple[str, str], ...],
    version: str | None,
) -> Callable[[Any], dict[str, Any]]:
    """Straight-line unstructuring code for ``cls`` (the request body of one entity).

    Same dict, in the same key order, as a cattrs ``make_dict_unstructure_fn`` with the
    per-field hooks of :func:`_unstruct_hook` and ``omit_if_default`` (UNSET omitted),
    but a plain scalar is wrapped inline and UNSET is tested by identity (``!=`` against
    the sentinel goes through each value type's rich comparison). ``absent`` lists the
    fields the pinned ``version`` lacks: setting one raises
    :class:`FieldNotInVersionError` before anything is converted. The generated source
    only names the model's own attributes and wire names (class definitions, never data).
    """
    namespace: dict[str, Any] = {
        "UNSET": UNSET,
        "AS_IS": _AS_IS,
        "FieldNotInVersionError": FieldNotInVersionError,
        "schema": schema_type(cls),
        "version": version,
    }
    lines = ["def unstructure(instance):"]
    for name, wire in absent:
        lines += [
            f"    if instance.{name} is not UNSET:",
            f"        raise FieldNotInVersionError(schema, {wire!r}, version)",
        ]
    lines.append("    res = {}")
    for index, (name, (wire, kind)) in enumerate(_kinds(cls).items()):
        hook = f"h{index}"
        lines += [f"    v = instance.{name}", "    if v is not UNSET:"]
        namespace[hook] = _unstruct_hook(kind, wire, converter)
        if kind.tag == "scalar":  # the common case, wrapped inline
            wrapped = f"{{'value': v}} if type(v) in AS_IS else {hook}(v)"
            lines.append(f"        res[{wire!r}] = {wrapped}")
        else:
            lines.append(f"        res[{wire!r}] = {hook}(v)")
    lines.append("    return res")
    exec(compile("\n".join(lines), f"<acumatica_client unstructure {cls.__name__}>", "exec"),  # noqa: S102
         namespace)  # fmt: skip
    result: Callable[[Any], dict[str, Any]] = namespace["unstructure"]
    return result


def _rows_out(row_type: Any, converter: cattrs.Converter) -> Callable[[Any], list[Any]]:
    """A detail collection's rows as a list of objects (the row hook resolved on first use)."""
    hooks: list[Callable[[Any], Any]] = []

    def rows_out(rows: Any) -> list[Any]:
        if not hooks:
            hooks.append(converter.get_unstructure_hook(row_type))
        hook = hooks[0]
        return [hook(row) for row in rows]

    return rows_out


def _plain_slotted(cls: Any) -> bool:
    """Whether ``cls``'s ``__init__`` only stores each field in its slot.

    True for an attrs-generated ``__init__`` of a slotted class whose slots are exactly
    its fields (no cached hash) and that has no validator, converter, factory default
    or pre/post-init hook: filling the slots directly then builds the same instance.
    """
    init = getattr(cls.__init__, "__code__", None)
    if init is None or not init.co_filename.startswith("<attrs generated"):
        return False
    if hasattr(cls, "__attrs_pre_init__") or hasattr(cls, "__attrs_post_init__"):
        return False
    fields = attrs.fields(cls)
    slots = {
        name
        for klass in cls.__mro__
        for name in klass.__dict__.get("__slots__", ())
        if name != "__weakref__"
    }
    return slots == {field.name for field in fields} and all(
        field.init
        and field.validator is None
        and field.converter is None
        and not isinstance(field.default, attrs.Factory)  # type: ignore[arg-type]
        and isinstance(getattr(cls, field.name, None), types.MemberDescriptorType)
        for field in fields
    )


def _fast_structure_fn(cls: Any, converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """Straight-line structuring code for ``cls`` with the scalar reads inlined.

    Same result as the cattrs-generated function for a well-formed answer, without one
    hook call per field; any error is left to :func:`from_wire`, which repeats the read
    with the detailed converter. For a plain slotted model (:func:`_plain_slotted`, every
    model here) the values go straight into the instance's slots, absent fields getting
    their defaults, instead of through a keyword dict and ``__init__``. The generated
    source only names the model's own attributes and wire names (class definitions,
    never data).
    """
    fields = {field.name: field for field in attrs.fields(cls)}
    direct = _plain_slotted(cls)
    namespace: dict[str, Any] = {
        "Mapping": Mapping, "cls": cls, "unwrap": _unwrap, "new": object.__new__,
    }  # fmt: skip
    lines = [
        "def structure(o, _=None):",
        "    if type(o) is not dict and not isinstance(o, Mapping):",
        "        raise TypeError('expected a JSON object')",
        "    self = new(cls)" if direct else "    kw = {}",
    ]
    for index, (name, (wire, kind)) in enumerate(_kinds(cls).items()):
        key = repr(wire)
        if direct:
            namespace[f"s{index}"] = getattr(cls, name).__set__
            namespace[f"d{index}"] = fields[name].default
            store = f"s{index}(self, {{}})"
        else:
            store = f"kw[{fields[name].alias!r}] = {{}}"
        lines.append(f"    if {key} in o:")
        if kind.tag == "scalar":
            namespace[f"t{index}"] = kind.target
            namespace[f"read{index}"] = _SCALAR_IN[kind.target]
            exact = f"type(v) is t{index}"
            if kind.target is Decimal:
                exact += " and v.is_finite()"
            lines += [
                f"        r = o[{key}]",
                "        v = r.get('value') if type(r) is dict else unwrap(r)",
                "        " + store.format(f"v if v is None or ({exact}) else read{index}(v)"),
            ]
        elif kind.tag == "system":
            namespace[f"t{index}"] = kind.target
            namespace[f"read{index}"] = _SCALAR_IN[kind.target]
            lines += [
                f"        v = o[{key}]",
                "        "
                + store.format(f"v if v is None or type(v) is t{index} else read{index}(v)"),
            ]
        else:
            namespace[f"h{index}"] = _struct_hook(kind, converter, False)
            lines.append("        " + store.format(f"h{index}(o[{key}], None)"))
        if direct:
            lines += ["    else:", f"        s{index}(self, d{index})"]
    lines.append("    return self" if direct else "    return cls(**kw)")
    exec(compile("\n".join(lines), f"<acumatica_client structure {cls.__name__}>", "exec"),  # noqa: S102
         namespace)  # fmt: skip
    result: Callable[[Any, Any], Any] = namespace["structure"]
    return result


def make_converter(*, version: str | None = None, detailed: bool = True) -> cattrs.Converter:
    """A new :class:`cattrs.Converter` configured by :func:`configure_converter`."""
    converter = cattrs.Converter(detailed_validation=detailed)
    configure_converter(converter, version=version, detailed=detailed)
    return converter


@functools.lru_cache(maxsize=8)
def _converter(version: str | None, detailed: bool = True) -> cattrs.Converter:
    """The converter for ``version``, built once (its hooks never change afterwards)."""
    return make_converter(version=version, detailed=detailed)


# --------------------------------------------------------------------------- public


def to_wire(entity: AcumaticaEntity, *, version: str | None = None) -> dict[str, Any]:
    """The request body for ``entity``: wrapped values, UNSET omitted, None as null.

    With ``version`` (an endpoint version such as ``"24.200.001"``), a set field that the
    version's schema does not have raises :class:`FieldNotInVersionError` before any
    request is made. Raises ``ValueError`` for a naive ``datetime`` and for ``None`` in a
    linked entity, ``id`` or ``rowNumber``.
    """
    if not isinstance(entity, AcumaticaEntity):
        raise TypeError(f"expected an Acumatica entity, got {type(entity).__name__}")
    if version is not None and version not in KNOWN_VERSIONS and not _VERSION.fullmatch(version):
        raise ValueError(f"malformed endpoint version {version!r}")
    result: dict[str, Any] = _converter(version).unstructure(entity)
    return result


def _describe(exc: BaseException, tp: Any) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    return str(exc) or type(exc).__name__


def from_wire(cls: type[E], data: Mapping[str, Any]) -> E:
    """Read an entity of type ``cls`` from its wire JSON (tolerant of unknown keys).

    Raises ``ValueError`` listing every bad value with its path (the cattrs
    ``ClassValidationError`` is the ``__cause__``). A well-formed answer is read by the
    fast converter; only a failing one is read again by the detailed one.
    """
    try:  # not contextlib.suppress: one context manager per read costs on the hot path
        return _converter(None, False).structure(data, cls)
    except Exception:  # noqa: S110 - read again below for the detailed message
        pass
    try:
        return _converter(None).structure(data, cls)
    except cattrs.BaseValidationError as exc:
        problems = "; ".join(
            cattrs.transform_error(exc, path=cls.__name__, format_exception=_describe)
        )
        raise ValueError(f"cannot read {cls.__name__}: {problems}") from exc
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise ValueError(f"cannot read {cls.__name__}: {exc}") from exc


# --------------------------------------------------------------------------- JSON


def _number(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"cannot send the non-finite number {value}")
    text = format(value, "f")
    # A huge exponent written out in full would be an enormous integer literal; the
    # scientific form is just as exact and still a JSON number.
    return text if len(text) <= 64 else str(value)


def _encode(value: Any, out: list[str]) -> None:
    """The reference encoder (pure Python): used when the fast path cannot be trusted."""
    if isinstance(value, Decimal):
        out.append(_number(value))
    elif value is None or isinstance(value, bool | int | str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, float):
        raise TypeError("floats are not sent; use Decimal for money and quantities")
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, got {key!r}")
            if index:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
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


def _plain_tree(value: Any) -> bool:
    """Whether ``value`` is built only of dict/list/tuple/str/int/bool/None/Decimal.

    Raises ``TypeError`` on a float (money never travels through binary floats) and
    returns ``False`` for anything else (subclasses, other mappings, …), which the
    reference encoder then judges.
    """
    stack = [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict:
            for key in item:
                if type(key) is not str:
                    return False
            extend(item.values())
        elif kind is list or kind is tuple:
            extend(item)
        elif kind is float:
            raise TypeError("floats are not sent; use Decimal for money and quantities")
        elif kind is str or kind is int or kind is bool or item is None or kind is Decimal:
            continue
        else:
            return False
    return True


def dumps(body: Any) -> bytes:
    """UTF-8 JSON for a request body; ``Decimal`` is written as its exact number literal.

    A ``float`` anywhere in the body is refused: money never travels through binary floats.
    The document is encoded by the C JSON encoder: each ``Decimal`` is first written as
    a placeholder string (random per process) and then replaced by its exact literal; if
    the data contains the placeholder (it never does in practice), the pure Python
    reference encoder is used instead. Both give the same bytes.
    """
    if not _plain_tree(body):
        out: list[str] = []
        _encode(body, out)
        return "".join(out).encode("utf-8")
    return _dumps_plain(body)


#: The placeholder a ``Decimal`` is first written as (random per process, so data cannot
#: be made to contain it on purpose; exactness never depends on that: see ``_dumps_plain``).
_MARKER: Final = "\x00" + secrets.token_hex(8)
_QUOTED_MARKER: Final = json.dumps(_MARKER)


def _dumps_plain(body: Any) -> bytes:
    """:func:`dumps` of a body known to hold only JSON types and ``Decimal`` (no float).

    :func:`to_wire` output is such a body by construction (its scalar hook refuses
    floats), so the client encodes it without walking it first. Each ``Decimal`` is
    written as the quoted placeholder and replaced afterwards by its exact literal. The
    output has exactly one placeholder per ``Decimal`` unless the data itself contains
    it; then the counts differ and the reference encoder is used instead, so the bytes
    are always those of :func:`_encode`.
    """
    numbers: list[str] = []
    add = numbers.append

    def default(value: Any) -> Any:
        if type(value) is Decimal:
            add(_number(value))
            return _MARKER
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")  # pragma: no cover

    encoder = json.JSONEncoder(
        ensure_ascii=False, separators=(",", ":"), check_circular=False, default=default
    )
    text = encoder.encode(body)
    if not numbers:
        return text.encode("utf-8")
    pieces = text.split(_QUOTED_MARKER)
    if len(pieces) != len(numbers) + 1:  # the data contained the marker: be exact instead
        out: list[str] = []
        _encode(body, out)
        return "".join(out).encode("utf-8")
    numbers.append("")
    return "".join([part for pair in zip(pieces, numbers, strict=True) for part in pair]).encode(
        "utf-8"
    )


#: Stateless between calls (like the decoder ``json.loads`` shares), so built once.
_DECODER: Final = json.JSONDecoder(parse_float=Decimal)


def loads(data: bytes | str) -> Any:
    """Parse a response body; JSON numbers with a fraction or exponent become ``Decimal``.

    Same result and errors as ``json.loads(data, parse_float=Decimal)`` without building
    a decoder per call.
    """
    if isinstance(data, str):
        if data.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", data, 0)
    else:
        data = data.decode(json.detect_encoding(data), "surrogatepass")
    return _DECODER.decode(data)
