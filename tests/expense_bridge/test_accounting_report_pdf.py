"""The report PDF with full-page receipts (issue 11): exported from the Expensify emulator
one report per job, checked, attached to every document of the report once."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import attrs
import httpx
import pytest

from expense_bridge import Action, ReportStatus
from expense_bridge._config import BridgeConfig
from expense_bridge._keys import DocumentKind
from expense_bridge._ports import LedgerDocument
from expense_bridge._report_pdf import (
    REPORT_PDF_STEP,
    ReportPdfFetcher,
    attach_report_pdf,
    report_pdf_name,
)
from expense_bridge._rules import ReimbursableTarget
from expensify_client import (
    ClientOptions,
    Credentials,
    ExpensifyClient,
    ExportFilters,
    ExportRequest,
    InvalidRequestError,
    RateLimiter,
    ReportState,
)
from expensify_client.emulator import API_PATH, ExpenseSpec

from .test_accounting_support import (
    PARTNER,
    PARTNER_SECRET,
    SECRETS,
    World,
    close_world,
    make_world,
)

RECEIPT = b"%PDF-1.4\n% a receipt\n" + b"0" * 200
JPEG = b"\xff\xd8\xff\xe0" + b"1" * 300
DOC_KEYS = {"Bill": "ReferenceNbr", "JournalTransaction": "BatchNbr", "ExpenseClaim": "RefNbr"}


@attrs.define
class Recorder:
    """The Expensify emulator behind a transport that keeps every job description sent."""

    inner: Any
    jobs: list[dict[str, Any]] = attrs.field(factory=list)
    templates: list[str | None] = attrs.field(factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        self.jobs.append(json.loads(form["requestJobDescription"][0]))
        self.templates.append(form.get("template", [None])[0])
        response: httpx.Response = self.inner(request)
        return response

    def pdf_exports(self) -> list[dict[str, Any]]:
        return [
            j
            for j in self.jobs
            if j["type"] == "file" and j["outputSettings"]["fileExtension"] == "pdf"
        ]

    def pdf_downloads(self) -> list[dict[str, Any]]:
        return [j for j in self.jobs if j["type"] == "download" and j["fileName"].endswith(".pdf")]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = make_world(tmp_path)
    w.seed_claimants()  # for the claim target
    yield w
    close_world(w)


@pytest.fixture
def recorder(world: World) -> Recorder:
    """Replace the world's Expensify client by one whose requests are recorded."""
    rec = Recorder(world.expensify)
    clock = world.clock
    world.exp_client.close()
    world.exp_client = ExpensifyClient(
        credentials=Credentials(partner_user_id=PARTNER, partner_user_secret=PARTNER_SECRET),
        transport=httpx.MockTransport(rec),
        options=ClientOptions(
            sleep=clock.sleep, jitter=lambda: 0.0, today=lambda: clock.now.date(),
            limits=RateLimiter(clock=clock.monotonic, sleep=clock.sleep),
        ),
    )  # fmt: skip
    return rec


@pytest.fixture
def base(world: World) -> Iterator[str]:
    with world.expensify.serve() as server:
        yield str(server.base_url).rstrip("/")


def with_rules(world: World, **rules: Any) -> None:
    world.config = attrs.evolve(
        world.config,
        rules=attrs.evolve(world.config.rules, attach_report_pdf=True, **rules),
    )


def files_of(world: World, entity: str) -> list[dict[str, bytes]]:
    return [world.acumatica.files(entity, str(r["id"])) for r in world.acumatica.records(entity)]


def pdf_trail(world: World, rid: str) -> list[tuple[str, str | None, str | None]]:
    return [
        (e.outcome, e.document, e.detail)
        for e in world.store.audit_trail(rid)
        if e.step == REPORT_PDF_STEP
    ]


