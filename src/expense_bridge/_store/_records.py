"""Records of the state store: report statuses, documents, audit entries, the protocol."""

from __future__ import annotations

import enum
import json
import types
import typing
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import attrs
import cattrs
from cattrs.fns import identity

from expensify_client import Report

__all__ = [
    "AuditEntry",
    "DocumentRecord",
    "ReportRecord",
    "ReportStatus",
    "StateStore",
    "batched",
    "claim_reports",
    "default_state_path",
    "read_reports",
    "report_from_json",
    "report_statuses",
    "report_to_json",
    "utcnow",
]


class ReportStatus(enum.Enum):
    """Where a report is in the bridge's state machine."""

    PULLED = "pulled"
    PLANNED = "planned"
    POSTING = "posting"  # intent recorded; the ERP write may or may not have happened
    POSTED = "posted"  # every document exists in Acumatica
    ACKNOWLEDGED = "acknowledged"  # marked exported in Expensify
    HELD = "held"  # needs a person: error codes say why

    @property
    def terminal(self) -> bool:
        """Whether a sync can advance its bookmark past a report in this state."""
        return self in (ReportStatus.ACKNOWLEDGED, ReportStatus.HELD)


@attrs.frozen(kw_only=True)
class DocumentRecord:
    """One Acumatica document created (or adopted) for a report."""

    key: str
    kind: str  # "bill" | "journal"
    number: str  # "Bill 000123" / "GL 000045"
    part: str


@attrs.frozen(kw_only=True)
class ReportRecord:
    """The store's row for one report."""

    report_id: str
    status: ReportStatus
    fingerprint: str | None
    snapshot: str | None  # the report as exported (JSON), for replay
    error_codes: tuple[str, ...] = ()
    errors: tuple[dict[str, Any], ...] = ()
    documents: tuple[DocumentRecord, ...] = ()
    updated_at: datetime | None = None

    def report(self) -> Report | None:
        """The stored export snapshot as a :class:`Report`."""
        return report_from_json(self.snapshot) if self.snapshot else None


@attrs.frozen(kw_only=True)
class AuditEntry:
    """One line of the append-only audit trail."""

    at: datetime
    run_id: str
    report_id: str
    step: str
    outcome: str
    document: str | None = None
    error_code: str | None = None
    detail: str | None = None
    digest: str | None = None


class StateStore(Protocol):
    """What the bridge needs from a state backend (SQLite by default)."""

    def claim(self, connection: str, report_id: str, owner: str, now: datetime,
              lease_seconds: float) -> bool: ...  # fmt: skip
    def release(self, connection: str, report_id: str, owner: str) -> None: ...
    def get(self, connection: str, report_id: str) -> ReportRecord | None: ...
    def save_snapshot(self, connection: str, report: Report, fingerprint: str,
                      now: datetime) -> None: ...  # fmt: skip
    def set_status(self, connection: str, report_id: str, status: ReportStatus, now: datetime,
                   problems: Sequence[dict[str, Any]] = ()) -> None: ...  # fmt: skip
    def add_document(self, connection: str, report_id: str, document: DocumentRecord,
                     now: datetime) -> None: ...  # fmt: skip
    def with_status(self, connection: str, *statuses: ReportStatus) -> list[ReportRecord]: ...
    def bookmark(self, connection: str) -> datetime | None: ...
    def set_bookmark(self, connection: str, value: datetime) -> None: ...
    def audit(self, entry: AuditEntry, connection: str) -> None: ...
    def audit_trail(self, report_id: str, connection: str | None = None) -> list[AuditEntry]: ...
    def record_run(self, connection: str, run_id: str, started: datetime, finished: datetime,
                   summary: dict[str, Any]) -> None: ...  # fmt: skip
    def runs(self, connection: str, limit: int = 10) -> list[dict[str, Any]]: ...


def batched(store: StateStore) -> AbstractContextManager[object]:
    """The store's unit of work for the calling thread (``DatabaseStore.batched``), or a
    no-op for a store without one: every write is then its own transaction."""
    unit = getattr(store, "batched", None)
    return unit() if callable(unit) else nullcontext()


