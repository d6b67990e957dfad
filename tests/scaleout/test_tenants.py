"""Tenant registries (directory of TOML files, state database), beat schedule, retry policy."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from acumatica_client import APIConnectionError, InternalServerError
from expense_bridge._store import LeaseBusyError, StateUnavailableError
from expense_bridge.celery import (
    MAX_BACKOFF,
    PermanentTaskError,
    _backoff,
    beat_schedule,
    is_transient,
    sync_tenant,
)
from expense_bridge.tenants import (
    DEFAULT_CADENCE,
    DatabaseRegistry,
    DirectoryRegistry,
    TenantError,
    open_registry,
    parse_tenant,
)

DOCUMENT = """
policies = ["P1"]
[acumatica]
base_url = "https://erp.example.com/AcumaticaERP/"
endpoint_version = "24.200.001"
username = "bridge"
client_id = "ABC@Company"
[expensify]
partner_user_id = "aa_partner"
"""


def test_directory_registry_round_trip(tmp_path: Path) -> None:
    registry = DirectoryRegistry(tmp_path / "tenants")
    assert registry.names() == []
    registry.add("acme", DOCUMENT + '[tenant]\ncadence = "5m"\n')
    registry.add("globex", DOCUMENT + "[tenant]\nenabled = false\n")
    assert registry.names() == ["acme", "globex"]
    acme = registry.get("acme")
    assert acme.cadence == timedelta(minutes=5)
    assert acme.enabled
    assert acme.config.connection == "acme"  # each tenant its own state
    assert acme.config.vault_path == (tmp_path / "tenants" / "acme.vault").resolve()
    assert registry.get("globex").cadence == DEFAULT_CADENCE
    assert not registry.get("globex").enabled
    assert registry.remove("globex")
    assert not registry.remove("globex")
    with pytest.raises(TenantError, match="'nobody' is not in the registry"):
        registry.get("nobody")


def test_a_file_may_name_its_own_connection() -> None:
    tenant = parse_tenant("acme", 'connection = "acme-eu"\n' + DOCUMENT)
    assert tenant.config.connection == "acme-eu"


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (DOCUMENT + '[tenant]\ncadence = "often"\n', "tenant.cadence"),
        (DOCUMENT + '[tenant]\ncadence = "0s"\n', "tenant.cadence"),
        (DOCUMENT + "[tenant]\nenabled = 1\n", "tenant.enabled"),
        (DOCUMENT + "[tenant]\nowner = 'x'\n", "tenant.owner"),
        (DOCUMENT.replace('username = "bridge"\n', ""), "acumatica.username"),
        ("policies = [", "<file>"),
    ],
)
def test_bad_tenant_documents_are_named(document: str, field: str) -> None:
    with pytest.raises(TenantError) as caught:
        parse_tenant("acme", document, source="tenants/acme.toml")
    fields = {p.field for p in caught.value.problems}
    assert field in fields
    assert any("tenants/acme.toml" in p.message for p in caught.value.problems)


@pytest.mark.parametrize("name", ["", "../etc", "a b", "-x", "x" * 64])
def test_unusable_tenant_names_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(TenantError):
        DirectoryRegistry(tmp_path).add(name, DOCUMENT)


def test_database_registry(tmp_path: Path) -> None:
    registry = open_registry(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    assert isinstance(registry, DatabaseRegistry)
    registry.add("acme", 'vault_path = "/secrets/acme.vault"\n' + DOCUMENT)
    assert registry.names() == ["acme"]
    assert registry.get("acme").config.connection == "acme"
    with pytest.raises(TenantError):
        registry.add("bad", DOCUMENT + "[tenant]\ncadence = 'x'\n")
    assert registry.names() == ["acme"]  # nothing stored for an invalid document
    assert registry.remove("acme")
    assert registry.names() == []
    registry.store.close()


def test_beat_schedule_follows_the_cadences(tmp_path: Path) -> None:
    registry = DirectoryRegistry(tmp_path)
    registry.add("acme", DOCUMENT + '[tenant]\ncadence = "5m"\n')
    registry.add("initech", DOCUMENT)
    registry.add("globex", DOCUMENT + "[tenant]\nenabled = false\n")
    schedule = beat_schedule(tmp_path, queue="bridge")
    assert sorted(schedule) == ["expense-bridge:sync:acme", "expense-bridge:sync:initech"]
    acme = schedule["expense-bridge:sync:acme"]
    assert acme["task"] == "expense_bridge.sync_tenant"
    assert acme["schedule"] == timedelta(minutes=5)
    assert acme["args"] == ("acme",)
    assert acme["kwargs"]["registry"] == str(tmp_path)
    assert acme["options"] == {"expires": 300.0, "queue": "bridge"}
    assert schedule["expense-bridge:sync:initech"]["schedule"] == DEFAULT_CADENCE


def test_transient_and_permanent_failures() -> None:
    import httpx

    request = httpx.Request("GET", "https://erp.example.com")
    assert is_transient(APIConnectionError("down", request=request))
    assert is_transient(
        InternalServerError(
            "boom", response=httpx.Response(500, request=request), body=None, request=request
        )
    )
    assert is_transient(StateUnavailableError("db", "gone", transient=True))
    assert is_transient(LeaseBusyError("db", "busy"))
    assert not is_transient(StateUnavailableError("db", "read-only"))
    assert not is_transient(TenantError(()))
    assert not is_transient(ValueError("bug"))


def test_retry_backoff_doubles_from_the_first_delay_and_is_capped() -> None:
    assert [_backoff(n) for n in range(4)] == [10.0, 20.0, 40.0, 80.0]
    assert [_backoff(n, 1.0) for n in range(4)] == [1.0, 2.0, 4.0, 8.0]
    assert _backoff(20) == _backoff(20, 1.0) == MAX_BACKOFF == 600.0


@pytest.mark.parametrize("backoff", [0, -1.0])
def test_a_backoff_that_is_not_positive_is_refused(backoff: float, tmp_path: Path) -> None:
    with pytest.raises(PermanentTaskError, match="acme: backoff must be > 0"):
        sync_tenant("acme", registry=str(tmp_path), backoff=backoff)