def check_pdf(content: bytes) -> list[str]:
    """Parse a small PDF: every xref offset points at its object; returns each page's text."""
    assert content.startswith(b"%PDF-1.4\n")
    assert content.rstrip().endswith(b"%%EOF")
    startxref = int(re.findall(rb"startxref\n(\d+)\n", content)[-1])
    assert content[startxref:].startswith(b"xref\n")
    head = re.match(rb"xref\n0 (\d+)\n", content[startxref:])
    assert head is not None
    count = int(head.group(1))
    table = content[startxref + head.end() :].split(b"trailer")[0]
    entries = [table[i : i + 20] for i in range(0, 20 * count, 20)]
    assert entries[0] == b"0000000000 65535 f \n"
    objects: dict[int, bytes] = {}
    for number, entry in enumerate(entries[1:], start=1):
        assert entry.endswith(b" 00000 n \n")
        offset = int(entry[:10])
        assert content[offset:].startswith(b"%d 0 obj\n" % number)
        objects[number] = content[offset : content.index(b"endobj", offset)]
    (pages_obj,) = [o for o in objects.values() if b"/Type /Pages" in o]
    kids = [int(k) for k in re.findall(rb"(\d+) 0 R", pages_obj.split(b"/Kids")[1])]
    assert int(re.findall(rb"/Count (\d+)", pages_obj)[0]) == len(kids)
    texts = []
    for kid in kids:
        assert b"/Type /Page " in objects[kid]
        contents = int(re.findall(rb"/Contents (\d+) 0 R", objects[kid])[0])
        stream = objects[contents]
        length = int(re.findall(rb"/Length (\d+)", stream)[0])
        body = stream.split(b"stream\n", 1)[1][:length]
        texts.append(b"\n".join(re.findall(rb"\((.*?)\) Tj", body)).decode("latin-1"))
    return texts


def add_report(world: World, n: int, receipts: list[str | None], *, card: bool = False) -> str:
    """A report with one expense per entry of ``receipts`` (a receipt link or None)."""
    specs = [
        ExpenseSpec(
            amount_cents=1_000 + 10 * n + i,
            currency="USD",
            created=world.clock.now.date() - timedelta(days=10),
            merchant=f"Merchant {n}-{i}",
            category="Travel",
            receipt_url=url,
            reimbursable=not (card and i == len(receipts) - 1),
        )
        for i, url in enumerate(receipts)
    ]
    rid = world.expensify.add_report(
        "POL1", submitter="ann@firm.test", name=f"Trip {n}", currency="USD", expenses=specs,
        created=world.clock.now - timedelta(days=3),
    )  # fmt: skip
    world.expensify.submit(rid, world.clock.now - timedelta(days=2))
    world.expensify.approve(rid, world.clock.now - timedelta(hours=1))
    return rid


# --------------------------------------------------------------------------- the emulator


class TestEmulatorPdf:
    """The emulator's pdf export: one valid PDF per report, receipts as full pages."""

    def test_one_pdf_per_report_with_a_page_per_receipt(self, world: World, base: str) -> None:
        r1 = base + world.expensify.add_receipt("a.pdf", RECEIPT, "application/pdf")
        r2 = base + world.expensify.add_receipt("b.jpg", JPEG)
        two = add_report(world, 1, [r1, r2, None])
        none = add_report(world, 2, [None])
        request = ExportRequest(filters=ExportFilters(report_ids=(two, none)),
                                file_extension="pdf", full_page_receipts=True)  # fmt: skip
        names = world.exp_client.export_files(request, "default")
        assert len(names) == 2
        assert list(names) == sorted(names)  # answered in name order, not report order
        pages = [check_pdf(world.exp_client.download(name)) for name in names]
        by_report = {p[0].splitlines()[0].removeprefix("Expense report "): p for p in pages}
        assert set(by_report) == {two, none}
        summary, first, second = by_report[two]
        assert "Total: 30.33 USD" in summary  # 10.10 + 10.11 + 10.12
        assert summary.count("(transaction ") == 3
        assert "Receipt file: a.pdf" in first
        assert "Receipt file: b.jpg" in second
        assert len(by_report[none]) == 1  # no receipt, no receipt page
        assert world.expensify.exported_labels(two) == frozenset()

    def test_without_the_option_only_the_report_pages(self, world: World, base: str) -> None:
        rid = add_report(world, 1, [base + world.expensify.add_receipt("a.pdf", RECEIPT)])
        request = ExportRequest(filters=ExportFilters(report_ids=(rid,)), file_extension="pdf")
        (name,) = world.exp_client.export_files(request, "default")
        assert len(check_pdf(world.exp_client.download(name))) == 1

    def test_a_non_boolean_flag_is_refused_and_no_report_gives_no_name(self, world: World) -> None:
        def post(output: dict[str, Any], ids: str) -> httpx.Response:
            job = {
                "type": "file",
                "credentials": {"partnerUserID": PARTNER, "partnerUserSecret": PARTNER_SECRET},
                "onReceive": {"immediateResponse": ["returnRandomFileName"]},
                "inputSettings": {"type": "combinedReportData", "filters": {"reportIDList": ids}},
                "outputSettings": output,
            }
            form = {"requestJobDescription": json.dumps(job), "template": "default"}
            return world.expensify(httpx.Request("POST", "https://x" + API_PATH, data=form))

        rid = add_report(world, 1, [None])
        refused = post({"fileExtension": "pdf", "includeFullPageReceiptsPdf": "true"}, rid)
        assert json.loads(refused.content)["responseCode"] == 410
        empty = post({"fileExtension": "pdf", "includeFullPageReceiptsPdf": True}, "R0NONE")
        assert (empty.status_code, empty.content) == (200, b"")

    def test_the_client_sends_the_flag_only_with_pdf(self) -> None:
        with pytest.raises(InvalidRequestError) as caught:
            ExportRequest(filters=ExportFilters(report_ids=("R1",)), full_page_receipts=True
                          ).validate(today=world_today())  # fmt: skip
        assert caught.value.field == "outputSettings.includeFullPageReceiptsPdf"


