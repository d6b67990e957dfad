"""Receipts (issue 11): served by the Expensify emulator over loopback, checked, attached
to the posted bill in the Acumatica emulator once per receipt."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from acumatica_client import Bill, RecordLinks, files_put_url
from expense_bridge._receipts import (
    AcumaticaFiles,
    ReceiptFetcher,
    attach_receipts,
    receipt_name,
)
from expense_bridge._rules import PostingRules, ReceiptTarget, ReimbursableTarget
from expensify_client import Expense

from .test_accounting_support import World, close_world, make_world

PDF = b"%PDF-1.7\n" + b"0" * 2000
JPEG = b"\xff\xd8\xff\xe0" + b"1" * 500


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = make_world(tmp_path)
    yield w
    close_world(w)


@pytest.fixture
def base(world: World) -> Iterator[str]:
    with world.expensify.serve() as server:
        yield server.base_url


def files_for(world: World) -> AcumaticaFiles:
    return AcumaticaFiles(world.acu_client)  # the client's attach_file (limiter, retries)


def expense_with(url: str | None, tid: str = "T1") -> Expense:
    from datetime import date

    return Expense(transaction_id=tid, report_id="R1", amount_cents=100, currency="USD",
                   created=date(2026, 11, 10), receipt_url=url)  # fmt: skip


def test_the_receipt_is_downloaded_and_attached_once(world: World, base: str) -> None:
    url = base + world.expensify.add_receipt("w_abc.pdf", PDF, "application/pdf")
    world.add_approved(1, receipt_url=url)
    world.sync()
    (bill,) = world.acumatica.records("Bill")
    expense = expense_with(url, "9001")
    with ReceiptFetcher() as fetcher:
        put = files_for(world).putter(Bill, bill["Type"], bill["ReferenceNbr"])
        first = attach_receipts([expense], fetcher=fetcher, put_file=put)
        assert first.attached == ("receipt-9001.pdf",)
        assert first.warnings == ()
        assert world.acumatica.files("Bill", bill["Type"], bill["ReferenceNbr"]) == {
            "receipt-9001.pdf": PDF
        }
        second = attach_receipts([expense], fetcher=fetcher, put_file=put, done=first.attached)
        assert second.attached == ()
        assert second.skipped == ("receipt-9001.pdf",)
    assert len(world.acumatica.files("Bill", bill["Type"], bill["ReferenceNbr"])) == 1


def test_the_export_carries_the_receipt_link(world: World, base: str) -> None:
    url = base + world.expensify.add_receipt("w_def.jpg", JPEG)
    rid = world.add_approved(2, receipt_url=url)
    view = world.expensify.report(rid)
    assert [e["receiptObject"].get("url") for e in view["transactionList"]] == [url]


def test_a_lost_attach_answer_still_leaves_one_file(world: World, base: str) -> None:
    url = base + world.expensify.add_receipt("w_abc.jpg", JPEG)
    world.add_approved(1)
    world.sync()
    (bill,) = world.acumatica.records("Bill")
    keys = (bill["Type"], bill["ReferenceNbr"])
    expense = expense_with(url)
    world.acumatica.inject(method="PUT", path="/files/", drop_response=True)
    with ReceiptFetcher() as fetcher:
        put = files_for(world).putter(Bill, *keys)
        result = attach_receipts([expense], fetcher=fetcher, put_file=put)
        # The client repeats the PUT after the lost answer (same name: replaced).
        assert result.attached == ("receipt-T1.jpg",)
        assert result.warnings == ()
    puts = [s for m, p, s in world.acumatica.request_log if m == "PUT" and "/files/" in p]
    assert puts == [0, 204]  # the first answer was lost after the file was stored
    assert world.acumatica.files("Bill", *keys) == {"receipt-T1.jpg": JPEG}  # one file


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_bad_receipts_are_warnings_naming_the_transaction(world: World, base: str) -> None:
    exp = world.expensify
    urls = {
        "big": base + exp.add_receipt("big.pdf", PDF * 10, "application/pdf"),
        "html": base + exp.add_receipt("page.jpg", b"<html>login</html>", "text/html"),
        "liar": base + exp.add_receipt("liar.png", b"<html>not a png</html>", "image/png"),
        "gone": base + "/receipts/missing.jpg?token=sig-7c1e",
        "down": f"http://127.0.0.1:{_closed_port()}/r.jpg",
        "empty": base + exp.add_receipt("empty.pdf", b"", "application/pdf"),
        "ftp": "ftp://files.example/r.pdf",
    }
    expenses = [expense_with(url, tid) for tid, url in urls.items()]
    expenses.append(expense_with(None, "none"))
    put_calls: list[str] = []
    with ReceiptFetcher(max_bytes=5000) as fetcher:
        result = attach_receipts(
            expenses, fetcher=fetcher, put_file=lambda name, data: put_calls.append(name)
        )
    assert put_calls == []
    assert result.attached == ()
    by_tid = {w.split(":")[0].removeprefix("receipt of transaction "): w for w in result.warnings}
    assert sorted(by_tid) == sorted(urls)
    assert "larger than the 5000-byte limit" in by_tid["big"]
    assert "'text/html' refused" in by_tid["html"]
    assert "is not image/png" in by_tid["liar"]
    assert "HTTP 404" in by_tid["gone"]
    assert "unreachable (ConnectError)" in by_tid["down"]
    assert "empty file" in by_tid["empty"]
    assert "not an http(s) link" in by_tid["ftp"]
    assert all("sig-7c1e" not in w and "127.0.0.1" not in w for w in result.warnings)


def test_names_are_deterministic_and_safe() -> None:
    weird = expense_with("https://x/r", "12/34 ../x")
    assert receipt_name(weird, "application/pdf") == "receipt-12_34_.._x.pdf"
    assert receipt_name(weird, "image/jpeg") == receipt_name(weird, "image/jpeg")
    assert "x/r" not in repr(ReceiptFetcher())


def test_a_stream_without_length_stops_at_the_limit() -> None:
    import httpx

    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        yield b"%PDF-"
        for _ in range(100):
            sent.append(1)
            yield b"x" * 1000

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "application/pdf"}, content=chunks())

    with ReceiptFetcher(max_bytes=3000, transport=httpx.MockTransport(handler)) as fetcher:
        result = attach_receipts(
            [expense_with("https://receipts.test/r.pdf")], fetcher=fetcher,
            put_file=lambda name, data: None,
        )  # fmt: skip
    assert result.warnings == ("receipt of transaction T1: larger than the 3000-byte limit",)
    assert len(sent) < 100  # the download stopped early


# ------------------------------------------------------- receipts on lines (issue 11)


def _report(world: World, n: int, urls: list[str | None]) -> str:
    """A report of one expense per URL (Travel, then Meals), approved an hour ago."""
    from datetime import date, timedelta

    from expensify_client.emulator import ExpenseSpec

    specs = [
        ExpenseSpec(amount_cents=1000 * (i + 1) + n, currency="USD", created=date(2026, 11, 10),
                    merchant=f"M{n}-{i}", category=("Travel", "Meals")[i % 2], receipt_url=url)
        for i, url in enumerate(urls)
    ]  # fmt: skip
    exp, now = world.expensify, world.clock.now
    rid = exp.add_report("POL1", submitter="ann@firm.test", name=f"Trip {n}", currency="USD",
                         expenses=specs, created=now - timedelta(days=3))  # fmt: skip
    exp.submit(rid, now - timedelta(days=2))
    exp.approve(rid, now - timedelta(hours=1))
    return rid


def _rules(world: World, **changes: Any) -> None:
    rules = attrs.evolve(world.config.rules, attach_receipts=True, **changes)
    world.config = attrs.evolve(world.config, rules=rules)


def _line_files(world: World, entity: str) -> list[dict[str, bytes]]:
    """Each line's attachments (file name -> bytes) of the only ``entity`` record."""
    (record,) = world.acumatica.records(entity)
    files = world.acumatica.backend.files
    return [
        {name: f.content for name, f in files.get(str(line["id"]), {}).items()}
        for line in record["Details"]
    ]


