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
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs

from .._schema import ACTIONS, ENTITY_FIELDS, KEY_FIELDS
from ._accounting import default_currencies, default_tax_categories, fiscal_year_row
from ._errors import EmulatorError

__all__ = ["KEYS", "LINK_TARGETS", "REFRESH_LIFETIME", "Backend", "Grant", "StoredFile"]

KEYS = KEY_FIELDS  # the shared data contract: the schema table's key fields
_NUMBERED = {"Bill": "ReferenceNbr", "JournalTransaction": "BatchNbr", "ExpenseClaim": "RefNbr"}
_SYSTEM_IN = {"id", "rowNumber", "note", "custom", "delete", "_links", "files"}
_SCALARS = {
    "StringValue", "DecimalValue", "BooleanValue", "IntValue", "ShortValue", "LongValue",
    "DateTimeValue", "GuidValue", "ByteValue", "DoubleValue",
}  # fmt: skip


#: A refresh token can be used within 30 days of its first issue (acumatica-api.md §2).
REFRESH_LIFETIME = timedelta(days=30)

#: ``files:put`` link targets: entity -> (graph type, primary view, detail view). Views
#: are read off the Default/24.200.001 metadata mappings; graph type names are the
#: screens' well-known graphs [INF]. Inquiries (``CompaniesStructure``) carry no links.
LINK_TARGETS: Mapping[str, tuple[str, str, str]] = MappingProxyType(
    {
        "Bill": ("PX.Objects.AP.APInvoiceEntry", "Document", "Transactions"),
        "JournalTransaction": ("PX.Objects.GL.JournalEntry", "BatchModule", "GLTranModuleBatNbr"),
        "ExpenseClaim": ("PX.Objects.EP.ExpenseClaimEntry", "ExpenseClaim", "ExpenseClaimDetails"),
        "Employee": ("PX.Objects.EP.EmployeeMaint", "Employee", "EmployeePositions"),
        "Vendor": ("PX.Objects.AP.VendorMaint", "BAccount", "Contacts"),
        "Account": ("PX.Objects.GL.AccountMaint", "AccountRecords", "AccountRecords"),
        "Subaccount": ("PX.Objects.GL.SubAccountMaint", "SubRecords", "SubRecords"),
        "Project": ("PX.Objects.PM.ProjectEntry", "Project", "Tasks"),
        "ProjectTask": ("PX.Objects.PM.ProjectTaskEntry", "Task", "Activities"),
        "FinancialPeriod": (
            "PX.Objects.GL.FinPeriods.MasterFinPeriodMaint",
            "FiscalYear",
            "Periods",
        ),
        "Currency": ("PX.Objects.CM.CurrencyMaint", "CuryListRecords", "CuryListRecords"),
        "TaxCategory": ("PX.Objects.TX.TaxCategoryMaint", "TxCategory", "Details"),
        "TaxZone": ("PX.Objects.TX.TaxZoneMaint", "TxZone", "Details"),
        "NonStockItem": ("PX.Objects.IN.NonStockItemMaint", "Item", "itemxrefrecords"),
    }
)


@attrs.define
class StoredFile:
    """A file attached to a record (``PUT …/files/{name}``)."""

    id: str
    filename: str
    content: bytes
    comment: str | None = None


