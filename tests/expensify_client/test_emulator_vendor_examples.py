"""Replay every example request of Expensify's API reference against the emulator.

The fixtures in ``vendor_examples/`` are the published ``curl`` examples (see its README).
Each is sent over the emulator's transport as curl sends it (``-d``: the raw text in an
urlencoded body; ``--data-urlencode``: percent-encoded; ``-F``: multipart), with only the
credential placeholders replaced, against an emulator seeded with the policies, members and
reports the examples name. Export examples must complete (export, then download); getter and
updater examples must answer 200 or the documented refusal; jobs the emulator does not play
must say so explicitly.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from expensify_client.emulator import (
    API_PATH,
    DEFAULT_ACCOUNT_EMAIL,
    DEFAULT_PARTNER_USER_ID,
    DEFAULT_PARTNER_USER_SECRET,
    ExpenseSpec,
    ExpensifyEmulator,
    FreeMarkerRenderer,
    category,
    employee,
    tag_level,
)
from tests.reference import in_ci, require

EXAMPLES = Path(__file__).with_name("vendor_examples")
#: The files the examples' curl commands send, as kept in ../shared/reference (the
#: documentation's own samples; never copied into the repo).
SHARED_FILES = {
    "expensify_template.ftl": "expensify/Expensify-slate/doc_sample_export_template.ftl",
    "tags.csv": "expensify/Expensify-slate/doc_sample_tags.csv",
    "employeeData.csv": "expensify/Expensify-slate/doc_sample_employeeData_basic.csv",
    "myEmployeeData.json": "expensify/Expensify-slate/doc_sample_employee_feed_full.json",
}


def attached(name: str) -> Path:
    """The file a curl example sends (``@name``), read from ../shared/reference."""
    return require(SHARED_FILES[name])


URL = "https://integrations.expensify.com" + API_PATH
NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
MAIN_POLICY = "0123456789ABCDEF"
OTHER_POLICIES = ("F07C5A1A53D4198B", "81A4013E273DF7A1", "ABCDEF0123456789", "456789ABCDEF0123")
REPORTS = {"R00bCluvcO4T": date(2016, 1, 10), "R006AseGxMka": date(2016, 1, 20)}
_CREDENTIAL = re.compile(r'("partnerUser(?:ID|Secret)"\s*:\s*)"[^"]*"')


@dataclass(frozen=True)
class Example:
    """One fixture: its header fields and the published ``requestJobDescription`` text."""

    name: str
    header: Mapping[str, str]
    job: str

    @property
    def expect(self) -> str:
        return self.header["expect"]

    def extra(self) -> tuple[bool, str, str] | None:
        """(multipart?, parameter, file) of the example's extra parameter, if any."""
        raw = self.header.get("extra")
        if raw is None:
            return None
        multipart = raw.startswith("multipart ")
        name, file = raw.removeprefix("multipart ").split("=", 1)
        return multipart, name, file


def load(path: Path) -> Example:
    text = path.read_text(encoding="utf-8")
    head, job = text.split("\n---\n", 1)
    header: dict[str, str] = {}
    for line in head.splitlines():
        key, _, value = line.removeprefix("# ").partition(": ")
        if value:
            header[key] = value
    return Example(name=path.stem, header=header, job=job.rstrip("\n"))


ALL = sorted(EXAMPLES.glob("*.job"))


def test_every_fixture_names_its_source() -> None:
    assert len(ALL) == 22
    for path in ALL:
        example = load(path)
        assert example.header["source"].startswith("Expensify/slate @ 47cb5048")
        assert example.header["path"].startswith(
            ("source/index.html.md", "source/employeeUpdater/index.html.md")
        )
        assert example.header["section"]
        assert example.header["sent-as"] in ("-d", "-F")


