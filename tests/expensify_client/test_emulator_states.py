"""ExpensifyEmulator: the states and answers the real service has (issue 9).

Card-only reports final at APPROVED, Submit-and-Close policies, the policy getter with and
without category GL codes, ``forwardsTo`` keys, flat multi-level tag lists, numeric report
IDs, "File not found" for expired names, marks that do not apply, credential error styles,
the default credentials and the loopback server's names.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from expensify_client import EXPORT_TEMPLATE
from expensify_client.emulator import (
    API_PATH,
    DEFAULT_ACCOUNT_EMAIL,
    DEFAULT_PARTNER_USER_ID,
    DEFAULT_PARTNER_USER_SECRET,
    EmulatorStateError,
    ExpenseSpec,
    ExpensifyEmulator,
    category,
    employee,
    tag_level,
)

URL = "https://integrations.expensify.com" + API_PATH
PID = "aa_ex_example_com"
SECRET = "s3cr3t"
OWNER = "owner@acme.test"
DAY = datetime(2025, 2, 3, 9, tzinfo=UTC)


class Clock:
    """A settable UTC clock."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def make(**kwargs: Any) -> ExpensifyEmulator:
    kwargs.setdefault("rate_limits", False)
    kwargs.setdefault("clock", lambda: datetime(2025, 3, 1, 12, tzinfo=UTC))
    emu = ExpensifyEmulator(**kwargs)
    emu.add_account(PID, SECRET, email=OWNER)
    emu.add_policy(
        "P1",
        "Acme",
        owner=OWNER,
        categories=[category("Meals", "6100"), category("Travel", "6200")],
        tag_levels=[
            tag_level("Dept", {"Sales": "200", "Ops": "300"}),
            tag_level("Region", {"North": "N1"}),
        ],
        employees=[
            employee("ann@acme.test", submits_to="boss@acme.test"),
            employee("boss@acme.test", role="admin", submits_to=OWNER, approves_to="cfo@acme.test"),
            employee("cfo@acme.test", role="admin", submits_to=OWNER),
        ],
    )
    emu.add_policy("SC", "Close on submit", owner=OWNER, approval_mode="submit_and_close")
    return emu


def report(
    emu: ExpensifyEmulator, *, policy: str = "P1", reimbursable: bool = True, cents: int = 1250
) -> str:
    return emu.add_report(
        policy,
        submitter="ann@acme.test" if policy == "P1" else OWNER,
        name="Trip",
        currency="USD",
        created=DAY,
        expenses=[
            ExpenseSpec(
                amount_cents=cents,
                currency="USD",
                created=DAY.date(),
                merchant="Diner",
                category="Meals",
                reimbursable=reimbursable,
            )
        ],
    )


def creds(pid: str = PID, secret: str = SECRET) -> dict[str, str]:
    return {"partnerUserID": pid, "partnerUserSecret": secret}


def post(emu: ExpensifyEmulator, job: dict[str, Any], **fields: str) -> httpx.Response:
    job = {"credentials": creds(), **job}
    with httpx.Client(transport=emu.transport()) as http:
        return http.post(URL, data={"requestJobDescription": json.dumps(job), **fields})


def export(
    emu: ExpensifyEmulator,
    filters: dict[str, Any],
    *,
    states: str = "OPEN,SUBMITTED,APPROVED,REIMBURSED,ARCHIVED",
    mark: str | None = None,
) -> list[dict[str, Any]]:
    job: dict[str, Any] = {
        "type": "file",
        "onReceive": {"immediateResponse": ["returnRandomFileName"]},
        "inputSettings": {"type": "combinedReportData", "reportState": states, "filters": filters},
        "outputSettings": {"fileExtension": "json"},
    }
    if mark is not None:
        job["onFinish"] = [{"actionName": "markAsExported", "label": mark}]
    response = post(emu, job, template=EXPORT_TEMPLATE)
    assert response.status_code == 200
    reports: list[dict[str, Any]] = json.loads(emu.files()[response.text])["reports"]
    return reports


def getter(emu: ExpensifyEmulator, fields: list[str]) -> dict[str, Any]:
    body = post(
        emu,
        {
            "type": "get",
            "inputSettings": {"type": "policy", "policyIDList": ["P1"], "fields": fields},
        },
    ).json()
    assert body["responseCode"] == 200
    info: dict[str, Any] = body["policyInfo"]["P1"]
    return info


