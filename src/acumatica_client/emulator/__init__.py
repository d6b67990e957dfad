"""A faithful emulator of one Acumatica tenant's contract-based REST API.

    >>> from acumatica_client.emulator import AcumaticaEmulator
    >>> emulator = AcumaticaEmulator(version="24.200.001")
    >>> transport = emulator.transport()          # for httpx / AcumaticaClient(transport=…)
    >>> with emulator.serve() as server:          # or real HTTP on 127.0.0.1
    ...     server.url                            # == server.base_url, the instance URL

Default credentials (public constants): user :data:`DEFAULT_USERNAME` with
:data:`DEFAULT_PASSWORD` in tenant :data:`DEFAULT_TENANT`; OAuth client
:data:`DEFAULT_CLIENT_ID` (``expense-bridge@<tenant>``) with :data:`DEFAULT_CLIENT_SECRET`.
Pass ``users=`` / ``oauth_clients=`` to the constructor to replace them.

The emulator answers as a real tenant does by default (500 for a missing record, 500
``OutcomeEntityHasErrorsException`` for save-time rejections, every field rendered,
licence delays rather than refusals…); each realistic/strict choice is a constructor
option of :class:`AcumaticaEmulator` and is listed in ``COVERAGE.md``.

Laid out like a moto service: ``_backend`` (state and records), ``_handlers`` (entity,
action, auth, discovery and file handlers), ``_accounting`` (fiscal calendar, currency
list, tax categories: the tenant's setup documents are checked against), ``_routes``
(routing, auth gate, licence queue, IIS request filtering, faults), ``_control`` (control
plane), ``_openapi``
(swagger.json), ``_errors`` (Acumatica's error bodies), ``_odata`` (the $filter
parser), ``_faults``, ``_server`` (loopback HTTP). ``COVERAGE.md`` lists what is emulated
and every choice made where the reference was unsure.
"""

from __future__ import annotations

from ._faults import Fault
from ._odata import FilterSyntaxError, compile_filter
from ._openapi import openapi_document
from ._routes import (
    CONTROL_PREFIX,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PASSWORD,
    DEFAULT_TENANT,
    DEFAULT_USERNAME,
    LICENCE_DECLINED_TEXT,
    AcumaticaEmulator,
)
from ._server import LoopbackServer

__all__ = [
    "CONTROL_PREFIX",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_PASSWORD",
    "DEFAULT_TENANT",
    "DEFAULT_USERNAME",
    "LICENCE_DECLINED_TEXT",
    "AcumaticaEmulator",
    "Fault",
    "FilterSyntaxError",
    "LoopbackServer",
    "compile_filter",
    "openapi_document",
]
