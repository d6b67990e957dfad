"""Re-record the contract cassettes from the emulators over loopback HTTP.

    .venv/bin/python -m tests.contract.record

Overwrites ``tests/contract/cassettes/*.yaml``; review the diff before committing.
"""

from __future__ import annotations

from pathlib import Path

from acumatica_client.emulator import AcumaticaEmulator
from expense_bridge.testing import make_vcr

from .scenarios import (
    ACUMATICA_CLIENT_ID,
    ACUMATICA_CLIENT_SECRET,
    ACUMATICA_PASSWORD,
    VERSION,
    acumatica_bill_flow,
    seed_acumatica,
)

CASSETTES = Path(__file__).parent / "cassettes"


def record() -> None:
    for old in CASSETTES.glob("*.yaml"):  # vcrpy's "all" mode appends to a cassette
        old.unlink()
    recorder = make_vcr(cassette_dir=CASSETTES, record_mode="all")
    emulator = AcumaticaEmulator(
        version=VERSION,
        users={"admin": ACUMATICA_PASSWORD},
        oauth_clients={ACUMATICA_CLIENT_ID: ACUMATICA_CLIENT_SECRET},
    )
    seed_acumatica(emulator)
    with emulator.serve() as server, recorder.use_cassette("acumatica_bill_flow.yaml"):
        print(acumatica_bill_flow(server.base_url))


def record_sync() -> None:
    """The bridge's sync over both emulators (loopback HTTP)."""
    import tempfile

    from expensify_client.emulator import ExpensifyEmulator

    from .scenarios import bridge_sync_flow, seed_sync_world

    recorder = make_vcr(cassette_dir=CASSETTES, record_mode="all")
    acumatica = AcumaticaEmulator(
        version=VERSION,
        users={"admin": ACUMATICA_PASSWORD},
        oauth_clients={ACUMATICA_CLIENT_ID: ACUMATICA_CLIENT_SECRET},
        hold_on_entry=False,
    )
    expensify = ExpensifyEmulator()
    seed_sync_world(acumatica, expensify)
    with (
        tempfile.TemporaryDirectory() as tmp,
        acumatica.serve() as acu,
        expensify.serve() as exp,
        recorder.use_cassette("bridge_sync_flow.yaml"),
    ):
        print(bridge_sync_flow(acu.base_url, exp.url, Path(tmp) / "state.sqlite3"))


if __name__ == "__main__":
    record()
    record_sync()