def _header_files(world: World, entity: str) -> dict[str, bytes]:
    (record,) = world.acumatica.records(entity)
    return {
        n: f.content for n, f in world.acumatica.backend.files.get(str(record["id"]), {}).items()
    }


def _receipt_trail(world: World, rid: str) -> list[tuple[str, str | None]]:
    return [(e.outcome, e.detail) for e in world.store.audit_trail(rid) if e.step == "receipt"]


def _tids(world: World, rid: str) -> list[str]:
    return [t["transactionID"] for t in world.expensify.report(rid)["transactionList"]]


def test_records_and_lines_links_are_read_and_quoted() -> None:
    ep = "/erp/entity/Default/24.200.001"
    links = RecordLinks.of({
        "_links": {"self": f"{ep}/Bill/1", "files:put": f"{ep}/files/G/Document/1/{{filename}}"},
        "Details": [{"_links": {"files:put": f"{ep}/files/G/T/2/{{filename}}"}}, {"id": "3"}],
    })  # fmt: skip
    assert links.self_link == f"{ep}/Bill/1"
    assert links.files_put == f"{ep}/files/G/Document/1/{{filename}}"
    assert links.line("Details", 0) == f"{ep}/files/G/T/2/{{filename}}"
    assert links.line("Details", 1) is None
    assert links.line("Details", 2) is None
    url = files_put_url("https://erp.test/erp", links.line("Details", 0) or "", "r 1#.pdf")
    assert str(url) == "https://erp.test/erp/entity/Default/24.200.001/files/G/T/2/r%201%23.pdf"
    with pytest.raises(ValueError, match="outside"):
        files_put_url("https://erp.test", "https://evil.test/files/G/T/2/{filename}", "r.pdf")
    with pytest.raises(ValueError, match="placeholder"):
        files_put_url("https://erp.test", "/erp/entity/files/G/T/2/", "r.pdf")


