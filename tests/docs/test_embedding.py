"""Library ergonomics: the docs' embedding example against both emulators, Secrets, loggers."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

import expense_bridge
from acumatica_client.emulator import AcumaticaEmulator
from expense_bridge import Secrets, open_clients
from expense_bridge._vault import VaultError
from expensify_client import Category
from expensify_client.emulator import ExpenseSpec, ExpensifyEmulator, category, employee

ROOT = Path(__file__).resolve().parents[2]
PASSWORD, CLIENT_SECRET, PARTNER_SECRET = "embed-pw-1f2e", "embed-cs-3d4c", "embed-ps-5b6a"
OWNER = "owner@firm.test"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "embed_sync", ROOT / "docs/examples/embed_sync.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def servers() -> Iterator[tuple[str, str, AcumaticaEmulator, list[str]]]:
    acu = AcumaticaEmulator(users={"bridge": PASSWORD},
                            oauth_clients={"bridge@Company": CLIENT_SECRET},
                            hold_on_entry=False)  # fmt: skip
    acu.seed("Account", [{"AccountCD": "61000", "Type": "Expense", "Active": True},
                         {"AccountCD": "21000", "Type": "Liability", "Active": True}])  # fmt: skip
    acu.seed("Vendor", [{"VendorID": "EMP0001", "Status": "Active",
                         "MainContact": {"Email": "ann@firm.test"}}])  # fmt: skip
    exp = ExpensifyEmulator()
    exp.add_account("aa_bridge", PARTNER_SECRET, email=OWNER)
    exp.add_policy("POL1", "Firm", owner=OWNER,
                   categories=[category("Travel", "61000"), category("Mystery", None)],
                   employees=[employee("ann@firm.test", submits_to=OWNER)])  # fmt: skip
    now = datetime.now(UTC)
    ids = []
    for n, cat in enumerate(("Travel", "Mystery")):
        spec = ExpenseSpec(amount_cents=4200 + n, currency="USD", created=now.date(),
                           merchant="Air", category=cat)  # fmt: skip
        rid = exp.add_report("POL1", submitter="ann@firm.test", name=f"Trip {n}",
                             currency="USD", expenses=[spec],
                             created=now - timedelta(days=3))  # fmt: skip
        exp.submit(rid, now - timedelta(days=2))
        exp.approve(rid, now - timedelta(days=1))
        ids.append(rid)
    with acu.serve() as acu_server, exp.serve() as exp_server:
        yield acu_server.base_url, exp_server.url, acu, ids


@pytest.mark.loopback
def test_docs_embedding_example_runs_against_the_emulators(
    servers: tuple[str, str, AcumaticaEmulator, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    acumatica_url, expensify_url, acu, (travel, mystery) = servers
    example = load_example()
    monkeypatch.setenv("ACUMATICA_PASSWORD", PASSWORD)
    monkeypatch.setenv("ACUMATICA_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("EXPENSIFY_PARTNER_USER_SECRET", PARTNER_SECRET)
    config = example.build_config(acumatica_url, expensify_url, tmp_path)
    assert config.acumatica.timeout == timedelta(seconds=90)
    caplog.set_level(logging.INFO, logger="myapp.expenses")
    result = example.run_sync(config, example.secrets_from_environment())
    actions = {o.report_id: o.action.value for o in result.outcomes}
    assert result.pulled == 2
    assert actions[mystery] == "held"  # its category has no GL code
    assert actions[travel] in ("posted", "held")
    bills = acu.records("Bill")
    assert len(bills) == result.posted
    assert [b["VendorRef"] for b in bills] == [f"EXB-{r}" for r, a in actions.items()
                                                if a == "posted"]  # fmt: skip
    assert (tmp_path / "state.sqlite3").exists()  # the state went where the config said
    assert f"report {mystery} held: EB-CATEGORY-NO-GL-CODE" in caplog.text
    # The admin gives the category a GL code; the example's replay(config, report_id) posts it.
    secrets = example.secrets_from_environment()
    with open_clients(config, secrets=secrets) as (_, expensify):
        expensify.update_policy("POL1", categories=[Category(name="Mystery", gl_code="61000")])
    replayed = example.replay_report(config, secrets, mystery)
    assert replayed.outcome.action.value == "posted"
    assert [b["VendorRef"] for b in acu.records("Bill")][-1] == f"EXB-{mystery}"
    assert f"replay {mystery}: posted" in caplog.text
    for secret in (PASSWORD, CLIENT_SECRET, PARTNER_SECRET):
        assert secret not in caplog.text


class TestSecrets:
    """Secrets without a vault file: typed, masked, and named when missing."""

    def test_repr_and_str_never_show_values(self) -> None:
        secrets = Secrets(acumatica_password="pw-x1", expensify_partner_user_secret="ps-x2")
        text = f"{secrets!r} {secrets} {secrets.acumatica_password}"
        assert "pw-x1" not in text
        assert "ps-x2" not in text
        assert "acumatica_client_secret=None" in repr(secrets)
        assert secrets.get(expense_bridge.ACUMATICA_PASSWORD).reveal() == "pw-x1"

    def test_missing_client_secret_is_named(self) -> None:
        secrets = Secrets(acumatica_password="a", expensify_partner_user_secret="b")
        with pytest.raises(VaultError, match=r"acumatica\.client_secret"):
            secrets.get(expense_bridge.ACUMATICA_CLIENT_SECRET)
        with pytest.raises(VaultError, match="not a secret"):
            secrets.get("smtp.password")

    def test_empty_values_are_refused(self) -> None:
        with pytest.raises(ValueError, match="acumatica_password"):
            Secrets(acumatica_password="", expensify_partner_user_secret="b")

    def test_from_vault_names(self) -> None:
        secrets = Secrets.from_mapping({
            expense_bridge.ACUMATICA_PASSWORD: "a",
            expense_bridge.EXPENSIFY_PARTNER_SECRET: "b",
        })  # fmt: skip
        assert secrets.get(expense_bridge.EXPENSIFY_PARTNER_SECRET).reveal() == "b"
        with pytest.raises(ValueError, match="unknown secret"):
            Secrets.from_mapping({"acumatica.pasword": "a"})
        with pytest.raises(ValueError, match="missing secret"):
            Secrets.from_mapping({expense_bridge.ACUMATICA_PASSWORD: "a"})

    def test_open_clients_takes_secrets_without_any_vault_file(self, tmp_path: Path) -> None:
        config = expense_bridge.BridgeConfig.from_mapping(
            {"policies": ["P1"], "vault_path": str(tmp_path / "no-such-vault"),
             "state_path": str(tmp_path / "s.sqlite3"),
             "acumatica": {"base_url": "https://erp.example.com", "auth": "cookie",
                           "endpoint_version": "24.200.001", "username": "u"},
             "expensify": {"partner_user_id": "aa_p"}}
        )  # fmt: skip
        secrets = Secrets(acumatica_password="a", expensify_partner_user_secret="b")
        # cookie sign-in happens on entry; give it a transport that accepts the login
        import httpx

        seen = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request.url.path)
            return httpx.Response(204, headers={"Set-Cookie": ".ASPXAUTH=x; path=/"})

        transport = httpx.MockTransport(handler)
        with open_clients(config, secrets=secrets, acumatica_transport=transport) as (acu, exp):
            assert acu.base_url.startswith("https://erp.example.com")
            assert exp is not None
        assert seen[0].endswith("/entity/auth/login")
        assert not (tmp_path / "no-such-vault").exists()


@pytest.mark.parametrize("name", ["acumatica_client", "expensify_client", "expense_bridge"])
def test_package_loggers_have_a_null_handler(name: str) -> None:
    __import__(name)
    handlers = logging.getLogger(name).handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)
    assert f"``{name}``" in (expense_bridge.__doc__ or "")


def test_readme_embedding_snippet_builds_a_valid_config() -> None:
    """The README's from_mapping example is a complete, valid configuration."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Embedding the bridge", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    head = code.split("with open_clients", 1)[0]
    head = "\n".join(line for line in head.splitlines() if "from_toml" not in line)
    namespace: dict[str, object] = {}
    exec(compile(head, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    config = namespace["config"]
    assert isinstance(config, expense_bridge.BridgeConfig)
    assert config.policies == ("F1E2D3C4B5A69788",)
    assert isinstance(namespace["secrets"], Secrets)
    assert "with open_clients(config, secrets=secrets)" in code