def claim_reports(
    store: StateStore,
    connection: str,
    report_ids: Sequence[str],
    owner: str,
    now: datetime,
    lease_seconds: float,
) -> dict[str, ReportRecord | None]:
    """Claim each of ``report_ids`` and read each claimed report's record: one write
    transaction where the store can (``DatabaseStore.claim_many``), else one
    :meth:`StateStore.claim` and one :meth:`StateStore.get` each. The claimed ids, in
    order (a report another live owner holds is left out)."""
    many = getattr(store, "claim_many", None)
    if callable(many):
        taken: dict[str, ReportRecord | None] = many(
            connection, report_ids, owner, now, lease_seconds
        )
        return taken
    claimed: dict[str, ReportRecord | None] = {}
    for rid in dict.fromkeys(report_ids):
        if store.claim(connection, rid, owner, now, lease_seconds):
            claimed[rid] = store.get(connection, rid)
    return claimed


def read_reports(
    store: StateStore, connection: str, report_ids: Sequence[str]
) -> dict[str, ReportRecord]:
    """The stored records of those of ``report_ids`` the store knows, in one read where
    the store can (``DatabaseStore.get_many``), else one :meth:`StateStore.get` each."""
    many = getattr(store, "get_many", None)
    if callable(many):
        found: dict[str, ReportRecord] = many(connection, report_ids)
        return found
    records: dict[str, ReportRecord] = {}
    for rid in report_ids:
        record = store.get(connection, rid)
        if record is not None:
            records[rid] = record
    return records


def report_statuses(
    store: StateStore, connection: str, report_ids: Sequence[str]
) -> dict[str, ReportStatus]:
    """The stored status of each of ``report_ids`` (absent: not in the store), in one
    query per few hundred reports where the store can (``DatabaseStore.statuses``)."""
    many = getattr(store, "statuses", None)
    if callable(many):
        found: dict[str, ReportStatus] = many(connection, report_ids)
        return found
    return {
        rid: record.status for rid, record in read_reports(store, connection, report_ids).items()
    }


# --------------------------------------------------------------------------- snapshots


def _plain_optional(t: Any) -> bool:
    """``str | None``, ``int | None`` or ``bool | None`` (and unions of only those)."""
    if typing.get_origin(t) not in (typing.Union, types.UnionType):
        return False
    args = typing.get_args(t)
    return type(None) in args and all(a in (str, int, bool, type(None)) for a in args)


def _converter() -> cattrs.Converter:
    converter = cattrs.Converter()
    # A plain optional value is written as it is (what cattrs' optional handler does for
    # these, one call per field less): the generated code then reads the attribute inline.
    converter.register_unstructure_hook_func(_plain_optional, identity)
    converter.register_unstructure_hook(datetime, lambda d: d.isoformat())
    converter.register_structure_hook(datetime, lambda v, _: datetime.fromisoformat(v))
    converter.register_unstructure_hook(Decimal, str)
    converter.register_structure_hook(Decimal, lambda v, _: Decimal(v))
    from datetime import date

    converter.register_unstructure_hook(date, lambda d: d.isoformat())
    converter.register_structure_hook(date, lambda v, _: date.fromisoformat(v))
    return converter


_SNAPSHOTS = _converter()


#: ``json.dumps(..., sort_keys=True, ensure_ascii=False)``, built once.
_SNAPSHOT_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False)


def report_to_json(report: Report) -> str:
    """A report as canonical JSON (exact: Decimal and tz-aware datetimes as strings)."""
    return _SNAPSHOT_JSON.encode(_SNAPSHOTS.unstructure(report))


def report_from_json(text: str) -> Report:
    """The inverse of :func:`report_to_json`."""
    return _SNAPSHOTS.structure(json.loads(text), Report)


def default_state_path() -> Path:
    """``<user data dir>/expense-bridge/state.sqlite3`` (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("expense-bridge")) / "state.sqlite3"


def utcnow() -> datetime:
    """The current time in UTC (the default clock of the bridge)."""
    return datetime.now(UTC)