def seeded() -> ExpensifyEmulator:
    """The account, policies, members and reports the published examples refer to."""
    emu = ExpensifyEmulator(clock=lambda: NOW, rate_limits=False, default_account=True)
    members = [
        employee("user@domain.com", submits_to=DEFAULT_ACCOUNT_EMAIL),
        employee("employee@domain.com", submits_to="manager@domain.com"),
        employee("manager@domain.com", submits_to=DEFAULT_ACCOUNT_EMAIL),
        employee("office-manager@domain.com", submits_to=DEFAULT_ACCOUNT_EMAIL),
        employee("ceo@domain.com", role="admin", submits_to=DEFAULT_ACCOUNT_EMAIL),
        employee("audit@domain.com", role="auditor", submits_to=DEFAULT_ACCOUNT_EMAIL),
    ]
    emu.add_policy(
        MAIN_POLICY,
        "Example policy",
        owner=DEFAULT_ACCOUNT_EMAIL,
        categories=[category("Meals", "6100"), category("Travel", "6200")],
        tag_levels=[tag_level("Tag", ["Travel", "Office Supplies", "Meals"])],
        employees=members,
    )
    for policy_id in OTHER_POLICIES:
        emu.add_policy(policy_id, f"Policy {policy_id}", owner=DEFAULT_ACCOUNT_EMAIL)
    for report_id, day in REPORTS.items():
        moment = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
        emu.add_report(
            MAIN_POLICY,
            submitter="user@domain.com",
            name=f"Trip {report_id}",
            currency="USD",
            created=moment,
            report_id=report_id,
            expenses=[
                ExpenseSpec(
                    amount_cents=1234,
                    currency="USD",
                    created=day,
                    merchant="Cafe",
                    category="Meals",
                ),
                ExpenseSpec(
                    amount_cents=56000,
                    currency="USD",
                    created=day,
                    merchant="Airline",
                    category="Travel",
                ),
            ],
        )
        emu.submit(report_id, moment)
        emu.approve(report_id, moment)
    return emu


def send(emu: ExpensifyEmulator, example: Example) -> httpx.Response:
    """Send the example as its curl command does (placeholders -> default credentials)."""
    replaced = iter((DEFAULT_PARTNER_USER_ID, DEFAULT_PARTNER_USER_SECRET))
    job = _CREDENTIAL.sub(lambda m: f'{m.group(1)}"{next(replaced)}"', example.job)
    extra = example.extra()
    with httpx.Client(transport=emu.transport()) as http:
        if example.header["sent-as"] == "-F" or (extra is not None and extra[0]):
            files: dict[str, tuple[str | None, bytes]] = {
                "requestJobDescription": (None, job.encode())
            }
            if extra is not None:
                files[extra[1]] = (extra[2], attached(extra[2]).read_bytes())
            return http.post(URL, files=files, headers={"Expect": ""})
        # curl -d sends its text raw; --data-urlencode percent-encodes the file's content.
        body = "requestJobDescription=" + job
        if extra is not None:
            content = attached(extra[2]).read_text(encoding="utf-8")
            body += f"&{extra[1]}=" + quote(content, safe="")
        return http.post(
            URL,
            content=body.encode("utf-8"),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )


def download(emu: ExpensifyEmulator, name: str) -> httpx.Response:
    job = {
        "type": "download",
        "credentials": {
            "partnerUserID": DEFAULT_PARTNER_USER_ID,
            "partnerUserSecret": DEFAULT_PARTNER_USER_SECRET,
        },
        "fileName": name,
        "fileSystem": "integrationServer",
    }
    with httpx.Client(transport=emu.transport()) as http:
        return http.post(URL, data={"requestJobDescription": json.dumps(job)})


def _needs_freemarker() -> None:
    reason = FreeMarkerRenderer().unavailable_reason()
    if reason is not None:
        if in_ci():
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)


def _by_expectation(kind: str) -> list[Path]:
    return [p for p in ALL if load(p).expect.split(" ")[0] == kind]


@pytest.mark.java
@pytest.mark.parametrize("path", _by_expectation("export"), ids=lambda p: p.stem)
def test_export_examples_complete(path: Path) -> None:
    _needs_freemarker()
    example = load(path)
    emu = seeded()
    response = send(emu, example)
    assert response.status_code == 200, response.text
    name = response.text
    assert re.fullmatch(r"(export|myExport)[0-9a-f-]{36}\.(csv|xlsx)", name), name
    fetched = download(emu, name)
    assert fetched.status_code == 200
    if name.endswith(".csv"):
        # The sample template: merchant, original amount, category, report and expense no.
        # A bare ${number} is printed without grouping (number_format "computer", as the
        # live server's appears to be: see COVERAGE.md).
        lines = fetched.text.splitlines()
        assert lines[0].strip() == "Merchant,Original Amount,Category,Report number,Expense number"
        assert lines[1:] == [
            "Cafe,1234,Meals,1,1",
            "Airline,56000,Travel,1,2",
            "Cafe,1234,Meals,2,3",
            "Airline,56000,Travel,2,4",
        ]
    else:
        with zipfile.ZipFile(io.BytesIO(fetched.content)) as book:
            sheet = book.read("xl/worksheets/sheet1.xml").decode()
        assert sheet.count("<row ") == 5
        assert "Original Amount" in sheet
        assert "Airline" in sheet
        # markAsExported ran at the end of the job; the filter now excludes both reports.
        for report_id in REPORTS:
            assert emu.exported_labels(report_id) == frozenset({"Expensify Export"})
        again = send(emu, example)
        with zipfile.ZipFile(io.BytesIO(download(emu, again.text).content)) as book:
            assert book.read("xl/worksheets/sheet1.xml").decode().count("<row ") == 1


