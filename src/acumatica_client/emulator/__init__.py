"""A strict emulator of one Acumatica tenant's contract-based REST API.

    >>> from acumatica_client.emulator import AcumaticaEmulator
    >>> emulator = AcumaticaEmulator(version="24.200.001")
    >>> transport = emulator.transport()          # for httpx / AcumaticaClient(transport=…)
    >>> with emulator.serve() as server:          # or real HTTP on 127.0.0.1
    ...     server.base_url

Laid out like a moto service: ``_backend`` (state and records), ``_handlers`` (entity,
action, auth and discovery handlers), ``_routes`` (routing, auth gate, licence ceiling,
faults, control plane), ``_errors`` (Acumatica's error bodies), ``_odata`` (the $filter
parser), ``_faults``, ``_server`` (loopback HTTP). ``COVERAGE.md`` lists what is emulated
and every choice made where the reference was unsure.
"""

from __future__ import annotations

from ._faults import Fault
from ._odata import FilterSyntaxError, compile_filter
from ._routes import CONTROL_PREFIX, AcumaticaEmulator
from ._server import LoopbackServer

__all__ = [
    "CONTROL_PREFIX",
    "AcumaticaEmulator",
    "Fault",
    "FilterSyntaxError",
    "LoopbackServer",
    "compile_filter",
]