def test_receipts_go_to_the_lines_carrying_their_expenses(world: World, base: str) -> None:
    _rules(world, receipts_on=ReceiptTarget.LINE)
    exp = world.expensify
    urls = [base + exp.add_receipt("a.pdf", PDF, "application/pdf"), None,
            base + exp.add_receipt("c.jpg", JPEG)]  # fmt: skip
    rid = _report(world, 1, urls)
    world.acumatica.request_log.clear()
    result = world.sync()
    (outcome,) = result.outcomes
    assert outcome.warnings == ()
    t1, _, t3 = _tids(world, rid)
    assert _line_files(world, "Bill") == [
        {f"receipt-{t1}.pdf": PDF},
        {},
        {f"receipt-{t3}.jpg": JPEG},
    ]
    assert _header_files(world, "Bill") == {}
    assert _receipt_trail(world, rid) == [
        ("attached", f"receipt-{t1}.pdf on line 1"),
        ("attached", f"receipt-{t3}.jpg on line 3"),
    ]
    # The create's answer brought the lines' links: no read of the bill by its keys.
    reads = [p for m, p, _ in world.acumatica.request_log if m == "GET" and "/Bill/Bill/" in p]
    assert reads == []
    world.clock.now += timedelta(hours=1)
    assert world.sync().posted == 0
    assert len(_receipt_trail(world, rid)) == 2  # nothing attached again


def test_journal_receipts_go_to_the_expense_lines(world: World, base: str) -> None:
    _rules(world, receipts_on=ReceiptTarget.LINE,
           reimbursable_target=ReimbursableTarget.JOURNAL)  # fmt: skip
    exp = world.expensify
    urls = [base + exp.add_receipt("j1.pdf", PDF, "application/pdf"),
            base + exp.add_receipt("j2.jpg", JPEG)]  # fmt: skip
    rid = _report(world, 2, urls)
    world.sync()
    t1, t2 = _tids(world, rid)
    # Two debit lines, then the credit line to the liability account (no receipt).
    assert _line_files(world, "JournalTransaction") == [
        {f"receipt-{t1}.pdf": PDF},
        {f"receipt-{t2}.jpg": JPEG},
        {},
    ]


