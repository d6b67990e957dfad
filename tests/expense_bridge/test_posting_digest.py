"""The audit digest of a create hashes the bytes sent; a page claim reads its records;
the store's direct SQLite writes fail as typed store errors."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from acumatica_client import AcumaticaClient, ClientOptions, Endpoint, OAuth2
from expense_bridge._ledger import AcumaticaLedger
from expense_bridge._store import (
    AuditEntry,
    DocumentRecord,
    ReportStatus,
    SQLiteStore,
    StateUnavailableError,
    batched,
    claim_reports,
)
from expense_bridge._sync import _run

from .test_posting import NOW, Clock, FakeSource, config, report, tenant


class Recording(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.puts: list[bytes] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" and request.url.path.endswith("/Bill"):
            self.puts.append(request.read())
        return self.inner.handle_request(request)


def test_create_digest_is_the_hash_of_the_body_sent(tmp_path: Path) -> None:
    emu = tenant()
    wire = Recording(emu.transport())
    auth = OAuth2(
        base_url="https://erp.test", client_id="expense-bridge@Company",
        client_secret="client-secret", username="admin", password="admin-password",
    )  # fmt: skip
    client = AcumaticaClient(
        base_url="https://erp.test", endpoint=Endpoint("Default", "24.200.001"), auth=auth,
        transport=wire, options=ClientOptions(sleep=lambda s: None),
    )  # fmt: skip
    store = SQLiteStore(tmp_path / "state.sqlite3")
    try:
        _run(config(), AcumaticaLedger(client, page_size=50), FakeSource([report("R1")]), store,
             dry_run=False, clock=Clock(), progress=None, on_step=None)  # fmt: skip
        (body,) = wire.puts
        (created,) = [e for e in store.audit_trail("R1") if e.step == "create"]
        assert created.outcome == "created"
        assert created.digest == hashlib.sha256(body).hexdigest()[:16]
    finally:
        store.close()


def test_claim_reports_skips_held_reports_and_reads_the_claimed_records(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite3")
    try:
        store.save_snapshot("default", report("R2"), "fp-R2", NOW)
        doc = DocumentRecord(key="EXB-R2", kind="bill", number="Bill 0001", part="reimbursable")
        store.add_document("default", "R2", doc, NOW)
        store.set_status("default", "R2", ReportStatus.POSTED, NOW)
        assert store.claim("default", "R3", "other", NOW, 60)
        got = claim_reports(store, "default", ["R1", "R2", "R3", "R1"], "me", NOW, 60)
        assert list(got) == ["R1", "R2"]  # R3 is held by a live lease; R1 once
        assert got["R1"] == store.get("default", "R1")  # a new row, as get reads it
        r2 = got["R2"]
        assert r2 is not None
        assert r2.status is ReportStatus.POSTED
        assert r2.fingerprint == "fp-R2"
        assert [d.number for d in r2.documents] == ["Bill 0001"]
        # The leases were taken: another owner is refused until they lapse.
        later = NOW + timedelta(seconds=61)
        assert claim_reports(store, "default", ["R1", "R2"], "other", NOW, 60) == {}
        assert list(claim_reports(store, "default", ["R1", "R2"], "other", later, 60)) == [
            "R1",
            "R2",
        ]
    finally:
        store.close()


def test_a_locked_state_file_fails_a_durable_write_typed_and_keeps_the_queue(
    tmp_path: Path,
) -> None:
    """The store's own writes go straight to sqlite3 on SQLite: a failure is still the
    typed, retryable store error naming the file, and what was queued stays queued."""
    path = tmp_path / "state.sqlite3"
    store = SQLiteStore(path, timeout=0.05)
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        store.save_snapshot("default", report("R1"), "fp-R1", NOW)  # the report's row
        doc = DocumentRecord(key="EXB-R1", kind="bill", number="Bill 0001", part="reimbursable")
        with batched(store):
            store.audit(AuditEntry(at=NOW, run_id="r", report_id="R1", step="intent",
                                   outcome="recorded"), "default")  # fmt: skip
            blocker.execute("BEGIN IMMEDIATE")  # another writer holds the file
            with pytest.raises(StateUnavailableError) as caught:
                store.add_document("default", "R1", doc, NOW)
            assert caught.value.retryable
            assert str(path) in str(caught.value)
            blocker.execute("ROLLBACK")
            before = store.get("default", "R1")  # a read: commits the queued line
            assert before is not None
            assert before.documents == ()  # the document was not written
            store.add_document("default", "R1", doc, NOW)
        record = store.get("default", "R1")
        assert record is not None
        assert record.documents == (doc,)
        assert [e.step for e in store.audit_trail("R1", "default")] == ["intent"]
    finally:
        blocker.close()
        store.close()