def reimburse_job(ids: str) -> dict[str, Any]:
    return {
        "type": "update",
        "inputSettings": {
            "type": "reportStatus",
            "status": "REIMBURSED",
            "filters": {"reportIDList": ids},
        },
    }


class TestCardOnlyReports:
    """A report without reimbursable expenses is final at APPROVED."""

    def test_cannot_be_reimbursed_by_the_control_plane(self) -> None:
        emu = make()
        rid = report(emu, reimbursable=False)
        emu.submit(rid, DAY)
        emu.approve(rid, DAY)
        with pytest.raises(EmulatorStateError, match="card-only"):
            emu.reimburse(rid, DAY)
        assert emu.report(rid)["state"] == "APPROVED"

    def test_report_status_updater_skips_it(self) -> None:
        emu = make()
        card = report(emu, reimbursable=False)
        cash = report(emu)
        for rid in (card, cash):
            emu.submit(rid, DAY)
            emu.approve(rid, DAY)
        body = post(emu, reimburse_job(f"{card},{cash}")).json()
        assert body == {
            "responseCode": 200,
            "reportIDs": [cash],
            "skippedReports": [{"reportID": card, "reason": "Report has no reimbursable expenses"}],
        }
        assert emu.report(card)["state"] == "APPROVED"

    def test_exported_as_approved_with_non_reimbursable_lines(self) -> None:
        emu = make()
        rid = report(emu, reimbursable=False)
        emu.submit(rid, DAY)
        emu.approve(rid, DAY)
        [exported] = export(emu, {"reportIDList": rid}, states="APPROVED")
        assert exported["status"] == "Approved"
        assert [e["reimbursable"] for e in exported["transactionList"]] == [False]


class TestSubmitAndClose:
    """A Submit-and-Close policy's reports go straight from OPEN to Closed."""

    def test_submit_closes(self) -> None:
        emu = make()
        rid = report(emu, policy="SC")
        emu.submit(rid, DAY)
        view = emu.report(rid)
        assert (view["state"], view["status"]) == ("ARCHIVED", "Closed")
        assert view["approved"] is None
        assert [a["action"] for a in view["actionList"]] == ["CREATED", "SUBMITTED", "CLOSED"]
        with pytest.raises(EmulatorStateError):
            emu.approve(rid, DAY)

    def test_export_by_state(self) -> None:
        emu = make()
        rid = report(emu, policy="SC")
        emu.submit(rid, DAY)
        assert export(emu, {"reportIDList": rid}, states="APPROVED,REIMBURSED") == []
        assert [r["reportID"] for r in export(emu, {"reportIDList": rid}, states="ARCHIVED")] == [
            rid
        ]

    def test_unknown_approval_mode(self) -> None:
        with pytest.raises(ValueError, match="approval_mode"):
            make().add_policy("X", "X", owner=OWNER, approval_mode="advanced-ish")