def test_claim_receipts_go_to_the_claim_lines_end_to_end(world: World, base: str) -> None:
    """An expense claim (both emulators): each claim line carries its expense's receipt
    through the line's files:put link; a second sync attaches nothing."""
    world.seed_claimants()  # EMP0001, expense items TRAVEL and MEALS
    _rules(world, receipts_on=ReceiptTarget.LINE,
           reimbursable_target=ReimbursableTarget.EXPENSE_CLAIM,
           expense_items={"Travel": "TRAVEL", "Meals": "MEALS"})  # fmt: skip
    exp = world.expensify
    urls = [base + exp.add_receipt("c1.pdf", PDF, "application/pdf"),
            base + exp.add_receipt("c2.jpg", JPEG), None]  # fmt: skip
    rid = _report(world, 9, urls)
    (outcome,) = world.sync().outcomes
    assert (outcome.action.value, outcome.warnings) == ("posted", ())
    (claim,) = world.acumatica.records("ExpenseClaim")
    assert [line["ExpenseItemID"] for line in claim["Details"]] == ["TRAVEL", "MEALS", "TRAVEL"]
    t1, t2, _ = _tids(world, rid)
    assert _line_files(world, "ExpenseClaim") == [
        {f"receipt-{t1}.pdf": PDF},
        {f"receipt-{t2}.jpg": JPEG},
        {},
    ]
    assert world.acumatica.files("ExpenseClaim", str(claim["id"])) == {}  # not the header
    assert _receipt_trail(world, rid) == [
        ("attached", f"receipt-{t1}.pdf on line 1"),
        ("attached", f"receipt-{t2}.jpg on line 2"),
    ]
    links = [
        p for m, p, _ in world.acumatica.request_log if m == "PUT" and "/files/" in p
    ]  # through the claim lines' own links (ExpenseClaimDetails), never the header's
    assert len(links) == 2
    assert all("/files/PX.Objects.EP.ExpenseClaimEntry/ExpenseClaimDetails/" in p for p in links)

    world.clock.now += timedelta(hours=1)
    world.acumatica.request_log.clear()
    second = world.sync()
    assert (second.posted, second.warnings) == (0, ())
    puts = [p for m, p, _ in world.acumatica.request_log if m == "PUT"]
    assert [p for p in puts if "/files/" in p or "ExpenseClaim" in p] == []  # nothing again
    assert len(world.acumatica.records("ExpenseClaim")) == 1
    assert len(_receipt_trail(world, rid)) == 2
    assert _line_files(world, "ExpenseClaim")[:2] == [
        {f"receipt-{t1}.pdf": PDF},
        {f"receipt-{t2}.jpg": JPEG},
    ]