def world_today() -> Any:
    from tests.bridge_world import START

    return START.date()


# --------------------------------------------------------------------------- the fetcher


def test_the_pdf_job_marks_nothing_and_names_one_report(world: World, recorder: Recorder) -> None:
    rid = add_report(world, 1, [None])
    content = ReportPdfFetcher(world.exp_client).fetch(rid)
    assert check_pdf(content)[0].startswith(f"Expense report {rid}")
    (job,) = recorder.pdf_exports()
    assert "onFinish" not in job
    assert job["onReceive"] == {"immediateResponse": ["returnRandomFileName"]}  # required
    assert job["inputSettings"]["filters"] == {"reportIDList": rid}  # no markedAsExported
    assert set(job["inputSettings"]["reportState"].split(",")) == {s.value for s in ReportState}
    assert job["outputSettings"] == {"fileExtension": "pdf", "includeFullPageReceiptsPdf": True}
    assert recorder.templates[0] == "default"
    assert len(recorder.jobs) == 2  # export + download
    assert world.expensify.exported_labels(rid) == frozenset()
    assert not ReportPdfFetcher.request(rid).marks


def test_nothing_is_exported_when_every_document_has_it(world: World, recorder: Recorder) -> None:
    doc = LedgerDocument(key="EXB-R1", kind=DocumentKind.BILL, number="Bill 000001")  # fmt: skip
    put: list[str] = []
    result = attach_report_pdf(
        "R1", [doc], fetcher=ReportPdfFetcher(world.exp_client),
        put_file=lambda d, name, data: put.append(name), done={"Bill 000001"},
    )  # fmt: skip
    assert (result.attached, result.skipped, put, recorder.jobs) == ((), ("Bill 000001",), [], [])
    assert report_pdf_name("R1/../x") == "report-R1_.._x.pdf"


def test_an_oversized_or_foreign_file_is_a_warning(world: World) -> None:
    rid = add_report(world, 1, [None])
    doc = LedgerDocument(key="EXB-1", kind=DocumentKind.BILL, number="Bill 000009")  # fmt: skip
    result = attach_report_pdf(rid, [doc], fetcher=ReportPdfFetcher(world.exp_client,
                               max_bytes=100), put_file=lambda d, n, c: None)  # fmt: skip
    assert result.attached == ()
    assert result.warnings == (f"report PDF of report {rid}: larger than the 100-byte limit",)


# --------------------------------------------------------------------------- through sync()


