"""Issue 14, client CPU: the leaner paths give the same answers as the ones they replace.

* a page claim (``DatabaseStore.claim_many``) reads and takes its claims in a few
  statements per 500 reports: the same reports, order, leases and records as one
  :meth:`~DatabaseStore.claim` and :meth:`~DatabaseStore.get` each, on both databases;
* the store's own writes on a SQLite file run on the sqlite3 connection itself: nothing
  is left checked out of the pool, in or after a unit of work;
* the acknowledgement reads only the report IDs of an export (``report_ids``): the same
  IDs as :func:`~expensify_client.iter_report_export`, the same error for a broken file;
* the content fingerprint sorts expenses by transaction ID alone when the IDs are unique:
  the same digest as sorting by ID and content;
* a snapshot writes plain optional values inline: the same JSON as cattrs' own handler.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from expense_bridge._store import (
    AuditEntry,
    DatabaseStore,
    DocumentRecord,
    ReportStatus,
    SQLiteStore,
    batched,
)
from expense_bridge.mapping import _expense_content, _moment, content_fingerprint
from expensify_client import ExportParseError, UnparsedReport, iter_report_export
from expensify_client._export import report_ids

from ..expensify_client.test_export_parse import edit, expense_model, export, report_model
from ..scaleout.services import postgres_database
from .fakes import NOW, expense, report


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DatabaseStore]:
    if request.param == "sqlite":
        with DatabaseStore(f"sqlite:///{tmp_path / 'state.sqlite3'}") as s:
            yield s
    else:
        with postgres_database() as url, DatabaseStore(url) as s:
            yield s


def test_a_page_claim_of_more_than_500_reports_equals_claiming_each(
    store: DatabaseStore,
) -> None:
    ids = [f"R{i:04d}" for i in range(1_100)]
    for rid in ids[:600:3]:  # rows that exist, some with documents
        store.save_snapshot("c", report(rid), f"fp-{rid}", NOW)
    doc = DocumentRecord(key="EXB-R0003", kind="bill", number="Bill 7", part="reimbursable")
    store.add_document("c", "R0003", doc, NOW)
    assert store.claim("c", "R0006", "other", NOW, 60)  # a live lease of another owner
    assert store.claim("c", "R0900", "other", NOW - timedelta(seconds=120), 60)  # lapsed
    assert store.claim("c", "R0009", "me", NOW, 60)  # already ours
    wanted = [*reversed(ids), ids[5]]  # not sorted, one ID twice
    got = store.claim_many("c", wanted, "me", NOW, 60)
    expected = [rid for rid in dict.fromkeys(wanted) if rid != "R0006"]
    assert list(got) == expected
    for rid in ("R0000", "R0003", "R0009", "R0900", "R1099"):
        assert got[rid] == store.get("c", rid)
    assert [d.number for d in got["R0003"].documents] == ["Bill 7"]
    assert got["R0000"].fingerprint == "fp-R0000"
    assert got["R1099"].status is ReportStatus.PULLED
    # Every lease is ours now: another owner takes none of them before they lapse.
    assert store.claim_many("c", ids, "third", NOW + timedelta(seconds=30), 60) == {}
    assert list(store.claim_many("c", ["R0006"], "third", NOW + timedelta(seconds=61), 60)) == [
        "R0006"
    ]


def test_the_store_returns_every_sqlite_connection_it_uses(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite3")
    try:
        pool: Any = store._ready().pool
        entry = AuditEntry(at=NOW, run_id="r", report_id="R1", step="intent", outcome="ok")
        store.set_status("c", "R1", ReportStatus.POSTING, NOW)  # no unit of work
        store.audit(entry, "c")
        assert pool.checkedout() == 0
        with batched(store):
            store.audit(entry, "c")
            store.set_status("c", "R1", ReportStatus.POSTING, NOW)  # durable: held
            store.add_document(
                "c", "R1", DocumentRecord(key="K", kind="bill", number="Bill 1", part="r"), NOW
            )
            store.set_status("c", "R1", ReportStatus.POSTED, NOW)  # queued
            assert store.get("c", "R1") is not None
        assert pool.checkedout() == 0
        record = store.get("c", "R1")
        assert record is not None
        assert record.status is ReportStatus.POSTED
        assert [e.step for e in store.audit_trail("R1", "c")] == ["intent", "intent"]
    finally:
        store.close()


def _ids_from_reports(text: str | bytes) -> list[str]:
    return [item.report_id for item in iter_report_export(text) if item.report_id is not None]


def test_report_ids_are_those_the_full_parser_gives() -> None:
    good = report_model(reportID="R1")
    bad_expense = report_model(expense_model(amount="12.00"), reportID="R2")  # unparsed
    no_id = report_model(reportID="")
    rendered = export(good, bad_expense, no_id, report_model(reportID="R3"), good)

    def number_id(document: dict[str, Any]) -> None:  # not what the template writes
        document["reports"][3]["reportID"] = 12

    text = edit(rendered, number_id)
    items = list(iter_report_export(text))
    assert isinstance(items[1], UnparsedReport)  # the cases are what they say
    assert isinstance(items[3], UnparsedReport)
    assert items[3].report_id is None
    assert list(report_ids(text)) == _ids_from_reports(text) == ["R1", "R2", "R1"]
    assert list(report_ids(text.encode())) == ["R1", "R2", "R1"]
    assert list(report_ids(export(*(report_model(reportID=f"R{i}") for i in range(300))))) == [
        f"R{i}" for i in range(300)
    ]


@pytest.mark.parametrize(
    "text",
    ['{"reports": [{"reportID": "R1"}, ', '{"items": []}', '{"reports": []} trailing', "\xff"],
)
def test_report_ids_refuse_a_broken_document_as_the_parser_does(text: str) -> None:
    with pytest.raises(ExportParseError):
        list(iter_report_export(text))
    with pytest.raises(ExportParseError):
        list(report_ids(text))


def _fingerprint_before(r: Any) -> str:
    """The fingerprint as computed before issue 14's CPU pass (every expense's content
    encoded for its sort key)."""
    content: dict[str, Any] = {
        "report_id": r.report_id,
        "report_name": r.report_name,
        "policy_id": r.policy_id,
        "currency": r.currency,
        "total_cents": r.total_cents,
        "submitter": r.account_email.strip().lower(),
        "submitted": _moment(r.submitted),
        "approved": _moment(r.approved),
        "expenses": sorted(
            (_expense_content(e) for e in r.expenses),
            key=lambda item: (str(item["transaction_id"]), json.dumps(item, sort_keys=True)),
        ),
    }
    if r.custom_fields:
        content["report_fields"] = dict(sorted(r.custom_fields.items()))
    if any(e.attendees for e in r.expenses):
        content["attendees"] = sorted(
            [e.transaction_id, a.email or "", a.display_name or ""]
            for e in r.expenses
            for a in e.attendees
        )
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_the_fingerprint_is_unchanged() -> None:
    rng = random.Random(14)
    for n in range(40):
        expenses = [expense(f"R{n}-{i}", rng.randint(1, 99_999)) for i in range(rng.randint(1, 6))]
        rng.shuffle(expenses)
        if n % 4 == 0:  # equal transaction IDs: the content decides the order
            expenses.append(attrs.evolve(expenses[0], amount_cents=1, merchant="Zed"))
            expenses.append(attrs.evolve(expenses[0], amount_cents=2, merchant="Abe"))
        r = report(f"R{n}", *expenses)
        assert content_fingerprint(r) == _fingerprint_before(r)


def test_a_snapshot_is_the_json_it_was() -> None:
    import cattrs

    from expense_bridge._store._records import report_from_json, report_to_json

    reference = cattrs.Converter()  # the snapshot converter before issue 14's CPU pass
    reference.register_unstructure_hook(datetime, lambda d: d.isoformat())
    reference.register_unstructure_hook(Decimal, str)
    reference.register_unstructure_hook(date, lambda d: d.isoformat())
    reports = [
        report("R1"),
        report("R2", card=True),
        report(
            "R3",
            expense("R3-1", 5, comment="ü", tag="T", card_id="C1", tax_rate=Decimal("7.5")),
        ),
    ]
    for r in reports:
        text = report_to_json(r)
        assert text == json.dumps(reference.unstructure(r), sort_keys=True, ensure_ascii=False)
        assert report_from_json(text) == r