def test_a_line_without_a_link_gets_its_receipt_on_the_header(
    world: World, base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from expense_bridge._ledger import AcumaticaLedger

    original = AcumaticaLedger.links

    def without_first(self: AcumaticaLedger, document: Any, *, read: bool = True) -> Any:
        links = original(self, document, read=read)
        if links is None:
            return None
        lines = links.details["Details"]
        return attrs.evolve(links, details={"Details": (None, *lines[1:])})

    monkeypatch.setattr(AcumaticaLedger, "links", without_first)
    _rules(world, receipts_on=ReceiptTarget.LINE)
    exp = world.expensify
    urls = [base + exp.add_receipt("h1.pdf", PDF, "application/pdf"),
            base + exp.add_receipt("h2.jpg", JPEG)]  # fmt: skip
    rid = _report(world, 3, urls)
    world.sync()
    t1, t2 = _tids(world, rid)
    assert _header_files(world, "Bill") == {f"receipt-{t1}.pdf": PDF}
    assert _line_files(world, "Bill") == [{}, {f"receipt-{t2}.jpg": JPEG}]
    assert _receipt_trail(world, rid) == [
        ("on header", f"transaction {t1}: line 1 has no files:put link"),
        ("attached", f"receipt-{t1}.pdf"),
        ("attached", f"receipt-{t2}.jpg on line 2"),
    ]


def test_an_adopted_document_is_read_once_for_its_lines_and_links(world: World, base: str) -> None:
    _rules(world, receipts_on=ReceiptTarget.LINE)
    exp = world.expensify
    urls = [base + exp.add_receipt("l1.pdf", PDF, "application/pdf"),
            base + exp.add_receipt("l2.jpg", JPEG)]  # fmt: skip
    rid = _report(world, 4, urls)
    world.acumatica.inject(method="PUT", path="/Bill", drop_response=True)  # the create's
    first = world.sync()
    assert first.posted == 0
    assert len(world.acumatica.records("Bill")) == 1  # stored; its answer was lost
    world.clock.now += timedelta(hours=1)
    world.acumatica.request_log.clear()
    world.sync()
    t1, t2 = _tids(world, rid)
    assert _line_files(world, "Bill") == [{f"receipt-{t1}.pdf": PDF}, {f"receipt-{t2}.jpg": JPEG}]
    log = world.acumatica.request_log
    reads = [p for m, p, _ in log if m == "GET" and "/Bill/Bill/" in p]
    assert len(reads) == 1  # the adoption's read (lines and links), not one per line
    assert [m for m, p, _ in log if p.endswith("/Bill")].count("PUT") == 0  # never re-sent


def test_a_lost_attach_answer_on_a_line_leaves_one_file(world: World, base: str) -> None:
    _rules(world, receipts_on=ReceiptTarget.LINE)
    url = base + world.expensify.add_receipt("lost.pdf", PDF, "application/pdf")
    rid = _report(world, 5, [url])
    world.acumatica.inject(method="PUT", path="/files/PX.Objects.AP.APInvoiceEntry/Transactions/",
                           drop_response=True)  # fmt: skip
    world.sync()
    (tid,) = _tids(world, rid)
    puts = [s for m, p, s in world.acumatica.request_log if m == "PUT" and "/Transactions/" in p]
    assert puts == [0, 204]  # the answer was lost after the file was stored; repeated
    assert _line_files(world, "Bill") == [{f"receipt-{tid}.pdf": PDF}]
    assert _receipt_trail(world, rid) == [("attached", f"receipt-{tid}.pdf on line 1")]


# ------------------------------------------------------- retries of failed receipts


def test_a_failed_receipt_is_attached_by_the_next_sync_without_a_repost(
    world: World, base: str
) -> None:
    _rules(world, receipts_on=ReceiptTarget.LINE)
    token = "sig-91f2c7"
    url = f"{base}/receipts/late.pdf?token={token}"
    rid = _report(world, 6, [url])
    first = world.sync()
    (outcome,) = first.outcomes
    assert "HTTP 404" in outcome.warnings[0]
    assert _line_files(world, "Bill") == [{}]

    world.expensify.add_receipt("late.pdf", PDF, "application/pdf")  # reachable now
    world.clock.now += timedelta(hours=1)
    world.acumatica.request_log.clear()
    second = world.sync()
    assert second.posted == 0
    assert second.warnings == ()
    assert [m for m, p, _ in world.acumatica.request_log if p.endswith("/Bill")] == []
    (tid,) = _tids(world, rid)
    assert _line_files(world, "Bill") == [{f"receipt-{tid}.pdf": PDF}]
    trail = _receipt_trail(world, rid)
    assert [o for o, _ in trail] == ["warning", "attached", "complete"]
    assert trail[1] == ("attached", f"receipt-{tid}.pdf on line 1")
    blob = repr(world.store.audit_trail(rid)) + repr(first) + repr(second)
    assert token not in blob
    assert "late.pdf?" not in blob

    world.clock.now += timedelta(hours=1)
    third = world.sync()
    assert third.calls.expensify <= second.calls.expensify - 1  # no re-export: nothing due
    assert len(_receipt_trail(world, rid)) == 3


def test_a_retry_another_run_finished_before_our_claim_is_not_taken_again(
    world: World, base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry judges a report again on what it reads after its claim: when another run
    finished the retry between our first read and our claim, nothing is attempted or
    audited twice."""
    from expense_bridge import _posting

    _rules(world)
    rid = _report(world, 8, [f"{base}/receipts/later.pdf"])
    world.sync()
    world.expensify.add_receipt("later.pdf", PDF, "application/pdf")  # reachable now
    world.clock.now += timedelta(hours=1)
    claim = _posting.claim_reports
    raced: list[str] = []

    def claim_after_another_run(*args: Any, **kw: Any) -> Any:
        if not raced:  # the other run's whole retry happens before our claim
            raced.append("other run")
            world.sync()
        return claim(*args, **kw)

    monkeypatch.setattr(_posting, "claim_reports", claim_after_another_run)
    world.sync()
    assert raced == ["other run"]
    assert [o for o, _ in _receipt_trail(world, rid)] == ["warning", "attached", "complete"]
    assert len(_header_files(world, "Bill")) == 1


def test_receipts_of_a_report_changed_after_posting_are_abandoned_once(
    world: World, base: str
) -> None:
    """A report edited after posting: its receipts belong to content that was not
    posted, so the retry closes it as ``abandoned`` (once: not also ``complete``),
    attaches nothing and never tries again."""
    _rules(world)
    rid = _report(world, 9, [f"{base}/receipts/edited.pdf"])
    world.sync()
    world.expensify.add_receipt("edited.pdf", PDF, "application/pdf")  # reachable now
    now = world.clock.now + timedelta(hours=1)
    world.expensify.reopen(rid, now)
    stored = world.expensify._backend.find_report(rid)  # no edit call: its state is edited
    assert stored is not None
    stored.expenses[0].spec = attrs.evolve(stored.expenses[0].spec, merchant="Edited")
    world.expensify.submit(rid, now + timedelta(minutes=1))
    world.expensify.approve(rid, now + timedelta(minutes=2))
    world.clock.now = now + timedelta(hours=1)
    world.sync()
    assert _receipt_trail(world, rid) == [
        ("warning", _receipt_trail(world, rid)[0][1]),
        ("abandoned", "the report changed after posting"),
    ]
    assert _header_files(world, "Bill") == {}
    assert len(world.acumatica.records("Bill")) == 1
    world.clock.now += timedelta(hours=1)
    world.sync()
    assert len(_receipt_trail(world, rid)) == 2


def test_a_report_the_retry_export_cannot_read_is_a_warning_saying_why(
    world: World, base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The re-export holds the report but the parser could not build it: the warning
    names the parser's problem (not "deleted or moved?"), nothing is attached, and it
    counts an attempt like any other warning."""
    from expense_bridge._source import ExpensifySource
    from expensify_client import ReportProblem, UnparsedReport

    _rules(world)
    rid = _report(world, 10, [f"{base}/receipts/unread.pdf"])
    world.sync()
    world.expensify.add_receipt("unread.pdf", PDF, "application/pdf")  # reachable now
    problem = ReportProblem(
        field="reports[0].currency", message="unknown currency", value_repr="'HRK'"
    )
    unread = UnparsedReport(report_id=rid, problems=(problem,), raw={})
    monkeypatch.setattr(ExpensifySource, "fetch_by_ids", lambda *a, **kw: [unread])
    world.clock.now += timedelta(hours=1)
    second = world.sync()
    why = f"receipt retry: the report cannot be read from the export ({problem})"
    assert second.warnings == (f"report {rid}: {why} (attempt 2 of 3)",)
    assert _receipt_trail(world, rid)[1:] == [("warning", why)]
    assert _header_files(world, "Bill") == {}


def test_retries_stop_after_the_configured_attempts(world: World, base: str) -> None:
    _rules(world, receipt_attempts=3)
    rid = _report(world, 7, [f"{base}/receipts/never.pdf"])
    for _ in range(5):
        world.sync()
        world.clock.now += timedelta(hours=1)
    outcomes = [o for o, _ in _receipt_trail(world, rid)]
    assert outcomes == ["warning", "warning", "warning", "abandoned"]
    assert len(world.acumatica.records("Bill")) == 1
    assert _header_files(world, "Bill") == {}


def test_a_lost_attach_answer_on_the_retry_leaves_one_file(world: World, base: str) -> None:
    _rules(world, receipts_on=ReceiptTarget.LINE)
    rid = _report(world, 8, [f"{base}/receipts/retry.jpg"])
    world.sync()
    world.expensify.add_receipt("retry.jpg", JPEG)
    world.clock.now += timedelta(hours=1)
    world.acumatica.inject(method="PUT", path="/files/", drop_response=True)
    second = world.sync()
    assert second.warnings == ()
    (tid,) = _tids(world, rid)
    assert _line_files(world, "Bill") == [{f"receipt-{tid}.jpg": JPEG}]
    attached = [d for o, d in _receipt_trail(world, rid) if o == "attached"]
    assert attached == [f"receipt-{tid}.jpg on line 1"]
    world.clock.now += timedelta(hours=1)
    world.sync()
    assert [d for o, d in _receipt_trail(world, rid) if o == "attached"] == attached


def test_receipt_options_come_from_the_configuration() -> None:
    from expense_bridge import BridgeConfig

    config = BridgeConfig.from_mapping({
        "acumatica": {"base_url": "https://erp.test", "endpoint_version": "24.200.001",
                      "username": "u", "client_id": "c@T"},
        "expensify": {"partner_user_id": "p"}, "policies": ["P1"],
        "rules": {"attach_receipts": True, "receipts_on": "line", "receipt_attempts": 5},
    })  # fmt: skip
    assert config.rules.receipts_on is ReceiptTarget.LINE
    assert config.rules.receipt_attempts == 5
    assert PostingRules().receipts_on is ReceiptTarget.DOCUMENT
    assert PostingRules().receipt_attempts == 3


def test_the_plan_says_which_line_carries_which_expense() -> None:
    """Bill: one line per expense; a tax split (tax_account) inserts a tax line carrying no
    receipt; journal credit lines carry none. The map always has one entry per line."""
    from datetime import date
    from decimal import Decimal

    from expense_bridge._tax import TaxRules, apply_tax
    from expense_bridge.mapping import plan_report

    from .fakes import CATALOG, POLICY, expense, report

    vat = {"has_tax": True, "tax_amount_cents": 2000, "tax_code": "VAT20", "tax_rate": Decimal(20)}
    rep = report("R9", expense("R9-1", 12000, **vat), expense("R9-2", 3000))
    rules = PostingRules(employee_liability_account="21000", card_liability_account="22000")

    def plan(**changes: Any) -> Any:
        return plan_report(rep, policy=POLICY, catalog=CATALOG, posting_date=date(2026, 11, 20),
                           rules=attrs.evolve(rules, **changes))[0]  # fmt: skip

    bill = plan()
    assert bill.line_transactions == (("R9-1",), ("R9-2",))
    split = apply_tax(bill, rep, TaxRules(tax_account="23000"))
    assert split.line_transactions == (("R9-1",), (), ("R9-2",))
    assert len(split.line_transactions) == len(split.document.details)
    journal = plan(reimbursable_target=ReimbursableTarget.JOURNAL)
    assert journal.line_transactions == (("R9-1",), ("R9-2",), ())  # then the credit line
    assert len(journal.line_transactions) == len(journal.document.details)
    both = apply_tax(journal, rep, TaxRules(tax_account="23000"))
    assert both.line_transactions == (("R9-1",), (), ("R9-2",), ())
    assert len(both.line_transactions) == len(both.document.details)
