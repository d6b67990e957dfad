"""JSON on the wire for the emulator, independent of the client's converters.

Incoming numbers with a fraction or exponent parse as ``Decimal`` (money never becomes a
binary float); outgoing ``Decimal`` values are written as their exact number literal and
``datetime`` values as ISO 8601 strings. A ``float`` in an outgoing body is a bug in the
emulator and is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

__all__ = ["dumps", "loads"]


def loads(data: bytes | str) -> Any:
    """Parse a JSON body; fractional numbers become ``Decimal``."""
    return json.loads(data, parse_float=Decimal)


def dumps(body: Any) -> bytes:
    """UTF-8 JSON with exact ``Decimal`` number literals."""
    out: list[str] = []
    _encode(body, out)
    return "".join(out).encode("utf-8")


def _encode(value: Any, out: list[str]) -> None:
    if value is None or isinstance(value, bool | int | str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be written as JSON")
        out.append(str(value))
    elif isinstance(value, datetime):
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, float):
        raise TypeError("the emulator never writes binary floats; use Decimal")
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
        raise TypeError(f"cannot write {type(value).__name__} as JSON")