class TestPolicyGetterShapes:
    """Documented category shape by default; GL codes, flat tags and key names by switch."""

    def test_categories_default_to_the_documented_shape(self) -> None:
        assert getter(make(), ["categories"])["categories"] == [
            {"name": "Meals", "enabled": True, "areCommentsRequired": False},
            {"name": "Travel", "enabled": True, "areCommentsRequired": False},
        ]

    def test_categories_with_gl_codes_by_switch(self) -> None:
        categories = getter(make(category_gl_codes=True), ["categories"])["categories"]
        assert [(c["name"], c["glCode"]) for c in categories] == [
            ("Meals", "6100"),
            ("Travel", "6200"),
        ]

    def test_export_carries_category_gl_codes_either_way(self) -> None:
        emu = make()
        rid = report(emu)
        [exported] = export(emu, {"reportIDList": rid})
        assert exported["transactionList"][0]["categoryGlCode"] == "6100"

    def test_employees_use_the_getter_key_names(self) -> None:
        employees = {e["email"]: e for e in getter(make(), ["employees"])["employees"]}
        assert employees["boss@acme.test"]["forwardsTo"] == "cfo@acme.test"
        assert "approvesTo" not in employees["boss@acme.test"]
        updater_names = getter(make(forward_keys="updater"), ["employees"])["employees"]
        boss = next(e for e in updater_names if e["email"] == "boss@acme.test")
        assert boss["approvesTo"] == "cfo@acme.test"

    def test_over_limit_forwards_to(self) -> None:
        emu = make()
        feed = [
            {
                "employeeEmail": "ann@acme.test",
                "managerEmail": "boss@acme.test",
                "employeeID": "E1",
                "policyID": "P1",
                "approvalLimit": 10000,
                "overLimitApprover": "cfo@acme.test",
            }
        ]
        job = {
            "type": "update",
            "dataSource": "request",
            "inputSettings": {"type": "employees", "entity": "generic"},
        }
        assert post(emu, job, data=json.dumps(feed)).json()["responseCode"] == 200
        ann = next(
            e for e in getter(emu, ["employees"])["employees"] if e["email"] == "ann@acme.test"
        )
        assert (ann["approvalLimit"], ann["overLimitForwardsTo"]) == (10000, "cfo@acme.test")

    def test_flat_multi_level_tags(self) -> None:
        assert getter(make(flat_tags=True), ["tags"])["tags"] == [
            {"name": "Sales", "enabled": True, "glCode": "200"},
            {"name": "Ops", "enabled": True, "glCode": "300"},
            {"name": "Sales:North", "enabled": True, "glCode": "N1"},
            {"name": "Ops:North", "enabled": True, "glCode": "N1"},
        ]

    def test_level_tags_by_default(self) -> None:
        tags = getter(make(), ["tags"])["tags"]
        assert [level["name"] for level in tags] == ["Dept", "Region"]

    def test_bad_switch_values(self) -> None:
        with pytest.raises(ValueError, match="forward_keys"):
            ExpensifyEmulator(forward_keys="both")
        with pytest.raises(ValueError, match="renderer"):
            ExpensifyEmulator(renderer="jinja")
        with pytest.raises(ValueError, match="credential_errors"):
            ExpensifyEmulator(credential_errors="418")
        with pytest.raises(ValueError, match="file_lifetime"):
            ExpensifyEmulator(file_lifetime=timedelta(0))


class TestNumericReportIDs:
    """``reportIDList`` accepts the numeric (old) report ID as well as the R… form."""

    def test_export_by_numeric_id(self) -> None:
        emu = make()
        rid = report(emu)
        old = emu.report(rid)["oldReportID"]
        assert old.isdigit()
        assert [r["reportID"] for r in export(emu, {"reportIDList": old})] == [rid]

    def test_reimburse_by_numeric_id(self) -> None:
        emu = make()
        rid = report(emu)
        emu.submit(rid, DAY)
        emu.approve(rid, DAY)
        old = emu.report(rid)["oldReportID"]
        assert post(emu, reimburse_job(old)).json() == {"responseCode": 200, "reportIDs": [old]}
        assert emu.report(rid)["state"] == "REIMBURSED"


class TestFileNotFound:
    """Never-existing and expired names: HTTP 200, "File not found", no responseCode."""

    def download(self, emu: ExpensifyEmulator, name: str) -> httpx.Response:
        return post(emu, {"type": "download", "fileName": name})

    def test_expired_file(self) -> None:
        clock = Clock()
        emu = make(clock=clock, file_lifetime=timedelta(hours=1))
        rid = report(emu)
        export(emu, {"reportIDList": rid})
        [name] = emu.files()
        assert self.download(emu, name).status_code == 200
        assert json.loads(self.download(emu, name).content)["reports"][0]["reportID"] == rid
        clock.now += timedelta(hours=1, seconds=1)
        expired = self.download(emu, name)
        assert (expired.status_code, expired.json()) == (200, {"responseMessage": "File not found"})
        never = self.download(emu, "export0000.json")
        assert (never.status_code, never.json()) == (200, {"responseMessage": "File not found"})


