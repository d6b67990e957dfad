"""State of one emulated tenant: records, numbering, tokens, sessions, clock.

Records are stored as plain dicts keyed by wire field names with unwrapped values
(``{"VendorRef": "EXB-1", "Details": [{...}], "id": "…"}``). Wire parsing, strict
validation and the per-entity business rules (references, balancing, numbering, status)
live here; HTTP concerns live in ``_handlers``.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs

from .._schema import ACTIONS, ENTITY_FIELDS, KEY_FIELDS
from ._errors import EmulatorError

__all__ = ["KEYS", "Backend", "Grant"]

KEYS = KEY_FIELDS  # the shared data contract: the schema table's key fields
_NUMBERED = {"Bill": "ReferenceNbr", "JournalTransaction": "BatchNbr", "ExpenseClaim": "RefNbr"}
_SYSTEM_IN = {"id", "rowNumber", "note", "custom", "delete", "_links", "files"}
_SCALARS = {
    "StringValue", "DecimalValue", "BooleanValue", "IntValue", "ShortValue", "LongValue",
    "DateTimeValue", "GuidValue", "ByteValue", "DoubleValue",
}  # fmt: skip


@attrs.define
class Grant:
    """An OAuth grant: the user, its current access token and refresh token."""

    user: str
    access_token: str
    refresh_token: str | None
    expires_at: datetime


def _now() -> datetime:
    return datetime.now(UTC)


class Backend:
    """One tenant serving one endpoint version. Thread-safe through ``lock``."""

    def __init__(
        self,
        *,
        version: str,
        clock: Callable[[], datetime] | None = None,
        reject_duplicate_vendor_ref: bool = False,
        hold_on_entry: bool = True,
        action_polls: int = 1,
        base_currency: str = "USD",
    ) -> None:
        if version not in ENTITY_FIELDS:
            raise ValueError(f"the emulator has no schema table for {version}")
        self.version = version
        self.fields = ENTITY_FIELDS[version]
        self.clock = clock or _now
        self.reject_duplicate_vendor_ref = reject_duplicate_vendor_ref
        self.hold_on_entry = hold_on_entry
        self.action_polls = action_polls
        self.base_currency = base_currency
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget every record, token, session and running action."""
        with self.lock:
            self.records: dict[str, list[dict[str, Any]]] = {name: [] for name in KEYS}
            self.counters: dict[str, int] = {}
            self.grants: dict[str, Grant] = {}
            self.sessions: dict[str, str] = {}  # cookie value -> user
            self.actions: dict[str, list[Any]] = {}  # status id -> [polls left, apply]

    # ------------------------------------------------------------------ parsing

    def parse(self, schema_type: str, body: Any, path: str = "") -> dict[str, Any]:
        """Strictly parse a wire object of ``schema_type`` into a plain record.

        Raises a 400 ``The request is invalid.`` listing every malformed member:
        unknown fields (for this endpoint version), unwrapped values, wrong value types.
        """
        problems: dict[str, list[str]] = {}
        record = self._parse(schema_type, body, path, problems)
        if problems:
            raise EmulatorError.invalid(problems)
        return record

    def _parse(
        self, schema_type: str, body: Any, path: str, problems: dict[str, list[str]]
    ) -> dict[str, Any]:
        where = path or schema_type
        if not isinstance(body, Mapping):
            problems.setdefault(where, []).append("An object was expected.")
            return {}
        fields = self.fields.get(schema_type, {})
        record: dict[str, Any] = {}
        for key, raw in body.items():
            at = f"{path}.{key}" if path else key
            if key in _SYSTEM_IN:
                if key == "id":
                    if not isinstance(raw, str):
                        problems.setdefault(at, []).append("id must be a GUID string.")
                    else:
                        record["id"] = raw
                elif key == "note":
                    record["note"] = raw.get("value") if isinstance(raw, Mapping) else raw
                elif key == "custom":
                    record["custom"] = raw
                elif key == "delete":
                    record["delete"] = raw is True
                continue
            kind = fields.get(key)
            if kind is None:
                problems.setdefault(at, []).append(
                    f"'{key}' is not a field of {schema_type} in Default/{self.version}."
                )
                continue
            if kind.endswith("[]"):
                if not isinstance(raw, list):
                    problems.setdefault(at, []).append("An array was expected.")
                    continue
                record[key] = [
                    self._parse(kind[:-2], row, f"{at}[{i}]", problems) for i, row in enumerate(raw)
                ]
            elif kind not in _SCALARS:
                record[key] = None if raw is None else self._parse(kind, raw, at, problems)
            else:
                if not isinstance(raw, Mapping) or "value" not in raw:
                    problems.setdefault(at, []).append(
                        f"The value of '{key}' must be wrapped as {{\"value\": …}}."
                    )
                    continue
                try:
                    record[key] = _scalar(kind, raw["value"])
                except (TypeError, ValueError) as exc:
                    problems.setdefault(at, []).append(str(exc))
        return record

    # ------------------------------------------------------------------ rendering

    def render(
        self,
        schema_type: str,
        record: Mapping[str, Any],
        *,
        expand: Iterable[str] = (),
        select: Iterable[str] = (),
        row_number: int | None = None,
    ) -> dict[str, Any]:
        """A stored record as wire JSON (details/linked only when expanded)."""
        fields = self.fields.get(schema_type, {})
        expanded = set(expand)
        selected = set(select)
        out: dict[str, Any] = {"id": record.get("id", "")}
        if row_number is not None:
            out["rowNumber"] = row_number
        out["note"] = {"value": record.get("note")}
        for key, value in record.items():
            kind = fields.get(key)
            if kind is None:
                continue
            is_scalar = kind in _SCALARS
            if selected and is_scalar and key not in selected:
                continue
            if kind.endswith("[]"):
                if key in expanded:
                    out[key] = [
                        self.render(kind[:-2], row, row_number=i + 1) for i, row in enumerate(value)
                    ]
            elif kind not in _SCALARS:
                if key in expanded and value is not None:
                    out[key] = self.render(kind, value)
            else:
                out[key] = {"value": _render_scalar(value)}
        out["custom"] = record.get("custom", {})
        return out

    # ------------------------------------------------------------------ records

    def find(self, entity: str, keys: Mapping[str, Any]) -> dict[str, Any] | None:
        """The record whose key fields equal ``keys`` (or whose id equals keys['id'])."""
        rows = self.records[entity]
        if "id" in keys:
            return next((r for r in rows if r.get("id") == keys["id"]), None)
        names = KEYS[entity]
        if not names or any(keys.get(n) is None for n in names):
            return None
        return next((r for r in rows if all(r.get(n) == keys[n] for n in names)), None)

    def exists(self, entity: str, **keys: Any) -> bool:
        """Whether a record with these key values exists."""
        return self.find(entity, keys) is not None

    def next_number(self, entity: str) -> str:
        """The next document number of an auto-numbered entity (``000001``…)."""
        self.counters[entity] = self.counters.get(entity, 0) + 1
        return f"{self.counters[entity]:06d}"

    def seed(self, entity: str, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Insert reference records given as plain dicts (wire names, unwrapped values)."""
        added: list[dict[str, Any]] = []
        with self.lock:
            for row in rows:
                record = dict(row)
                existing = self.find(entity, record)
                record.setdefault("LastModifiedDateTime", self.clock())
                if existing is not None:
                    existing.update(record)
                    added.append(existing)
                else:
                    record.setdefault("id", str(uuid.uuid4()))
                    self.records[entity].append(record)
                    added.append(record)
        return added

    # ------------------------------------------------------------------ tokens

    def issue_grant(self, user: str, lifetime: float, *, refresh: bool) -> Grant:
        """A new access token (and refresh token if ``offline_access`` was granted)."""
        from datetime import timedelta

        grant = Grant(
            user=user,
            access_token=secrets.token_urlsafe(24),
            refresh_token=secrets.token_urlsafe(24) if refresh else None,
            expires_at=self.clock() + timedelta(seconds=lifetime),
        )
        self.grants[grant.access_token] = grant
        return grant

    def user_for_token(self, token: str) -> str | None:
        """The user of a valid, unexpired access token."""
        grant = self.grants.get(token)
        if grant is None or self.clock() >= grant.expires_at:
            return None
        return grant.user

    def actions_of(self, entity: str) -> tuple[str, ...]:
        """Actions this endpoint version offers on ``entity``."""
        return ACTIONS.get(self.version, {}).get(entity, ())


def _scalar(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind in ("StringValue", "GuidValue"):
        if not isinstance(value, str):
            raise TypeError(f"a string was expected, not {value!r}")
        return value
    if kind in ("DecimalValue", "DoubleValue"):
        if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
            raise TypeError(f"a number was expected, not {value!r}")
        return Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if kind in ("IntValue", "ShortValue", "LongValue", "ByteValue"):
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise TypeError(f"an integer was expected, not {value!r}")
        if isinstance(value, Decimal) and value != value.to_integral_value():
            raise TypeError(f"an integer was expected, not {value}")
        return int(value)
    if kind == "BooleanValue":
        if not isinstance(value, bool):
            raise TypeError(f"true or false was expected, not {value!r}")
        return value
    if kind == "DateTimeValue":
        if not isinstance(value, str):
            raise TypeError(f"an ISO 8601 date-time string was expected, not {value!r}")
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise TypeError(f"unsupported value type {kind}")  # pragma: no cover


def _render_scalar(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value