@pytest.mark.parametrize("path", _by_expectation("200"), ids=lambda p: p.stem)
def test_getter_and_updater_examples_answer_200(path: Path) -> None:
    emu = seeded()
    response = send(emu, load(path))
    assert response.status_code == 200
    assert response.json()["responseCode"] == 200, response.text


def test_report_status_example_reimburses_both_reports() -> None:
    emu = seeded()
    body = send(emu, load(EXAMPLES / "18_report_status_updater.job")).json()
    assert body == {"responseCode": 200, "reportIDs": ["R006AseGxMka", "R00bCluvcO4T"]}
    assert emu.report("R006AseGxMka")["state"] == "REIMBURSED"


def test_policy_updater_examples_change_the_policy() -> None:
    emu = seeded()
    send(emu, load(EXAMPLES / "12_policy_updater_categories_tags_report_fields.job"))
    policy = emu.policy(MAIN_POLICY)
    by_name = {c["name"]: c for c in policy["categories"]}
    assert by_name["Category 1"]["glCode"] == "GL Code 1"
    assert by_name["Category 1"]["maxExpenseAmount"] == 2500
    assert "Meals" in by_name  # merge keeps the others
    assert [t["name"] for t in policy["tags"][0]["tags"]] == ["Tag 1", "Tag 2"]
    send(emu, load(EXAMPLES / "14_policy_updater_report_field_value_objects.job"))
    for policy_id in OTHER_POLICIES[:2]:
        fields = emu.policy(policy_id)["reportFields"]
        assert fields[0]["values"] == ["value 1", "value 2", "value 3"]


def test_tag_approvers_example_sets_and_clears() -> None:
    emu = seeded()
    send(emu, load(EXAMPLES / "19_tag_approvers_updater.job"))
    assert emu.policy(MAIN_POLICY)["tagApprovers"] == {
        "Travel": "manager@domain.com",
        "Office Supplies": "office-manager@domain.com",
    }


def test_policy_creator_example_creates_a_policy() -> None:
    emu = seeded()
    body = send(emu, load(EXAMPLES / "07_policy_creator.job")).json()
    assert body["policyName"] == "My New Policy"
    assert re.fullmatch(r"[0-9A-F]{16}", body["policyID"])
    assert emu.policy(body["policyID"])["owner"] == DEFAULT_ACCOUNT_EMAIL


@pytest.mark.parametrize(
    "path", _by_expectation("500") + _by_expectation("410"), ids=lambda p: p.stem
)
def test_documented_refusals(path: Path) -> None:
    example = load(path)
    code, message = example.expect.split(" ", 1)
    response = send(seeded(), example)
    assert response.status_code == 200
    assert response.json() == {"responseCode": int(code), "responseMessage": message}


def test_downloader_example_answers_file_not_found() -> None:
    response = send(seeded(), load(EXAMPLES / "04_downloader.job"))
    assert response.status_code == 200
    assert response.json() == {"responseMessage": "File not found"}


@pytest.mark.parametrize("path", _by_expectation("not-emulated"), ids=lambda p: p.stem)
def test_jobs_not_played_say_so(path: Path) -> None:
    response = send(seeded(), load(path))
    assert response.status_code == 200
    body = response.json()
    assert body["responseCode"] == 410
    assert body["responseMessage"].endswith("is not supported by the emulator")


def test_expectations_cover_every_fixture() -> None:
    kinds = {"export", "200", "500", "410", "file-not-found", "not-emulated"}
    assert all(load(p).expect.split(" ")[0] in kinds for p in ALL)