class TestMarksThatDoNotApply:
    """A mark can silently fail to apply; only a later read shows it."""

    def test_refused_mark_is_visible_only_on_a_later_read(self) -> None:
        emu = make()
        good, stuck = report(emu), report(emu)
        emu.refuse_marks(stuck)
        both = f"{good},{stuck}"
        first = export(emu, {"reportIDList": both}, mark="gl")
        assert {r["reportID"] for r in first} == {good, stuck}
        assert emu.exported_labels(good) == frozenset({"gl"})
        assert emu.exported_labels(stuck) == frozenset()
        later = export(emu, {"reportIDList": both, "markedAsExported": "gl"})
        assert [r["reportID"] for r in later] == [stuck]
        emu.refuse_marks(stuck, refuse=False)
        export(emu, {"reportIDList": both}, mark="gl")
        assert emu.exported_labels(stuck) == frozenset({"gl"})

    def test_refuse_marks_over_the_control_plane(self) -> None:
        emu = make()
        rid = report(emu)
        with httpx.Client(transport=emu.transport()) as http:
            response = http.post(f"https://x/_emulator/reports/{rid}/refuse-marks", json={})
        assert response.status_code == 200
        export(emu, {"reportIDList": rid}, mark="gl")
        assert emu.exported_labels(rid) == frozenset()


class TestCredentialErrors:
    """407 in a 200 envelope by default; the 2013 script's 401/403 pages by switch."""

    def bad(self, emu: ExpensifyEmulator) -> httpx.Response:
        job = {
            "type": "get",
            "credentials": creds(secret="wrong"),
            "inputSettings": {"type": "policyList"},
        }
        with httpx.Client(transport=emu.transport()) as http:
            return http.post(URL, data={"requestJobDescription": json.dumps(job)})

    def test_default_407_envelope(self) -> None:
        response = self.bad(make())
        assert response.status_code == 200
        assert response.json()["responseCode"] == 407
        assert "wrong" not in response.text

    @pytest.mark.parametrize(("style", "text"), [("401", "Unauthorized"), ("403", "Invalid")])
    def test_servlet_pages(self, style: str, text: str) -> None:
        response = self.bad(make(credential_errors=style))
        assert response.status_code == int(style)
        assert f"HTTP Status {style} - {text}" in response.text
        assert "wrong" not in response.text


class TestDefaultCredentials:
    """Public default credentials, kept across reset; the loopback server's names."""

    def test_default_account(self) -> None:
        emu = ExpensifyEmulator(default_account=True, rate_limits=False)
        job = {
            "type": "get",
            "credentials": creds(DEFAULT_PARTNER_USER_ID, DEFAULT_PARTNER_USER_SECRET),
            "inputSettings": {"type": "policyList"},
        }
        for _ in range(2):
            with httpx.Client(transport=emu.transport()) as http:
                body = http.post(URL, data={"requestJobDescription": json.dumps(job)}).json()
            assert body == {"responseCode": 200, "policyList": []}
            emu.reset()

    def test_add_account_without_arguments(self) -> None:
        emu = ExpensifyEmulator(rate_limits=False)
        emu.add_account()
        emu.add_policy("P", "P", owner=DEFAULT_ACCOUNT_EMAIL)
        job = {
            "type": "get",
            "credentials": creds(DEFAULT_PARTNER_USER_ID, DEFAULT_PARTNER_USER_SECRET),
            "inputSettings": {"type": "policyList"},
        }
        with httpx.Client(transport=emu.transport()) as http:
            body = http.post(URL, data={"requestJobDescription": json.dumps(job)}).json()
        assert [p["owner"] for p in body["policyList"]] == [DEFAULT_ACCOUNT_EMAIL]

    @pytest.mark.loopback
    def test_loopback_names(self) -> None:
        emu = ExpensifyEmulator(default_account=True, rate_limits=False)
        with emu.serve() as server:
            assert server.base_url.startswith("http://127.0.0.1:")
            assert server.url == server.base_url + API_PATH
            job = {
                "type": "get",
                "credentials": creds(DEFAULT_PARTNER_USER_ID, DEFAULT_PARTNER_USER_SECRET),
                "inputSettings": {"type": "policyList"},
            }
            with httpx.Client() as http:
                body = http.post(server.url, data={"requestJobDescription": json.dumps(job)})
        assert body.json()["responseCode"] == 200


