"""expense-bridge: post approved Expensify reports into Acumatica, exactly once.

The public names are re-exported here; implementation lives in ``_private`` modules.
"""

from __future__ import annotations

__all__: list[str] = []
