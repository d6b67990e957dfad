"""Recorded contract tests: replay the cassettes (record mode ``none``) and scan them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from expense_bridge.testing import REDACTED, find_secrets, make_vcr

from .record import CASSETTES
from .scenarios import (
    ACUMATICA_CLIENT_SECRET,
    ACUMATICA_PASSWORD,
    EXPENSIFY_SECRET,
    acumatica_bill_flow,
    bridge_sync_flow,
)

_TOKEN_FIELDS = re.compile(r'"(access_token|refresh_token|id_token|password)":\s*"([^"]*)"')
_SECRET_FORM = re.compile(
    r"(password|client_secret|refresh_token|partnerUserSecret)[=\"':\s]+([^&\"'\s,}]+)"
)


def cassettes() -> list[Path]:
    return sorted(CASSETTES.glob("*.yaml"))


def test_there_are_cassettes() -> None:
    assert [p.name for p in cassettes()] != []


def test_acumatica_flow_replays_without_network() -> None:
    recorder = make_vcr(cassette_dir=CASSETTES, record_mode="none")
    with recorder.use_cassette("acumatica_bill_flow.yaml") as cassette:
        seen = acumatica_bill_flow("http://127.0.0.1:9")  # port 9: nothing listens there
    assert seen == [
        "accounts=1",
        "rejected:Details[0].Account,Vendor",
        "created=000001 amount=42.10",
        "found=['000001']",
    ]
    assert cassette.all_played


def test_bridge_sync_replays_without_network(tmp_path: Path) -> None:
    recorder = make_vcr(cassette_dir=CASSETTES, record_mode="none")
    with recorder.use_cassette("bridge_sync_flow.yaml") as cassette:
        seen = bridge_sync_flow(
            "http://127.0.0.1:9",
            "http://127.0.0.1:9/Integration-Server/ExpensifyIntegrations",
            tmp_path / "state.sqlite3",
        )
    assert seen == ["R1001:posted R1002:held", "none"]
    assert cassette.all_played


@pytest.mark.parametrize("path", cassettes(), ids=lambda p: p.name)
def test_cassettes_hold_no_secrets(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    leaked = find_secrets(
        text,
        {
            "acumatica password": ACUMATICA_PASSWORD,
            "client secret": ACUMATICA_CLIENT_SECRET,
            "expensify partner secret": EXPENSIFY_SECRET,
        },
    )
    assert leaked == []
    for match in _TOKEN_FIELDS.finditer(text):
        assert match.group(2) == REDACTED, match.group(0)
    for match in _SECRET_FORM.finditer(text):
        assert match.group(2).startswith(REDACTED), match.group(0)
    for line in text.splitlines():
        if re.match(r"\s*(authorization|cookie|set-cookie):", line, re.IGNORECASE):
            continue
        assert "Bearer " not in line or "Bearer REDACTED" in line or '"token_type":"Bearer"' in line
