"""``[state] url`` / ``rate_limits_url`` in the configuration, and the factory's choices."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from expense_bridge._config import BridgeConfig
from expense_bridge._errors import ConfigError
from expense_bridge._factory import open_clients, open_store
from expense_bridge._limits import (
    DatabaseLicenceLimiter,
    DatabaseRateLimiter,
    RedisLicenceLimiter,
    RedisRateLimiter,
)
from expense_bridge._store import DatabaseStore, SQLiteStore
from expense_bridge._vault import (
    ACUMATICA_CLIENT_SECRET,
    ACUMATICA_PASSWORD,
    EXPENSIFY_PARTNER_SECRET,
    CredentialVault,
)
from expensify_client import SharedRateLimiter

from ..scaleout.services import postgres_database

BASE = """
policies = ["P1"]
[acumatica]
base_url = "https://erp.example.com/AcumaticaERP/"
endpoint_version = "24.200.001"
username = "bridge"
client_id = "ABC@Company"
requests_per_minute = 60
max_concurrent = 2
[expensify]
partner_user_id = "aa_partner"
"""


def config(extra: str = "", **top: str) -> BridgeConfig:
    head = "".join(f"{k} = {v!r}\n" for k, v in top.items())
    return BridgeConfig.from_mapping(tomllib.loads(head + BASE + extra))


def problems(error: ConfigError) -> dict[str, str]:
    return {p.field: p.message for p in error.problems}


def test_state_url_is_read_and_written_back() -> None:
    c = config('[state]\nurl = "postgresql://eb@db.example:5432/bridge"\n')
    assert c.state_url == "postgresql://eb@db.example:5432/bridge"
    assert c.rate_limits_url is None
    again = BridgeConfig.from_mapping(c.to_mapping())
    assert again.state_url == c.state_url
    assert config().state_url is None


def test_bad_state_urls_are_named() -> None:
    with pytest.raises(ConfigError) as caught:
        config('[state]\nurl = "mysql://u@h/db"\nrate_limits_url = "memcached://x"\n')
    found = problems(caught.value)
    assert "mysql" in found["state.url"]
    assert "redis://" in found["state.rate_limits_url"]
    with pytest.raises(ConfigError) as both:
        config('[state]\nurl = "sqlite:///x.sqlite3"\n', state_path="y.sqlite3")
    assert "both set" in problems(both.value)["state.url"]


def test_open_store_follows_the_configuration(tmp_path: Path) -> None:
    embedded = open_store(config(state_path=str(tmp_path / "s.sqlite3")))
    assert isinstance(embedded, SQLiteStore)
    assert embedded.location == str(tmp_path / "s.sqlite3")
    pg = open_store(config('[state]\nurl = "postgresql://eb@db.example/bridge"\n'))
    assert type(pg) is DatabaseStore
    assert pg.dialect == "postgresql"
    assert pg.url.drivername == "postgresql+psycopg"


@pytest.fixture
def vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CredentialVault:
    from cryptography.fernet import Fernet

    monkeypatch.setenv("EXPENSE_BRIDGE_KEY", Fernet.generate_key().decode())
    v = CredentialVault(tmp_path / "vault")
    for name in (ACUMATICA_PASSWORD, ACUMATICA_CLIENT_SECRET, EXPENSIFY_PARTNER_SECRET):
        v.set(name, "secret-value")
    return v


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


def test_postgres_state_shares_limits_through_the_database(
    vault: CredentialVault, pg_url: str
) -> None:
    c = config(f'[state]\nurl = "{pg_url}"\n')
    with open_clients(c, vault=vault) as (acumatica, expensify):
        assert isinstance(expensify.options.limits, DatabaseRateLimiter)
        assert isinstance(acumatica._limiter, DatabaseLicenceLimiter)
        assert acumatica._limiter.licence == c.acumatica.licence


def test_redis_url_shares_limits_through_redis(vault: CredentialVault, tmp_path: Path) -> None:
    c = config(
        '[state]\nrate_limits_url = "redis://127.0.0.1:6379/0"\n',
        state_path=str(tmp_path / "s.sqlite3"),
    )
    with open_clients(c, vault=vault) as (acumatica, expensify):
        assert isinstance(expensify.options.limits, RedisRateLimiter)
        assert isinstance(acumatica._limiter, RedisLicenceLimiter)


def test_embedded_default_keeps_the_sqlite_file_limiter(
    vault: CredentialVault, tmp_path: Path
) -> None:
    c = config(state_path=str(tmp_path / "s.sqlite3"))
    with open_clients(c, vault=vault) as (acumatica, expensify):
        assert isinstance(expensify.options.limits, SharedRateLimiter)
        assert type(acumatica._limiter).__name__ == "LicenceLimiter"