def test_sync_attaches_the_pdf_to_the_bill_once(
    world: World, base: str, recorder: Recorder
) -> None:
    receipt = base + world.expensify.add_receipt("r1.pdf", RECEIPT, "application/pdf")
    rid = add_report(world, 1, [receipt])
    with_rules(world)
    result = world.sync()
    (outcome,) = result.outcomes
    assert (outcome.action, outcome.warnings) == (Action.POSTED, ())
    (files,) = files_of(world, "Bill")
    assert list(files) == [f"report-{rid}.pdf"]
    pages = check_pdf(files[f"report-{rid}.pdf"])
    assert pages[0].startswith(f"Expense report {rid}")
    assert "Receipt file: r1.pdf" in pages[1]
    (bill,) = world.acumatica.records("Bill")
    number = f"{bill['Type']} {bill['ReferenceNbr']}"
    assert pdf_trail(world, rid) == [("attached", number, f"report-{rid}.pdf")]
    # the main export's label filter and marking are unchanged; the pdf job marked nothing
    main = [j for j in recorder.jobs if j["type"] == "file" and j not in recorder.pdf_exports()]
    label = world.config.export_label
    pulls = [j for j in main if "onFinish" not in j]
    marks = [j for j in main if "onFinish" in j]
    assert pulls
    assert all(j["inputSettings"]["filters"]["markedAsExported"] == label for j in pulls)
    assert all(j["onFinish"] == [{"actionName": "markAsExported", "label": label}] for j in marks)
    assert all("onFinish" not in j for j in recorder.pdf_exports())
    assert world.expensify.exported_labels(rid) == {world.config.export_label}
    assert not any(s.encode() in files[f"report-{rid}.pdf"] for s in SECRETS)

    jobs_before = len(recorder.jobs)
    world.clock.now += timedelta(hours=1)
    second = world.sync()
    assert second.posted == 0
    assert files_of(world, "Bill") == [files]
    assert len(pdf_trail(world, rid)) == 1
    assert recorder.pdf_exports()[1:] == []  # nothing exported again
    assert not recorder.pdf_downloads()[1:]
    assert len(recorder.jobs) > jobs_before  # the second sync did run


@pytest.mark.parametrize(
    ("target", "entity"),
    [("journal", "JournalTransaction"), ("expense_claim", "ExpenseClaim")],
)
def test_every_target_gets_the_pdf(world: World, target: str, entity: str) -> None:
    rid = add_report(world, 1, [None])
    rules: dict[str, Any] = {"reimbursable_target": ReimbursableTarget(target)}
    if target == "expense_claim":
        rules["expense_items"] = {"Travel": "TRAVEL"}
    with_rules(world, **rules)
    (outcome,) = world.sync().outcomes
    assert (outcome.action, outcome.warnings) == (Action.POSTED, ())
    assert [list(f) for f in files_of(world, entity)] == [[f"report-{rid}.pdf"]]
    assert [o for o, _, _ in pdf_trail(world, rid)] == ["attached"]


def test_two_documents_one_export(world: World, recorder: Recorder) -> None:
    """A reimbursable bill and a card journal: the same PDF on both, exported once."""
    rid = add_report(world, 1, [None, None], card=True)
    with_rules(world, card_liability_account="21000")
    (outcome,) = world.sync().outcomes
    assert outcome.action is Action.POSTED
    assert len(outcome.documents) == 2
    assert [list(f) for f in files_of(world, "Bill")] == [[f"report-{rid}.pdf"]]
    assert [list(f) for f in files_of(world, "JournalTransaction")] == [[f"report-{rid}.pdf"]]
    assert sorted(str(d) for _, d, _ in pdf_trail(world, rid)) == sorted(outcome.documents)
    assert len(recorder.pdf_exports()) == 1
    assert len(recorder.pdf_downloads()) == 1


def test_the_call_budget_is_two_calls_per_report(world: World, recorder: Recorder) -> None:
    rids = [add_report(world, n, [None]) for n in range(3)]
    with_rules(world)
    result = world.sync()
    assert result.posted == 3
    exports = recorder.pdf_exports()
    assert sorted(j["inputSettings"]["filters"]["reportIDList"] for j in exports) == sorted(rids)
    assert len(recorder.pdf_downloads()) == 3
    pdf_calls = len(exports) + len(recorder.pdf_downloads())
    assert pdf_calls == 2 * len(rids)
    assert result.calls.expensify == len(recorder.jobs)  # nothing else was sent for it
    assert len(recorder.jobs) - pdf_calls == _calls_without_pdf(world)


