"""What the library opens, it closes: no ResourceWarning under ``python -X dev``.

``sync()`` and ``replay()`` given no store open the configured one and close it;
the store is a context manager. The scenario runs in a child interpreter with ``-X dev``
(ResourceWarning shown, never swallowed); it checks through ``/proc/self/fd`` that no
descriptor on the state database is left open once each call returns (Python 3.11's sqlite3
does not warn about unclosed connections), and the test fails on any ResourceWarning or
unraisable exception in its stderr.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = textwrap.dedent(
    """
    import gc, os, sys
    from pathlib import Path

    import attrs

    from expense_bridge import Action, SQLiteStore, replay, sync
    from tests.bridge_world import make_world

    tmp = Path(sys.argv[1])


    def state_files_open():
        fds = os.listdir("/proc/self/fd")
        paths = []
        for fd in fds:
            try:
                paths.append(os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:  # the listing's own descriptor, closed meanwhile
                pass
        return [p for p in paths if "own.sqlite3" in p]


    world = make_world(tmp)
    world.store.close()  # the library opens its own below
    world.config = attrs.evolve(world.config, state_path=tmp / "own.sqlite3")
    posted = world.add_approved(1)
    held = world.add_approved(2, category="Mystery")
    result = sync(world.config, acumatica=world.acu_client, expensify=world.exp_client,
                  now=world.clock)
    assert result.posted == 1, result.counts
    assert state_files_open() == [], state_files_open()  # closed on return, not by gc
    again = replay(world.config, held, acumatica=world.acu_client,
                   expensify=world.exp_client, now=world.clock)
    assert again.outcome.action is Action.HELD, again.outcome
    assert state_files_open() == [], state_files_open()
    with SQLiteStore(tmp / "own.sqlite3") as store:
        assert store.get("default", posted) is not None
        assert state_files_open() != []  # the check sees an open store
    assert state_files_open() == [], state_files_open()
    world.acu_client.close()
    world.exp_client.close()
    del world, store
    gc.collect()
    print("scenario done")
    """
)


def test_sync_replay_and_the_store_leave_nothing_open(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-c", SCENARIO, str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.strip().endswith("scenario done")
    assert "ResourceWarning" not in done.stderr, done.stderr[-4000:]
    assert "Exception ignored" not in done.stderr, done.stderr[-4000:]
    assert (tmp_path / "own.sqlite3").exists()  # the configured store was the one used
