"""The emulator's control plane: reset, seed, inspect and faults, in Python and over HTTP.

Python: ``emulator.seed_accounts(...)``, ``emulator.records("Bill")``,
``emulator.inject(status=429, retry_after=2)``… HTTP (JSON, under ``/_emulator/``):

=========================  ==========================================================
``POST reset``             forget records, tokens, sessions, faults and the log
``POST seed/{Entity}``     body: a list of seed rows (see :meth:`ControlPlane.seed`);
                           ``seed/Branch`` seeds branches (``CompaniesStructure``)
``GET records/{Entity}``   stored records as JSON (plain values, ISO date-times)
``POST faults``            body: :class:`Fault` keyword arguments; answers ``pending``
``DELETE faults``          drop every pending fault
``GET log``                ``[[method, path, status], …]`` (status 0: answer dropped)
``POST archive/{E}/{keys}``  archive a record (keys ``/``-separated, or its id);
                           ``DELETE`` the same path restores it
``GET files/{E}/{keys}``   the record's attachments: ``{name: {id, size, comment}}``
``POST reject_saves``      body ``{"entity", "message", "times"}``: the next saves of
                           that entity fail at save time (see :meth:`reject_saves`)
``POST close_period/{p}``  body ``{"modules": ["AP"]}`` (optional, default GL = all):
                           close financial period ``p`` (``MMYYYY``); ``reopen_period``
                           reopens it
``POST pay/{E}/{keys}``    pay a released Bill (or a released claim's AP bills) in full
=========================  ==========================================================

The control plane needs no authentication: the server only listens on 127.0.0.1.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import httpx

from ._accounting import CLOSING_FLAGS, MODULES, fiscal_year_row, normalize_period, set_period
from ._backend import KEYS, Backend
from ._errors import json_response
from ._faults import Fault, FaultPlan
from ._wire import loads

__all__ = ["CONTROL_PREFIX", "ControlPlane"]

#: Reserved path prefix of the HTTP control plane.
CONTROL_PREFIX = "/_emulator"

SeedRow = Mapping[str, Any] | str


class ControlPlane:
    """Reset, seed, inspect and fault injection (mixed into ``AcumaticaEmulator``).

    Seed rows are dicts keyed by wire field names, with plain values (``"61000"``,
    ``Decimal("12.50")``, ``True``, a ``datetime``) or wrapped ones (``{"value": …}``);
    linked entities are nested dicts, details lists of dicts. The typed helpers
    (``seed_accounts`` …) also take a bare string, meaning a record with just that key
    (and ``Active``/``Status`` set so it is usable). Unknown fields raise ``ValueError``.
    """

    backend: Backend
    faults: FaultPlan
    request_log: list[tuple[str, str, int]]

    def _reset_licence(self) -> None:  # pragma: no cover - provided by the emulator
        raise NotImplementedError

    # ------------------------------------------------------------------ Python API

    def reset(self) -> None:
        """Forget all records, tokens, sessions, running actions, faults and the log."""
        self.backend.reset()
        self.faults.clear()
        self.request_log.clear()
        self._reset_licence()

    def seed(self, entity: str, rows: Iterable[Mapping[str, Any]]) -> int:
        """Insert or update (by key) records of a top-level ``entity``; returns the count."""
        if entity not in KEYS or entity == "CompaniesStructure":
            raise ValueError(f"cannot seed {entity!r}; use seed_branches() for branches")
        return len(self.backend.seed(entity, rows))

    def seed_accounts(self, *rows: SeedRow) -> int:
        """GL accounts (``AccountCD``; a bare string is an active expense account)."""
        return self.seed("Account", _rows(rows, "AccountCD", Type="Expense", Active=True))

    def seed_subaccounts(self, *rows: SeedRow) -> int:
        """Subaccounts (``SubaccountCD``; a bare string is an active subaccount)."""
        return self.seed("Subaccount", _rows(rows, "SubaccountCD", Active=True))

    def seed_vendors(self, *rows: SeedRow) -> int:
        """Vendors (``VendorID``; a bare string is an active vendor)."""
        return self.seed("Vendor", _rows(rows, "VendorID", Status="Active"))

    def seed_employees(self, *rows: SeedRow) -> int:
        """Employees (``EmployeeID``; a bare string is an active employee)."""
        return self.seed("Employee", _rows(rows, "EmployeeID", Status="Active"))

    def seed_projects(self, *rows: SeedRow) -> int:
        """Projects (``ProjectID``); a row may carry ``"Tasks": ["01", …]`` or task dicts,
        which are seeded as ``ProjectTask`` records of that project."""
        tasks: list[dict[str, Any]] = []
        projects: list[dict[str, Any]] = []
        for row in _rows(rows, "ProjectID", Status="Active"):
            project = dict(row)
            for task in project.pop("Tasks", ()):
                entry = {"ProjectTaskID": task} if isinstance(task, str) else dict(task)
                tasks.append({"ProjectID": project["ProjectID"], "Status": "Active", **entry})
            projects.append(project)
        count = self.seed("Project", projects)
        if tasks:
            self.seed("ProjectTask", tasks)
        return count

    def seed_project_tasks(self, *rows: Mapping[str, Any]) -> int:
        """Project tasks (``ProjectID`` + ``ProjectTaskID``)."""
        return self.seed("ProjectTask", [{"Status": "Active", **row} for row in rows])

    def seed_currencies(self, *rows: SeedRow) -> int:
        """Currencies (``CurrencyID``; a bare string is an active currency, 2 decimals).

        A set-up tenant already lists the base currency and a few others
        (``accounting_setup``); documents in a currency not listed (or inactive) are refused.
        """
        return self.seed(
            "Currency",
            _rows(rows, "CurrencyID", Active=True, UseForAccounting=True, DecimalPrecision=2),
        )

    def seed_tax_categories(self, *rows: SeedRow) -> int:
        """Tax categories (``TaxCategoryID``; a bare string is an active category).

        Bill and expense claim lines naming a category not listed (or inactive) are refused.
        """
        return self.seed("TaxCategory", _rows(rows, "TaxCategoryID", Active=True))

    def seed_tax_zones(self, *rows: SeedRow) -> int:
        """Tax zones (``TaxZoneID``; a bare string is a zone with no applicable taxes).

        An expense claim naming a zone not listed (``FinancialDetails.TaxZone`` or a
        line's ``TaxZone``) is refused. A fresh tenant has none.
        """
        return self.seed("TaxZone", _rows(rows, "TaxZoneID"))

    def seed_expense_items(self, *rows: SeedRow) -> int:
        """Expense items: non-stock items of type Expense (``InventoryID``).

        A bare string is an active expense item with no default account; a dict may give
        ``ExpenseAccount``, ``ExpenseSubaccount``, ``TaxCategory`` (the defaults of an
        expense claim line naming the item) and anything else of ``NonStockItem``;
        ``ItemType`` defaults to ``Expense``, ``ItemStatus`` to ``Active``, units to ``EA``.
        """
        defaults = {"ItemType": "Expense", "ItemStatus": "Active", "BaseUnit": "EA",
                    "PurchaseUnit": "EA", "SalesUnit": "EA"}  # fmt: skip
        items = [{**defaults, **row} for row in _rows(rows, "InventoryID")]
        return self.seed("NonStockItem", items)

    def seed_financial_years(self, *years: int, closed: bool = False) -> int:
        """Fiscal years of twelve calendar-month periods (``FinancialPeriod`` records,
        period IDs ``MMYYYY``), open unless ``closed`` (closed in every module and GL).

        A set-up tenant already has the previous, current and next year
        (``accounting_setup``); seeding a year again replaces its periods.
        """
        return self.seed("FinancialPeriod", [fiscal_year_row(y, closed=closed) for y in years])

    def close_period(self, period: str, *modules: str) -> None:
        """Close a financial period (``"082026"`` or ``"08-2026"``) in ``modules``
        (``AP``, ``AR``, ``CA``, ``FA``, ``IN``; ``GL`` closes it in every module and sets
        its ``Status`` to ``Closed``). Without modules: GL (everything).

        Documents of a module whose period is closed are refused when saved (and their
        release is refused), as the real tenant does.
        """
        self._set_period(period, modules or ("GL",), closed=True)

    def reopen_period(self, period: str, *modules: str) -> None:
        """Reopen a financial period in ``modules`` (default: every module and GL)."""
        self._set_period(period, modules or ("GL", *CLOSING_FLAGS), closed=False)

    def _set_period(self, period: str, modules: Iterable[str], *, closed: bool) -> None:
        wanted = frozenset(m.upper() for m in modules)
        unknown = wanted - MODULES
        if unknown:
            raise ValueError(f"unknown module(s) {sorted(unknown)}; known: {sorted(MODULES)}")
        normal = normalize_period(period)
        if normal is None:
            raise ValueError(f"a period is MMYYYY or MM-YYYY, not {period!r}")
        b = self.backend
        with b.lock:
            year = set_period(b.records["FinancialPeriod"], normal, modules=wanted, closed=closed)
            year["LastModifiedDateTime"] = b.clock()

    def pay(self, entity: str, *keys: str) -> None:
        """Pay a released document in full, as a released AP payment leaves it.

        A ``Bill`` must be ``Open``: it becomes ``Closed`` with ``Balance`` 0 (and its row
        in a released claim's ``FinancialDetails.APDocuments`` reads ``Closed``). An
        ``ExpenseClaim`` must be ``Released``: its AP bills are paid (the claim's own
        status stays ``Released``; Acumatica has no paid status for claims).
        """
        b = self.backend
        with b.lock:
            record = self._record(entity, keys)
            if entity == "ExpenseClaim":
                if record.get("Status") != "Released":
                    raise ValueError(f"claim {record.get('RefNbr')} is not released")
                docs = (record.get("FinancialDetails") or {}).get("APDocuments") or []
                for doc in docs:
                    self.pay("Bill", str(doc.get("Type")), str(doc.get("RefNbr")))
                return
            if entity != "Bill":
                raise ValueError("only a Bill or an ExpenseClaim can be paid")
            if record.get("Status") != "Open":
                raise ValueError(
                    f"bill {record.get('ReferenceNbr')} is {record.get('Status')}, not Open"
                )
            record["Status"] = "Closed"
            record["Balance"] = 0
            record["LastModifiedDateTime"] = b.clock()
            for claim in b.records["ExpenseClaim"]:
                for doc in (claim.get("FinancialDetails") or {}).get("APDocuments") or []:
                    if (doc.get("Type"), doc.get("RefNbr")) == (
                        record.get("Type"),
                        record.get("ReferenceNbr"),
                    ):
                        doc["Status"] = "Closed"

    def seed_branches(self, branches: Iterable[SeedRow]) -> int:
        """Branches, served as ``Results`` rows of the ``CompaniesStructure`` inquiry.

        Rows are ``CompaniesStructureDetail`` dicts (``BranchID``, ``BranchName``…) or a
        bare branch code. Seeding again adds to (or updates by ``BranchID``) the branches.
        """
        rows = [{"BranchID": b} if isinstance(b, str) else dict(b) for b in branches]
        b = self.backend
        parsed = [b.seed_record("CompaniesStructureDetail", row) for row in rows]
        with b.lock:
            existing = b.records["CompaniesStructure"]
            current = list(existing[0].get("Results", [])) if existing else []
            for row in parsed:
                twin = next((r for r in current if r.get("BranchID") == row.get("BranchID")), None)
                if twin is not None:
                    twin.update(row)
                else:
                    current.append(row)
            b.records["CompaniesStructure"] = []
        b.seed("CompaniesStructure", [{"Results": current}])
        return len(rows)

    def records(self, entity: str) -> list[dict[str, Any]]:
        """Stored records of ``entity`` (copies; plain values, details included)."""
        if entity not in KEYS:
            raise ValueError(f"unknown entity {entity!r}")
        with self.backend.lock:
            return [_copy(r) for r in self.backend.records[entity]]

    def _record(self, entity: str, keys: Iterable[str]) -> dict[str, Any]:
        if entity not in KEYS:
            raise ValueError(f"unknown entity {entity!r}")
        values = list(keys)
        names = KEYS[entity]
        if len(values) not in (1, len(names)):
            raise ValueError(f"{entity} is identified by {', '.join(names)} (or its id)")
        found = None
        if len(values) == len(names):
            found = self.backend.find(entity, dict(zip(names, values, strict=True)))
        if found is None and len(values) == 1:
            found = self.backend.find(entity, {"id": values[0]})
        if found is None:
            raise KeyError(f"no {entity} {'/'.join(values)}")
        return found

    def archive(self, entity: str, *keys: str) -> None:
        """Archive a record (by key values in key order, or by its id).

        An archived record stays in the database (a duplicate Vendor Ref. check still
        sees it) but the API hides it from GET, lists and actions unless the request
        carries ``PX-ApiArchive: SHOW``; it cannot be changed.
        """
        with self.backend.lock:
            self.backend.archived.add(str(self._record(entity, keys)["id"]))

    def unarchive(self, entity: str, *keys: str) -> None:
        """Restore an archived record (see :meth:`archive`)."""
        with self.backend.lock:
            self.backend.archived.discard(str(self._record(entity, keys)["id"]))

    def is_archived(self, entity: str, *keys: str) -> bool:
        """Whether the record is archived."""
        with self.backend.lock:
            return self._record(entity, keys)["id"] in self.backend.archived

    def files(self, entity: str, *keys: str) -> dict[str, bytes]:
        """The files attached to a record (by keys or id): file name -> content."""
        with self.backend.lock:
            ident = str(self._record(entity, keys)["id"])
            return {name: f.content for name, f in self.backend.files.get(ident, {}).items()}

    def reject_saves(self, entity: str, message: str, *, times: int = 1) -> None:
        """Make the next ``times`` saves (PUTs) of ``entity`` fail at save time.

        Field validation passes; the error arises when the record is persisted, as a
        tenant's business rule or customisation would: 500
        ``OutcomeEntityHasErrorsException`` carrying ``message`` (or, with
        ``save_time_rejection=False``, a 422 entity echo). Nothing is stored.
        """
        if entity not in KEYS:
            raise ValueError(f"unknown entity {entity!r}")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self.backend.lock:
            self.backend.save_rejections.append([entity, str(message), times])

    def inject(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        delay: float | None = None,
        drop_response: bool = False,
        times: int = 1,
        exception_type: str | None = None,
        exception_message: str | None = None,
        text: str | None = None,
    ) -> Fault:
        """Make the next ``times`` matching calls fail (see :class:`Fault`)."""
        fault = Fault(
            method=method,
            path=path,
            status=status,
            retry_after=retry_after,
            delay=delay,
            drop_response=drop_response,
            times=times,
            exception_type=exception_type,
            exception_message=exception_message,
            text=text,
        )
        self.faults.add(fault)
        return fault

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        self.faults.clear()

    # ------------------------------------------------------------------ HTTP

    def control(self, request: httpx.Request, path: str) -> httpx.Response:
        """Serve one control-plane request (``path`` is below ``/_emulator``)."""
        try:
            body = loads(request.content) if request.content else None
        except ValueError:
            return json_response(400, {"error": "control bodies are JSON"})
        parts = [p for p in path.split("/") if p]
        method = request.method
        try:
            if parts == ["reset"] and method == "POST":
                self.reset()
                return json_response(200, {"ok": True})
            if len(parts) == 2 and parts[0] == "seed" and method == "POST":
                rows = _revive(body or [])
                if parts[1] == "Branch":
                    return json_response(200, {"seeded": self.seed_branches(rows)})
                return json_response(200, {"seeded": self.seed(parts[1], rows)})
            if len(parts) == 2 and parts[0] == "records" and method == "GET":
                return json_response(200, _plain(self.records(parts[1])))
            if parts == ["faults"] and method == "POST":
                self.inject(**_object(body))
                return json_response(200, {"pending": self.faults.pending})
            if parts == ["faults"] and method == "DELETE":
                self.clear_faults()
                return json_response(200, {"pending": 0})
            if parts == ["log"] and method == "GET":
                return json_response(200, [list(entry) for entry in self.request_log])
            if len(parts) >= 3 and parts[0] == "archive" and method in ("POST", "DELETE"):
                if method == "POST":
                    self.archive(parts[1], *parts[2:])
                else:
                    self.unarchive(parts[1], *parts[2:])
                return json_response(200, {"archived": method == "POST"})
            if len(parts) >= 3 and parts[0] == "files" and method == "GET":
                with self.backend.lock:
                    ident = str(self._record(parts[1], parts[2:])["id"])
                    stored = self.backend.files.get(ident, {})
                    listing = {
                        name: {"id": f.id, "size": len(f.content), "comment": f.comment}
                        for name, f in stored.items()
                    }
                return json_response(200, listing)
            if len(parts) == 2 and parts[0] in ("close_period", "reopen_period"):
                if method != "POST":
                    return json_response(405, {"error": "POST only"})
                modules = [str(m) for m in (_object(body or {}).get("modules") or ())]
                if parts[0] == "close_period":
                    self.close_period(parts[1], *modules)
                else:
                    self.reopen_period(parts[1], *modules)
                return json_response(200, {"ok": True})
            if len(parts) >= 3 and parts[0] == "pay" and method == "POST":
                self.pay(parts[1], *parts[2:])
                return json_response(200, {"paid": True})
            if parts == ["reject_saves"] and method == "POST":
                spec = _rejection(body)
                self.reject_saves(
                    str(spec["entity"]), str(spec["message"]), times=int(spec.get("times", 1))
                )
                return json_response(200, {"ok": True})
        except KeyError as exc:
            return json_response(404, {"error": str(exc.args[0]) if exc.args else "not found"})
        except (TypeError, ValueError, re.error) as exc:
            return json_response(400, {"error": str(exc)})
        return json_response(404, {"error": f"no control resource {path}"})


def _rejection(body: Any) -> Mapping[str, Any]:
    spec = _object(body)
    if "entity" not in spec or "message" not in spec:
        raise ValueError("reject_saves needs 'entity' and 'message'")
    return spec


def _object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise TypeError("a fault is a JSON object of inject() arguments")
    return body


def _rows(rows: Iterable[SeedRow], key: str, **defaults: Any) -> list[dict[str, Any]]:
    return [{key: r, **defaults} if isinstance(r, str) else dict(r) for r in rows]


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """Stored records as JSON-ready values (date-times as ISO 8601 strings)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _revive(rows: Any) -> list[Any]:
    """Control-plane seeds over HTTP: ISO strings in ``*DateTime`` fields become datetimes."""
    if not isinstance(rows, list):
        raise TypeError("a seed body is a JSON list of rows")
    out: list[Any] = []
    for row in rows:
        if not isinstance(row, Mapping):
            out.append(row)
            continue
        record = dict(row)
        for key, value in row.items():
            if key.endswith("DateTime") and isinstance(value, str):
                record[key] = datetime.fromisoformat(value)
        out.append(record)
    return out
