"""The whole bridge against both emulators: real clients, real template, real state store.

The world (tests/bridge_world.py, via the ``bridge_world`` fixture) runs both emulators on
one simulated clock, so the Integration Server's 5-per-10 s / 20-per-60 s windows are
enforced without waiting.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import attrs
import pytest

from expense_bridge import Action, ErrorCode, ReportStatus
from expensify_client.emulator import ExpenseSpec, category, employee
from tests.bridge_world import OWNER, START, World


def add_approved(world: World, n: int, *, email: str = "ann@firm.test", **spec: object) -> str:
    return world.add_approved(n, email=email, **spec)


@pytest.fixture
def world(bridge_world: Callable[..., World]) -> World:
    """The shared two-emulator world (tests/conftest.py) with the documented getter shape
    (GL codes only in the export) and every Acumatica entity body schema-checked."""
    return bridge_world(category_gl_codes=False, schema_checked=True)


def run_sync(world: World, **kw: object):  # type: ignore[no-untyped-def]
    return world.sync(**kw)


def vendor_refs(world: World) -> list[str]:
    return sorted(str(b["VendorRef"]) for b in world.acumatica.records("Bill"))


def test_sync_posts_marks_exported_and_a_second_sync_posts_nothing(world: World) -> None:
    ids = [add_approved(world, n) for n in range(3)]
    first = run_sync(world)
    assert vendor_refs(world) == sorted(f"EXB-{i}" for i in ids)
    assert first.posted == 3
    for rid in ids:
        assert "Acumatica" in world.expensify.exported_labels(rid)
        record = world.store.get("default", rid)
        assert record is not None
        assert record.status is ReportStatus.ACKNOWLEDGED
    bill = next(b for b in world.acumatica.records("Bill") if b["VendorRef"] == f"EXB-{ids[0]}")
    assert bill["Vendor"] == "EMP0001"
    assert bill["Details"][0]["Account"] == "61000"
    assert str(bill["Amount"]) == "100.00"

    world.clock.now += timedelta(hours=1)
    second = run_sync(world)
    assert second.posted == 0
    assert second.outcomes == ()
    assert vendor_refs(world) == sorted(f"EXB-{i}" for i in ids)


def test_held_reports_do_not_block_the_batch(world: World) -> None:
    good = add_approved(world, 1)
    unmapped = add_approved(world, 2, category="Mystery")
    orphan = add_approved(world, 3, email="ghost@firm.test")
    result = run_sync(world)
    actions = {o.report_id: o for o in result.outcomes}
    assert actions[good].action is Action.POSTED
    assert [p.code for p in actions[unmapped].problems] == [ErrorCode.CATEGORY_NO_GL_CODE]
    assert [p.code for p in actions[orphan].problems] == [ErrorCode.SUBMITTER_NO_VENDOR]
    assert vendor_refs(world) == [f"EXB-{good}"]
    assert world.expensify.exported_labels(unmapped) == set()  # held reports stay unmarked
    assert result.bookmark_after == START
    assert result.warnings == ()  # "Mystery" has no GL code: not an inactive-account warning


INACTIVE_MEALS = (
    "policy POL1: category 'Meals' has GL code 62000, which is not an active expense "
    "account in Acumatica"
)


def test_preflight_warns_about_categories_on_inactive_accounts(world: World) -> None:
    """The getter answers GL codes (the emulator's switch): every category is checked."""
    world.expensify.options = attrs.evolve(world.expensify.options, category_gl_codes=True)
    world.acumatica.seed("Account", [{"AccountCD": "62000", "Type": "Expense", "Active": False}])
    add_approved(world, 1)
    result = run_sync(world)
    assert result.warnings == (INACTIVE_MEALS,)
    assert result.posted == 1


def test_preflight_warns_from_exported_codes_with_the_documented_getter(world: World) -> None:
    """The documented getter has no GL codes: only codes seen in the export can be checked."""
    world.acumatica.seed("Account", [{"AccountCD": "62000", "Type": "Expense", "Active": False}])
    add_approved(world, 1)
    quiet = run_sync(world)
    assert quiet.warnings == ()  # 'Meals' is on no exported expense: its code is unknown
    add_approved(world, 2, category="Meals")
    world.clock.now += timedelta(hours=1)
    result = run_sync(world)
    assert result.warnings == (INACTIVE_MEALS,)


def test_dry_run_changes_nothing_on_either_side(world: World) -> None:
    rid = add_approved(world, 1)
    result = run_sync(world, dry_run=True)
    assert [o.action for o in result.outcomes] == [Action.WOULD_POST]
    assert world.acumatica.records("Bill") == []
    assert world.expensify.exported_labels(rid) == set()
    assert world.store.get("default", rid) is None


def test_api_budget_for_200_reports(world: World) -> None:
    for n in range(200):
        add_approved(world, n)
    result = run_sync(world)
    assert result.posted == 200
    # Expensify: policies, one export, one acknowledgement and the read that verifies
    # its label (+ download polls), whatever the number of reports.
    downloads = [r for r in world.expensify.request_log if (r.job or "").startswith("download")]
    assert result.calls.expensify - len(downloads) <= 4
    # Acumatica: one existence look-up per page of 50 keys, one write per new document.
    lookups = [p for m, p, _ in world.acumatica.request_log if m == "GET" and p.endswith("/Bill")]
    assert len(lookups) == 200 // world.config.page_size
    writes = [p for m, p, _ in world.acumatica.request_log if m == "PUT" and p.endswith("/Bill")]
    assert len(writes) == 200
    # Every bill sent and every entity answered matched Acumatica's published schema.
    assert world.schema.checked >= 2 * 200


def test_a_dropped_create_over_the_emulators_is_adopted(world: World) -> None:
    rid = add_approved(world, 1)
    world.acumatica.inject(method="PUT", path="/Bill$", drop_response=True)
    first = run_sync(world)
    assert first.outcomes[0].action is Action.PENDING
    assert world.expensify.exported_labels(rid) == set()
    world.clock.now += timedelta(minutes=10)
    second = run_sync(world)
    assert second.outcomes[0].action is Action.ADOPTED
    assert vendor_refs(world) == [f"EXB-{rid}"]
    assert "Acumatica" in world.expensify.exported_labels(rid)


def test_a_save_time_rejection_is_held_after_one_put_with_the_tenants_message(
    world: World,
) -> None:
    """The realistic tenant refuses at save time with 500 OutcomeEntityHasErrors."""
    rid = add_approved(world, 1)
    world.acumatica.reject_saves("Bill", "The document is out of balance.", times=5)
    result = run_sync(world)
    (outcome,) = result.outcomes
    assert outcome.action is Action.HELD
    (problem,) = outcome.problems
    assert problem.code is ErrorCode.LEDGER_REJECTED
    assert "The document is out of balance." in problem.message
    puts = [p for m, p, _ in world.acumatica.request_log if m == "PUT" and p.endswith("/Bill")]
    assert len(puts) == 1  # one attempt, never retried
    assert world.acumatica.records("Bill") == []
    assert world.expensify.exported_labels(rid) == set()  # nothing marked


def test_an_archived_bill_is_found_and_adopted_not_created_again(world: World) -> None:
    """The create lands but its answer is lost; the bill is archived before the next run."""
    rid = add_approved(world, 1)
    world.acumatica.inject(method="PUT", path="/Bill$", drop_response=True)
    assert run_sync(world).outcomes[0].action is Action.PENDING
    (bill,) = world.acumatica.records("Bill")
    world.acumatica.archive("Bill", str(bill["Type"]), str(bill["ReferenceNbr"]))
    world.clock.now += timedelta(minutes=10)
    second = run_sync(world)
    assert second.outcomes[0].action is Action.ADOPTED
    assert vendor_refs(world) == [f"EXB-{rid}"]  # still one bill, the archived one
    # the emulator hides archived records unless the request sends PX-ApiArchive: SHOW
    assert world.acumatica.is_archived("Bill", str(bill["Type"]), str(bill["ReferenceNbr"]))
    assert "Acumatica" in world.expensify.exported_labels(rid)


def test_a_closed_report_whose_mark_did_not_apply_stays_unacknowledged(world: World) -> None:
    """Submit-and-Close: the report goes straight to Closed; the mark silently fails once."""
    world.expensify.add_policy(
        "POL2", "Closing", owner=OWNER, approval_mode="submit_and_close",
        categories=[category("Travel", "61000")],
        employees=[employee("ann@firm.test", submits_to=OWNER)],
    )  # fmt: skip
    world.config = attrs.evolve(
        world.config,
        policies=("POL1", "POL2"),
        rules=attrs.evolve(world.config.rules, post_closed=True),
    )
    rid = world.expensify.add_report(
        "POL2", submitter="ann@firm.test", name="Closed trip", currency="USD",
        expenses=[ExpenseSpec(amount_cents=4_200, currency="USD", created=date(2026, 11, 10),
                              merchant="Rail", category="Travel")],
        created=world.clock.now - timedelta(days=3),
    )  # fmt: skip
    world.expensify.submit(rid, world.clock.now - timedelta(days=2))
    world.expensify.refuse_marks(rid)
    first = run_sync(world)
    (outcome,) = first.outcomes
    assert outcome.action is Action.POSTED
    assert vendor_refs(world) == [f"EXB-{rid}"]
    record = world.store.get("default", rid)
    assert record is not None
    assert record.status is ReportStatus.POSTED  # not confirmed: not recorded as acknowledged
    assert world.expensify.exported_labels(rid) == set()

    world.expensify.refuse_marks(rid, refuse=False)
    world.clock.now += timedelta(hours=1)
    run_sync(world)
    record = world.store.get("default", rid)
    assert record is not None
    assert record.status is ReportStatus.ACKNOWLEDGED
    assert "Acumatica" in world.expensify.exported_labels(rid)
    assert vendor_refs(world) == [f"EXB-{rid}"]  # still one bill


def test_rate_limited_expensify_is_retried_after_backoff(world: World) -> None:
    add_approved(world, 1)
    world.expensify.inject(job_type="file", status=429, times=1)
    result = run_sync(world)
    assert result.posted == 1
    assert world.clock.slept  # the client waited instead of failing


def test_replay_after_a_fix_uses_the_current_policy_and_refuses_reopened_reports(
    world: World,
) -> None:
    from expense_bridge import replay
    from expense_bridge._errors import BridgeError
    from expensify_client import Category

    unmapped = add_approved(world, 1, category="Mystery")
    reopened = add_approved(world, 2, category="Mystery")
    run_sync(world)
    # The admin gives the category a GL code in Expensify, then replays the report.
    world.exp_client.update_policy("POL1", categories=[Category(name="Mystery", gl_code="62000")])
    fixed = replay(world.config, unmapped, acumatica=world.acu_client,
                   expensify=world.exp_client, store=world.store, now=world.clock)  # fmt: skip
    assert fixed.outcome.action is Action.POSTED
    assert f"EXB-{unmapped}" in vendor_refs(world)
    # A report re-opened in Expensify since it was held is never posted from the old copy.
    world.expensify.reject(reopened, world.clock.now)
    with pytest.raises(BridgeError, match="no longer approved"):
        replay(world.config, reopened, acumatica=world.acu_client,
               expensify=world.exp_client, store=world.store, now=world.clock)  # fmt: skip
    assert f"EXB-{reopened}" not in vendor_refs(world)
    world.clock.now += timedelta(hours=1)
    run_sync(world)  # the next sync marks the replayed report exported
    assert "Acumatica" in world.expensify.exported_labels(unmapped)