@attrs.define
class Grant:
    """An OAuth grant's current tokens.

    ``session`` is shared by every token refreshed from the same password grant (one
    server session per grant, which holds one API seat while its access token is live);
    ``refresh_expires_at`` is fixed at the first issue and carried through rotation.
    """

    user: str
    client_id: str
    session: str
    access_token: str
    refresh_token: str | None
    expires_at: datetime
    refresh_expires_at: datetime


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
        silent_unknown_fields: bool = False,
        session_timeout: float = 600.0,
        accounting_setup: bool = True,
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
        self.silent_unknown_fields = silent_unknown_fields
        self.session_timeout = timedelta(seconds=session_timeout)
        self.accounting_setup = accounting_setup
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget every record, token, session and running action."""
        with self.lock:
            self.records: dict[str, list[dict[str, Any]]] = {name: [] for name in KEYS}
            self.counters: dict[str, int] = {}
            self.grants: dict[str, Grant] = {}  # live access token -> grant
            self.refresh_tokens: dict[str, Grant] = {}  # unused refresh token -> grant
            self.sessions: dict[str, str] = {}  # cookie value -> user
            self.session_seen: dict[str, datetime] = {}  # cookie value -> last request
            self.actions: dict[str, list[Any]] = {}  # status id -> running operation
            self.finished: dict[str, str] = {}  # status id -> Location of the record
            self.archived: set[str] = set()  # ids of archived records
            self.files: dict[str, dict[str, StoredFile]] = {}  # record id -> name -> file
            self.save_rejections: list[list[Any]] = []  # [entity, message, times left]
            if self.accounting_setup:
                self.seed_accounting_setup()

    def seed_accounting_setup(self) -> None:
        """What a set-up tenant has before any document: the currency list (the base
        currency first), tax categories ``TAXABLE``/``EXEMPT``, and a fiscal calendar of
        calendar-month periods for the previous, current and next year (by the clock);
        the previous year is closed in every module and GL once the clock is past its
        first quarter (a year-end close), the others are open."""
        today = self.clock()
        self.seed("Currency", default_currencies(self.base_currency))
        self.seed("TaxCategory", default_tax_categories())
        year = today.year
        closed_previous = (today.month, today.day) > (3, 31)
        self.seed(
            "FinancialPeriod",
            [
                fiscal_year_row(year - 1, closed=closed_previous, at=today),
                fiscal_year_row(year, at=today),
                fiscal_year_row(year + 1, at=today),
            ],
        )

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
                    record["custom"], found = parse_custom(raw)
                    if found:
                        problems.setdefault(at, []).extend(found)
                elif key == "delete":
                    record["delete"] = raw is True
                continue
            kind = fields.get(key)
            if kind is None:
                if not self.silent_unknown_fields:
                    problems.setdefault(at, []).append(
                        f"'{key}' is not a field of {schema_type} in Default/{self.version}."
                    )
                continue  # silent mode: lost, as on the real server
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
        custom: Iterable[str] = (),
        row_number: int | None = None,
        base: str | None = None,
        entity: str | None = None,
    ) -> dict[str, Any]:
        """A stored record as wire JSON, the way the real service renders it.

        Every field of the type is present: a field never set (or null) is ``{}``, never
        omitted and never ``{"value": null}``; ``note`` is ``{"value": ""}`` when empty.
        Detail and linked entities appear only when named in ``expand`` (``files`` and
        ``Details/files`` add the attachments); ``select`` limits the scalar fields;
        custom fields appear only when requested in ``custom`` (``View.Field`` names, as
        ``$custom``). With ``base`` (``/<vdir>/entity/Default/<ver>``) and the top-level
        ``entity`` name, ``_links`` (``self``, ``files:put``) are added, and ``files:put``
        on detail lines.
        """
        fields = self.fields.get(schema_type, {})
        expanded = set(expand)
        selected = set(select)
        ident = str(record.get("id") or "")
        out: dict[str, Any] = {"id": ident}
        if row_number is not None:
            out["rowNumber"] = row_number
        note = record.get("note")
        out["note"] = {"value": "" if note is None else note}
        target = LINK_TARGETS.get(entity or "")
        for key, kind in fields.items():
            value = record.get(key)
            is_scalar = kind in _SCALARS
            if selected and is_scalar and key not in selected:
                continue
            if kind.endswith("[]"):
                if key in expanded:
                    inner = {e[len(key) + 1 :] for e in expanded if e.startswith(key + "/")}
                    rows = []
                    for i, row in enumerate(value or []):
                        rendered = self.render(
                            kind[:-2], row, expand=inner, row_number=i + 1, base=base
                        )
                        if base is not None and target is not None:
                            rendered["_links"] = {
                                "files:put": (
                                    f"{base}/files/{target[0]}/{target[2]}/"
                                    f"{rendered['id']}/{{filename}}"
                                )
                            }
                        rows.append(rendered)
                    out[key] = rows
            elif not is_scalar:
                if key in expanded:
                    inner = {e[len(key) + 1 :] for e in expanded if e.startswith(key + "/")}
                    out[key] = self.render(kind, value or {}, expand=inner)
            elif value is None:
                out[key] = {}
            else:
                out[key] = {"value": _render_scalar(value)}
        stored = record.get("custom") or {}
        shown: dict[str, dict[str, Any]] = {}
        for name in custom:
            view, _, field = name.partition(".")
            found = stored.get(view, {}).get(field)
            if found is not None:
                shown.setdefault(view, {})[field] = dict(found)
        out["custom"] = shown
        if "files" in expanded and ident:
            out["files"] = self.file_links(ident, base or "")
        if base is not None and target is not None and ident:
            out["_links"] = {
                "self": f"{base}/{entity}/{ident}",
                "files:put": f"{base}/files/{target[0]}/{target[1]}/{ident}/{{filename}}",
            }
        return out

    def file_links(self, record_id: str, base: str) -> list[dict[str, Any]]:
        """``FileLink`` objects of a record's attachments (``comment`` from 24.200.001,
        when the file has one)."""
        links = []
        for stored in self.files.get(record_id, {}).values():
            link: dict[str, Any] = {
                "id": stored.id,
                "filename": stored.filename,
                "href": f"{base}/files/{stored.id}",
            }
            if self.version >= "24.200.001" and stored.comment is not None:
                link["comment"] = stored.comment  # omitted when there is none [INF]
            links.append(link)
        return links

    def attach(self, record_id: str, filename: str, content: bytes, comment: str | None) -> str:
        """Attach (or replace, by file name) a file on a record; returns the file id."""
        files = self.files.setdefault(record_id, {})
        previous = files.get(filename)
        ident = previous.id if previous is not None else str(uuid.uuid4())
        files[filename] = StoredFile(ident, filename, content, comment)
        return ident

    def file_by_id(self, file_id: str) -> StoredFile | None:
        """An attached file by its id (for ``GET files/{id}``)."""
        for files in self.files.values():
            for stored in files.values():
                if stored.id == file_id:
                    return stored
        return None

    # ------------------------------------------------------------------ records

    def find(
        self, entity: str, keys: Mapping[str, Any], *, archived: bool = True
    ) -> dict[str, Any] | None:
        """The record whose key fields equal ``keys`` (or whose id equals keys['id']).

        ``archived=False`` hides archived records, as the API does without
        ``PX-ApiArchive: SHOW``.
        """
        rows = self.records[entity]
        if not archived:
            rows = [r for r in rows if r.get("id") not in self.archived]
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
        """Insert (or update by key) reference records.

        Rows use wire field names with plain values (``{"AccountCD": "61000"}``) or
        wrapped ones (``{"AccountCD": {"value": "61000"}}``); linked entities are nested
        dicts and details lists of dicts. Seeds are checked like requests: a field the
        endpoint version does not have, or a value of the wrong type, raises ``ValueError``
        (a typo in a test's seed must not pass silently).
        """
        added: list[dict[str, Any]] = []
        normalized = [self.seed_record(entity, row) for row in rows]
        with self.lock:
            for record in normalized:
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

    def seed_record(
        self, schema_type: str, row: Mapping[str, Any], path: str = ""
    ) -> dict[str, Any]:
        """One seed row as a stored record (see :meth:`seed`); ``ValueError`` if invalid."""
        where = path or schema_type
        if not isinstance(row, Mapping):
            raise TypeError(f"{where}: a seed row is a dict, not {type(row).__name__}")
        fields = self.fields.get(schema_type, {})
        record: dict[str, Any] = {}
        for key, raw in row.items():
            at = f"{where}.{key}"
            if key == "id":
                record["id"] = str(raw)
                continue
            if key == "note":
                record["note"] = raw.get("value") if isinstance(raw, Mapping) else raw
                continue
            if key == "custom":
                custom, found = parse_custom(raw)
                if found:
                    raise ValueError(f"{at}: {'; '.join(found)}")
                record["custom"] = custom
                continue
            kind = fields.get(key)
            if kind is None:
                raise ValueError(f"{at}: not a field of {schema_type} in Default/{self.version}")
            if kind.endswith("[]"):
                if not isinstance(raw, list | tuple):
                    raise ValueError(f"{at}: a list of rows was expected")
                record[key] = [
                    self.seed_record(kind[:-2], item, f"{at}[{i}]") for i, item in enumerate(raw)
                ]
            elif kind not in _SCALARS:
                record[key] = None if raw is None else self.seed_record(kind, raw, at)
            else:
                value = raw["value"] if isinstance(raw, Mapping) and "value" in raw else raw
                try:
                    record[key] = _seed_scalar(kind, value)
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"{at}: {exc}") from None
        return record

    # ------------------------------------------------------------------ tokens

    def issue_grant(
        self,
        user: str,
        lifetime: float,
        *,
        refresh: bool,
        client_id: str = "",
        previous: Grant | None = None,
    ) -> Grant:
        """A new access token (and refresh token if ``offline_access`` was granted).

        With ``previous`` (a refresh) the new tokens continue that grant's session and
        refresh deadline; the previous access and refresh tokens stop working.
        """
        now = self.clock()
        if previous is not None:
            self.grants.pop(previous.access_token, None)
            if previous.refresh_token is not None:
                self.refresh_tokens.pop(previous.refresh_token, None)
        grant = Grant(
            user=user,
            client_id=previous.client_id if previous else client_id,
            session=previous.session if previous else uuid.uuid4().hex,
            access_token=secrets.token_urlsafe(24),
            refresh_token=secrets.token_urlsafe(24) if refresh else None,
            expires_at=now + timedelta(seconds=lifetime),
            refresh_expires_at=previous.refresh_expires_at if previous else now + REFRESH_LIFETIME,
        )
        self.grants[grant.access_token] = grant
        if grant.refresh_token is not None:
            self.refresh_tokens[grant.refresh_token] = grant
        return grant

    def grant_for_refresh(self, token: str, client_id: str) -> Grant | None:
        """The grant a refresh token belongs to, if unused, unexpired and this client's."""
        grant = self.refresh_tokens.get(token)
        if grant is None or grant.client_id != client_id:
            return None
        if self.clock() >= grant.refresh_expires_at:
            self.refresh_tokens.pop(token, None)
            return None
        return grant

    def user_for_token(self, token: str) -> str | None:
        """The user of a valid, unexpired access token."""
        grant = self.grants.get(token)
        if grant is None or self.clock() >= grant.expires_at:
            return None
        return grant.user

    def revoke(self, access_token: str) -> None:
        """Sign a bearer session out: the token and its refresh token stop working."""
        grant = self.grants.pop(access_token, None)
        if grant is not None and grant.refresh_token is not None:
            self.refresh_tokens.pop(grant.refresh_token, None)

    def seats_in_use(self, *, oauth: bool) -> int:
        """Open API sessions: cookie logins, plus live OAuth grant sessions if ``oauth``."""
        self.expire_sessions()
        used = len(self.sessions)
        if oauth:
            now = self.clock()
            used += len({g.session for g in self.grants.values() if now < g.expires_at})
        return used

    def open_session(self, cookie: str, user: str) -> None:
        """Record a cookie session (it holds one API seat until logout or timeout)."""
        self.sessions[cookie] = user
        self.session_seen[cookie] = self.clock()

    def close_session(self, cookie: str) -> None:
        """Sign a cookie session out."""
        self.sessions.pop(cookie, None)
        self.session_seen.pop(cookie, None)

    def session_user(self, cookie: str) -> str | None:
        """The user of a live cookie session (touching it), or None if unknown/expired."""
        self.expire_sessions()
        user = self.sessions.get(cookie)
        if user is not None:
            self.session_seen[cookie] = self.clock()
        return user

    def expire_sessions(self) -> None:
        """Close sessions idle for ``session_timeout`` (10 minutes on the real service)."""
        now = self.clock()
        for cookie, seen in list(self.session_seen.items()):
            if now - seen >= self.session_timeout:
                self.close_session(cookie)

    def actions_of(self, entity: str) -> tuple[str, ...]:
        """Actions this endpoint version offers on ``entity``."""
        return ACTIONS.get(self.version, {}).get(entity, ())


_CUSTOM_TYPES = {
    "CustomStringField": "StringValue", "CustomDecimalField": "DecimalValue",
    "CustomBooleanField": "BooleanValue", "CustomIntField": "IntValue",
    "CustomShortField": "ShortValue", "CustomLongField": "LongValue",
    "CustomDateTimeField": "DateTimeValue", "CustomGuidField": "GuidValue",
    "CustomByteField": "ByteValue", "CustomDoubleField": "DoubleValue",
}  # fmt: skip


def parse_custom(raw: Any) -> tuple[dict[str, Any], list[str]]:
    """Validate a ``custom`` member: view -> field -> ``{"type": "Custom…Field", "value": …}``.

    Returns the stored form and the problems found (empty when valid).
    """
    out: dict[str, dict[str, Any]] = {}
    found: list[str] = []
    if not isinstance(raw, Mapping):
        found.append("custom must map view names to fields.")
        raw = {}
    for view, fields in raw.items():
        if not isinstance(fields, Mapping):
            found.append(f"custom.{view} must map field names to custom field objects.")
            continue
        for name, field in fields.items():
            kind = _CUSTOM_TYPES.get(field.get("type", "")) if isinstance(field, Mapping) else None
            if kind is None or not isinstance(field, Mapping) or "value" not in field:
                found.append(
                    f'custom.{view}.{name} must be {{"type": "Custom…Field", "value": …}}.'
                )
                continue
            try:
                value = _scalar(kind, field["value"])
            except (TypeError, ValueError) as exc:
                found.append(f"custom.{view}.{name}: {exc}")
                continue
            out.setdefault(str(view), {})[str(name)] = {
                "type": field["type"],
                "value": _render_scalar(value),
            }
    return out, found


def _seed_scalar(kind: str, value: Any) -> Any:
    """Seed values may be native Python values (datetime, Decimal, int, float)."""
    if value is None:
        return None
    if kind == "DateTimeValue" and isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if kind in ("DecimalValue", "DoubleValue") and isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            raise ValueError(f"a number was expected, not {value!r}") from None
    return _scalar(kind, value)


def _scalar(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind in ("StringValue", "GuidValue"):
        if not isinstance(value, str):
            raise TypeError(f"a string was expected, not {value!r}")
        return value
    if kind in ("DecimalValue", "DoubleValue"):
        if isinstance(value, str):  # the real server accepts "1199.60" (§3.2, 3P-LIVE)
            try:
                number = Decimal(value.strip())
            except ArithmeticError:
                raise TypeError(f"a number was expected, not {value!r}") from None
            if not number.is_finite():
                raise TypeError(f"a number was expected, not {value!r}")
            return number
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
    """Date-times as the service writes them: offset always, milliseconds when present."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
    return value
