"""Adapters implementing the bridge's ports over the real clients.

* :class:`AcumaticaLedger` -- :class:`~expense_bridge._ports.Ledger` over
  :class:`acumatica_client.AcumaticaClient` (implementation in :mod:`._ledger`).
* :class:`ExpensifySource` -- :class:`~expense_bridge._ports.ExpenseSource` over
  :class:`expensify_client.ExpensifyClient` (implementation in :mod:`._source`).

This module is the one import path the orchestration and the tests use for them.
"""

from __future__ import annotations

from ._ledger import AcumaticaLedger
from ._ports import LedgerDocument
from ._source import ExpensifySource

__all__ = ["AcumaticaLedger", "ExpensifySource", "LedgerDocument"]
