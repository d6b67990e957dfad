"""The ``expense-bridge demo``: a seeded company, both emulators, a full sync.

:func:`build_company` is pure data; :func:`run_demo` serves both emulators on loopback
HTTP, seeds them from the company, syncs twice and prints what happened.
"""

from __future__ import annotations

from ._company import Company, HeldReport, build_company

__all__ = ["Company", "HeldReport", "build_company"]