class TestUnmodifiedValues:
    """Never-edited expenses carry 0/"" in modified* by default; null by switch."""

    def model(self, emu: ExpensifyEmulator, **spec: Any) -> dict[str, Any]:
        rid = emu.add_report(
            "P1",
            submitter="ann@acme.test",
            name="Trip",
            currency="USD",
            created=DAY,
            expenses=[ExpenseSpec(amount_cents=1234, currency="USD", created=DAY.date(), **spec)],
        )
        [exported] = export(emu, {"reportIDList": rid})
        expense: dict[str, Any] = exported["transactionList"][0]
        return expense

    def test_zero_by_default(self) -> None:
        expense = self.model(make())
        assert (expense["amount"], expense["modifiedAmount"]) == (1234, 0)
        assert (expense["modifiedMerchant"], expense["modifiedCreated"]) == ("", "")
        assert expense.get("modified") is None

    def test_missing_by_switch_with_the_modified_flag(self) -> None:
        expense = self.model(make(unmodified_values="missing", modified_flag=True))
        assert expense["modifiedAmount"] is None
        assert expense["modifiedMerchant"] is None
        assert expense["modified"] is False

    def test_an_edited_expense_keeps_its_values(self) -> None:
        expense = self.model(make(modified_flag=True), modified_amount_cents=999)
        assert (expense["modifiedAmount"], expense["convertedAmount"]) == (999, 999)
        assert expense["modified"] is True

    def test_bad_value(self) -> None:
        with pytest.raises(ValueError, match="unmodified_values"):
            ExpensifyEmulator(unmodified_values="blank")


class TestUnnamedTagLevel:
    """A single level sent without a name keeps the policy's level name (else "Tag")."""

    def update(self, emu: ExpensifyEmulator, levels: list[dict[str, Any]]) -> None:
        job = {
            "type": "update",
            "inputSettings": {"type": "policy", "policyID": "P1"},
            "tags": {"data": levels},
        }
        assert post(emu, job).json() == {"responseCode": 200}

    def test_keeps_the_existing_name(self) -> None:
        emu = make()
        self.update(emu, [{"tags": [{"name": "Legal"}]}])
        assert [level["name"] for level in emu.policy("P1")["tags"]] == ["Dept"]

    def test_defaults_to_tag(self) -> None:
        emu = make()
        emu.add_policy("P3", "Bare", owner=OWNER)
        job = {
            "type": "update",
            "inputSettings": {"type": "policy", "policyID": "P3"},
            "tags": {"data": [{"tags": [{"name": "Legal"}]}]},
        }
        assert post(emu, job).json() == {"responseCode": 200}
        assert [level["name"] for level in emu.policy("P3")["tags"]] == ["Tag"]


class TestReportFieldValues:
    """The getter's dropdown values: strings by default, ``value`` objects by switch."""

    def seed(self, emu: ExpensifyEmulator) -> None:
        job = {
            "type": "update",
            "inputSettings": {"type": "policy", "policyID": "P1"},
            "reportFields": {
                "action": "replace",
                "data": [{"name": "Project", "type": "dropdown", "values": [{"value": "A"}]}],
            },
        }
        assert post(emu, job).json() == {"responseCode": 200}

    def test_strings_by_default(self) -> None:
        emu = make()
        self.seed(emu)
        assert getter(emu, ["reportFields"])["reportFields"][0]["values"] == ["A"]

    def test_value_objects_by_switch(self) -> None:
        emu = make(report_field_value_objects=True)
        self.seed(emu)
        values = getter(emu, ["reportFields"])["reportFields"][0]["values"]
        assert values == [{"value": "A", "enabled": True}]


class TestUnknownKeys:
    """Rejected (410 naming the key) by default; ignored, as live, by switch."""

    JOB: dict[str, Any] = {  # noqa: RUF012 (read-only test data)
        "type": "get",
        "inputSettings": {"type": "policyList", "adminonly": True},
        "extraTopLevel": 1,
    }

    def test_rejected_by_default(self) -> None:
        body = post(make(), dict(self.JOB)).json()
        assert body == {
            "responseCode": 410,
            "responseMessage": "Unknown parameter 'extraTopLevel' in 'requestJobDescription'",
        }

    def test_ignored_by_switch(self) -> None:
        body = post(make(unknown_keys="ignore"), dict(self.JOB)).json()
        assert body["responseCode"] == 200
        assert [p["id"] for p in body["policyList"]] == ["P1", "SC"]

    def test_bad_value(self) -> None:
        with pytest.raises(ValueError, match="unknown_keys"):
            ExpensifyEmulator(unknown_keys="warn")