def _calls_without_pdf(world: World) -> int:
    """What the same sync costs without the option (a fresh world, same reports)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        other = make_world(Path(tmp))
        try:
            for n in range(3):
                add_report(other, n, [None])
            return other.sync().calls.expensify
        finally:
            close_world(other)


# --------------------------------------------------------------------------- failures


def test_a_lost_attach_answer_leaves_one_file_and_one_audit_line(world: World) -> None:
    rid = add_report(world, 1, [None])
    with_rules(world)
    world.acumatica.inject(method="PUT", path="/files/", drop_response=True)
    (outcome,) = world.sync().outcomes
    assert (outcome.action, outcome.warnings) == (Action.POSTED, ())
    assert [list(f) for f in files_of(world, "Bill")] == [[f"report-{rid}.pdf"]]
    assert [o for o, _, _ in pdf_trail(world, rid)] == ["attached"]
    puts = [s for m, p, s in world.acumatica.request_log if m == "PUT" and "/files/" in p]
    assert puts == [0, 204]  # the first answer was lost after the file was stored
    assert len(world.acumatica.records("Bill")) == 1


def _fail_the_pdf_download(world: World, rid: str) -> None:
    """A sync that posts ``rid`` while the pdf's download fails (a warning, posted)."""

    def on_step(step: str, report_id: str) -> None:
        if step == "intent":  # after the main export was downloaded: only the pdf's fails
            world.expensify.inject(job_type="download", status=500, times=50)

    result = world.sync(on_step=on_step)
    world.expensify.clear_faults()
    (outcome,) = result.outcomes
    assert outcome.action is Action.POSTED
    assert outcome.warnings == (f"report PDF of report {rid}: download failed (ServerError)",)


def test_a_failed_download_is_a_warning_and_the_next_sync_attaches_it(
    world: World, recorder: Recorder
) -> None:
    rid = add_report(world, 1, [None])
    with_rules(world)
    _fail_the_pdf_download(world, rid)
    record = world.store.get(world.config.connection, rid)
    assert record is not None
    assert record.status is ReportStatus.POSTED
    assert [o for o, _, _ in pdf_trail(world, rid)] == ["warning"]
    assert files_of(world, "Bill") == [{}]
    assert world.expensify.exported_labels(rid) == {world.config.export_label}
    assert len(recorder.pdf_exports()) == 1

    world.clock.now += timedelta(hours=1)
    world.acumatica.request_log.clear()
    second = world.sync()
    assert (second.posted, second.warnings, second.errors) == (0, (), ())
    assert len(world.acumatica.records("Bill")) == 1
    assert [m for m, p, _ in world.acumatica.request_log if p.endswith("/Bill")] == []  # no post
    (bill,) = world.acumatica.records("Bill")
    number = f"{bill['Type']} {bill['ReferenceNbr']}"
    assert pdf_trail(world, rid) == [
        ("warning", None, f"report PDF of report {rid}: download failed (ServerError)"),
        ("attached", number, f"report-{rid}.pdf"),
        ("complete", None, "attempt 2"),
    ]
    (files,) = files_of(world, "Bill")
    assert list(files) == [f"report-{rid}.pdf"]
    assert check_pdf(files[f"report-{rid}.pdf"])[0].startswith(f"Expense report {rid}")
    exports = recorder.pdf_exports()
    assert len(exports) == 2  # the retry exported this report alone, again unmarked
    assert exports[1]["inputSettings"]["filters"] == {"reportIDList": rid}
    assert "onFinish" not in exports[1]

    world.clock.now += timedelta(hours=1)
    third = world.sync()
    assert (third.posted, third.warnings) == (0, ())
    assert len(recorder.pdf_exports()) == 2  # complete: nothing due any more
    assert len(pdf_trail(world, rid)) == 3


def _change_after_posting(world: World, rid: str) -> None:
    """An admin re-opens the posted report, edits an expense's merchant, and it is
    submitted and approved again (the emulator has no edit call: its state is edited)."""
    now = world.clock.now
    world.expensify.reopen(rid, now)
    stored = world.expensify._backend.find_report(rid)
    assert stored is not None
    stored.expenses[0].spec = attrs.evolve(stored.expenses[0].spec, merchant="Edited merchant")
    world.expensify.submit(rid, now + timedelta(minutes=1))
    world.expensify.approve(rid, now + timedelta(minutes=2))


