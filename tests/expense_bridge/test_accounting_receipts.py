"""Receipts (issue 11): served by the Expensify emulator over loopback, checked, attached
to the posted bill in the Acumatica emulator once per receipt."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from acumatica_client import Bill
from expense_bridge._receipts import (
    AcumaticaFiles,
    ReceiptFetcher,
    attach_receipts,
    receipt_name,
)
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
