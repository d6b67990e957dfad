"""A strict emulator of the Expensify (Classic) Integration Server.

    >>> from expensify_client.emulator import ExpensifyEmulator
    >>> emulator = ExpensifyEmulator()
    >>> emulator.add_account("aa_ex_example_com", "s3cr3t", email="owner@example.com")
    >>> transport = emulator.transport()   # ExpensifyClient(credentials=..., transport=transport)

``ExpensifyEmulator(default_account=True)`` (or ``add_account()`` without arguments)
registers the public default credentials :data:`DEFAULT_PARTNER_USER_ID` /
:data:`DEFAULT_PARTNER_USER_SECRET`, acting as :data:`DEFAULT_ACCOUNT_EMAIL`.
:meth:`ExpensifyEmulator.serve` yields a :class:`LoopbackServer` whose ``base_url`` is
``http://127.0.0.1:<port>`` and whose ``url`` is the Integration Server endpoint.

Laid out like a moto service: ``_backend`` (state and business rules), ``_handlers`` (one
per job), ``_routes`` (form parsing, auth and rate-limit gates, faults, control plane),
``_errors`` (Expensify's envelopes), ``_faults``, ``_ratelimit``, ``_seed`` (inputs),
``_server`` (loopback HTTP), ``_render`` (the project's export template, in Python),
``_freemarker`` (any template, through the real engine), ``_lenient_json`` (org.json's
grammar), ``_xlsx`` (workbook output). ``COVERAGE.md``
lists what is emulated and every choice made where the reference was unsure.
"""

from __future__ import annotations

from ._errors import EmulatorStateError
from ._faults import Fault
from ._freemarker import (
    DEFAULT_FREEMARKER_JAR,
    FreeMarkerError,
    FreeMarkerRenderer,
    FreeMarkerUnavailableError,
)
from ._routes import (
    API_PATH,
    CONTROL_PREFIX,
    CREDENTIAL_ERRORS,
    DEFAULT_ACCOUNT_EMAIL,
    DEFAULT_PARTNER_USER_ID,
    DEFAULT_PARTNER_USER_SECRET,
    ExpensifyEmulator,
    LoggedRequest,
    live_like_freemarker,
)
from ._seed import ExpenseSpec, category, employee, tag_level
from ._server import LoopbackServer

__all__ = [
    "API_PATH",
    "CONTROL_PREFIX",
    "CREDENTIAL_ERRORS",
    "DEFAULT_ACCOUNT_EMAIL",
    "DEFAULT_FREEMARKER_JAR",
    "DEFAULT_PARTNER_USER_ID",
    "DEFAULT_PARTNER_USER_SECRET",
    "EmulatorStateError",
    "ExpenseSpec",
    "ExpensifyEmulator",
    "Fault",
    "FreeMarkerError",
    "FreeMarkerRenderer",
    "FreeMarkerUnavailableError",
    "LoggedRequest",
    "LoopbackServer",
    "category",
    "employee",
    "live_like_freemarker",
    "tag_level",
]