def _refuse_the_pdf_attach(world: World, rid: str) -> None:
    """A sync that posts ``rid`` (and marks it exported) while Acumatica refuses the
    PDF's upload: a warning on a posted, acknowledged report."""
    world.acumatica.inject(method="PUT", path="/files/", status=500, times=10_000)
    (outcome,) = world.sync().outcomes
    world.acumatica.clear_faults()
    assert outcome.action is Action.POSTED
    assert len(outcome.warnings) == 1
    record = world.store.get(world.config.connection, rid)
    assert record is not None
    assert record.status is ReportStatus.ACKNOWLEDGED


def test_a_report_changed_after_posting_gets_no_pdf_of_its_new_content(
    world: World, recorder: Recorder
) -> None:
    """The retry exports the due reports again first: one whose content changed since it
    was posted is abandoned -- a PDF of the new content must not go onto the document
    posted from the old -- and is not tried again."""
    rid = add_report(world, 1, [None])
    with_rules(world)
    _refuse_the_pdf_attach(world, rid)
    world.clock.now += timedelta(hours=1)
    _change_after_posting(world, rid)
    world.clock.now += timedelta(hours=1)
    second = world.sync()
    assert second.posted == 0
    assert [(o, d) for o, _, d in pdf_trail(world, rid)][1:] == [
        ("abandoned", "the report changed after posting"),
    ]
    assert files_of(world, "Bill") == [{}]
    assert len(recorder.pdf_exports()) == 1  # no PDF exported for the edited report
    assert len(world.acumatica.records("Bill")) == 1

    world.clock.now += timedelta(hours=1)
    world.sync()
    assert len(pdf_trail(world, rid)) == 2  # closed: never retried again
    assert len(recorder.pdf_exports()) == 1


def test_a_report_gone_from_expensify_is_a_warning_and_counts_an_attempt(
    world: World, recorder: Recorder
) -> None:
    rid = add_report(world, 1, [None])
    with_rules(world, receipt_attempts=2)
    _refuse_the_pdf_attach(world, rid)
    del world.expensify._backend.reports[rid]  # deleted in Expensify since
    world.clock.now += timedelta(hours=1)
    second = world.sync()
    why = "report PDF retry: the report is not in the export (deleted or moved?)"
    assert second.warnings == (f"report {rid}: {why} (attempt 2 of 2)",)
    assert [o for o, _, _ in pdf_trail(world, rid)] == ["warning", "warning", "abandoned"]
    assert files_of(world, "Bill") == [{}]
    assert len(recorder.pdf_exports()) == 1


def test_pdf_retries_stop_after_the_configured_attempts(world: World, recorder: Recorder) -> None:
    """Every attach refused: a warning per sync up to receipt_attempts, then abandoned."""
    rid = add_report(world, 1, [None])
    with_rules(world, receipt_attempts=3)
    world.acumatica.inject(method="PUT", path="/files/", status=500, times=10_000)
    results = []
    for _ in range(5):
        results.append(world.sync())
        world.clock.now += timedelta(hours=1)
    outcomes = [o for o, _, _ in pdf_trail(world, rid)]
    assert outcomes == ["warning", "warning", "warning", "abandoned"]
    assert pdf_trail(world, rid)[-1][2] == "1 report PDF(s) not attached after 3 attempts"
    assert len(recorder.pdf_exports()) == 3  # the posting run, then two retries
    assert len(recorder.pdf_downloads()) == 3
    assert [len(r.warnings) for r in results] == [0, 1, 1, 0, 0]  # the first: on the outcome
    assert "(attempt 3 of 3)" in results[2].warnings[0]
    assert [r.posted for r in results] == [1, 0, 0, 0, 0]
    assert len(world.acumatica.records("Bill")) == 1
    assert files_of(world, "Bill") == [{}]


