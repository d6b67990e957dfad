"""A strict emulator of the Expensify (Classic) Integration Server.

    >>> from expensify_client.emulator import ExpensifyEmulator
    >>> emulator = ExpensifyEmulator()
    >>> emulator.add_account("aa_ex_example_com", "s3cr3t", email="owner@example.com")
    >>> transport = emulator.transport()   # ExpensifyClient(credentials=..., transport=transport)

Laid out like a moto service: ``_backend`` (state and business rules), ``_handlers`` (one
per job), ``_routes`` (form parsing, auth and rate-limit gates, faults, control plane),
``_errors`` (Expensify's envelopes), ``_faults``, ``_ratelimit``, ``_seed`` (inputs),
``_server`` (loopback HTTP), ``_render`` (the export template, in Python). ``COVERAGE.md``
lists what is emulated and every choice made where the reference was unsure.
"""

from __future__ import annotations

from ._errors import EmulatorStateError
from ._faults import Fault
from ._routes import API_PATH, CONTROL_PREFIX, ExpensifyEmulator, LoggedRequest
from ._seed import ExpenseSpec, category, employee, tag_level
from ._server import LoopbackServer

__all__ = [
    "API_PATH",
    "CONTROL_PREFIX",
    "EmulatorStateError",
    "ExpenseSpec",
    "ExpensifyEmulator",
    "Fault",
    "LoggedRequest",
    "LoopbackServer",
    "category",
    "employee",
    "tag_level",
]