def test_a_lost_attach_answer_on_the_retry_leaves_one_file(world: World) -> None:
    rid = add_report(world, 1, [None])
    with_rules(world)
    _fail_the_pdf_download(world, rid)
    world.clock.now += timedelta(hours=1)
    world.acumatica.request_log.clear()
    world.acumatica.inject(method="PUT", path="/files/", drop_response=True)
    second = world.sync()
    assert second.warnings == ()
    puts = [s for m, p, s in world.acumatica.request_log if m == "PUT" and "/files/" in p]
    assert puts == [0, 204]  # the answer was lost after the file was stored; repeated
    assert [list(f) for f in files_of(world, "Bill")] == [[f"report-{rid}.pdf"]]
    assert [o for o, _, _ in pdf_trail(world, rid)] == ["warning", "attached", "complete"]
    world.clock.now += timedelta(hours=1)
    world.sync()
    assert [o for o, _, _ in pdf_trail(world, rid)] == ["warning", "attached", "complete"]
    assert [list(f) for f in files_of(world, "Bill")] == [[f"report-{rid}.pdf"]]


def test_a_sync_with_nothing_due_costs_no_more_expensify_calls(
    world: World, recorder: Recorder
) -> None:
    """One report's PDF attached, another's abandoned: a later sync costs what it costs
    without the option (finding what is due is a store query, no Expensify call)."""
    with_rules(world, receipt_attempts=2)
    ok = add_report(world, 1, [None])
    assert world.sync().posted == 1
    world.clock.now += timedelta(hours=1)
    failed = add_report(world, 2, [None])
    world.acumatica.inject(method="PUT", path="/files/", status=500, times=10_000)
    assert world.sync().posted == 1  # attempt 1: a warning
    world.clock.now += timedelta(hours=1)
    world.sync()  # attempt 2: abandoned
    world.acumatica.clear_faults()
    assert [o for o, _, _ in pdf_trail(world, ok)] == ["attached"]
    assert [o for o, _, _ in pdf_trail(world, failed)] == ["warning", "warning", "abandoned"]
    assert len(recorder.pdf_exports()) == 3

    world.clock.now += timedelta(hours=1)
    with_option = world.sync()
    world.clock.now += timedelta(hours=1)
    world.config = attrs.evolve(
        world.config, rules=attrs.evolve(world.config.rules, attach_report_pdf=False)
    )
    without = world.sync()
    assert with_option.calls.expensify == without.calls.expensify > 0
    assert (with_option.posted, with_option.warnings) == (0, ())
    assert len(recorder.pdf_exports()) == 3  # nothing exported since
    assert len(pdf_trail(world, failed)) == 3


def test_a_failed_export_is_a_warning(world: World) -> None:
    rid = add_report(world, 1, [None])
    with_rules(world)

    def on_step(step: str, report_id: str) -> None:
        if step == "intent":
            world.expensify.inject(job_type="file", response_code=410, times=1)

    (outcome,) = world.sync(on_step=on_step).outcomes
    assert outcome.action is Action.POSTED
    assert outcome.warnings == (f"report PDF of report {rid}: export failed (ValidationError)",)


def test_a_run_that_stopped_after_recording_attaches_it_next_run(world: World) -> None:
    rid = add_report(world, 1, [None])
    with_rules(world)

    class Crash(Exception):
        pass

    def on_step(step: str, report_id: str) -> None:
        if step == "recorded":
            raise Crash

    with pytest.raises(Crash):
        world.sync(on_step=on_step)
    assert files_of(world, "Bill") == [{}]
    world.clock.now += timedelta(minutes=20)  # past the lease
    (outcome,) = world.sync().outcomes
    assert outcome.action is Action.ADOPTED
    assert [list(f) for f in files_of(world, "Bill")] == [[f"report-{rid}.pdf"]]
    assert [o for o, _, _ in pdf_trail(world, rid)] == ["attached"]


def test_the_option_is_in_the_configuration_table() -> None:
    base = {
        "acumatica": {"base_url": "https://erp.test", "endpoint_version": "24.200.001",
                      "username": "admin", "client_id": "c@T"},
        "expensify": {"partner_user_id": "aa_x"},
        "policies": ["POL1"],
    }  # fmt: skip
    config = BridgeConfig.from_mapping({**base, "rules": {"attach_report_pdf": True}})
    assert config.rules.attach_report_pdf is True
    assert BridgeConfig.from_mapping(config.to_mapping()).rules == config.rules
    assert BridgeConfig.from_mapping(base).rules.attach_report_pdf is False
