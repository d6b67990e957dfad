"""Handlers of the emulated contract-based API: entities, actions, auth, discovery.

Each handler takes the backend and the parsed request and returns a response or raises
:class:`EmulatorError`. Business rules follow acumatica-api.md; where the reference is
unsure the stricter behaviour is modelled (see COVERAGE.md).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import httpx

from .._converters import loads
from ._backend import KEYS, Backend
from ._errors import EmulatorError, error_object, json_response
from ._odata import FilterSyntaxError, compile_filter

__all__ = ["EntityHandlers"]

_ZERO = Decimal(0)


def _entity_error(body: dict[str, Any], message: str) -> EmulatorError:
    body = dict(body)
    body["error"] = message
    return EmulatorError(422, body)


class EntityHandlers:
    """Entity, action, auth and discovery handlers over one :class:`Backend`."""

    def __init__(
        self,
        backend: Backend,
        *,
        users: Mapping[str, str],
        oauth_clients: Mapping[str, str],
        tenant: str,
        token_lifetime: float,
        api_seats: int,
    ) -> None:
        self.backend = backend
        self.users = dict(users)
        self.oauth_clients = dict(oauth_clients)
        self.tenant = tenant
        self.token_lifetime = token_lifetime
        self.api_seats = api_seats

    # ------------------------------------------------------------------ auth

    def token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if client_id not in self.oauth_clients or self.oauth_clients[client_id] != secret:
            return json_response(400, {"error": "invalid_client"})
        grant = form.get("grant_type")
        b = self.backend
        with b.lock:
            if grant == "password":
                user, password = form.get("username", ""), form.get("password")
                if self.users.get(user) != password:
                    return json_response(
                        400,
                        {
                            "error": "invalid_grant",
                            "error_description": "invalid_username_or_password",
                        },
                    )
                scopes = form.get("scope", "").split()
                if "api" not in scopes:
                    return json_response(400, {"error": "invalid_scope"})
                issued = b.issue_grant(
                    user, self.token_lifetime, refresh="offline_access" in scopes
                )
            elif grant == "refresh_token":
                old = next(
                    (g for g in b.grants.values() if g.refresh_token == form.get("refresh_token")),
                    None,
                )
                if old is None or not form.get("refresh_token"):
                    return json_response(400, {"error": "invalid_grant"})
                old.refresh_token = None  # refresh tokens rotate: one use each
                issued = b.issue_grant(old.user, self.token_lifetime, refresh=True)
            else:
                return json_response(400, {"error": "unsupported_grant_type"})
        body: dict[str, Any] = {
            "access_token": issued.access_token,
            "expires_in": int(self.token_lifetime),
            "token_type": "Bearer",
            "scope": form.get("scope", "api offline_access"),
        }
        if issued.refresh_token:
            body["refresh_token"] = issued.refresh_token
        return json_response(200, body)

    def login(self, request: httpx.Request) -> httpx.Response:
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            raise EmulatorError.invalid({"body": ["A JSON object was expected."]}) from None
        if not isinstance(body, dict) or not body.get("name"):
            raise EmulatorError.invalid({"name": ["The name is required."]})
        tenant = body.get("tenant")
        if self.users.get(body["name"]) != body.get("password") or (
            tenant is not None and tenant != self.tenant
        ):
            raise EmulatorError(401, error_object("Invalid credentials. Please try again."))
        with self.backend.lock:
            if len(self.backend.sessions) >= self.api_seats:
                raise EmulatorError(
                    429,
                    error_object(
                        "API Login Limit",
                        "You have reached the API Login Limit of your license. "
                        "Sign out of other API sessions.",
                    ),
                )
            cookie = uuid.uuid4().hex
            self.backend.sessions[cookie] = body["name"]
        return httpx.Response(204, headers={"Set-Cookie": f".ASPXAUTH={cookie}; path=/; HttpOnly"})

    def logout(self, request: httpx.Request) -> httpx.Response:
        cookie = _cookie(request)
        with self.backend.lock:
            if cookie is not None:
                self.backend.sessions.pop(cookie, None)
        return httpx.Response(204, headers={"Set-Cookie": ".ASPXAUTH=; path=/; Max-Age=0"})

    def authorized(self, request: httpx.Request) -> str | None:
        """The signed-in user of a request (bearer token or session cookie)."""
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            with self.backend.lock:
                return self.backend.user_for_token(header[7:])
        cookie = _cookie(request)
        if cookie is not None:
            with self.backend.lock:
                return self.backend.sessions.get(cookie)
        return None

    def discovery(self, other_versions: tuple[str, ...]) -> httpx.Response:
        versions = sorted({self.backend.version, *other_versions})
        endpoints = [
            {"name": "Default", "version": v, "href": f"/entity/Default/{v}/"} for v in versions
        ]
        endpoints.append(
            {
                "name": "MANUFACTURING",
                "version": "25.100.001",
                "href": "/entity/MANUFACTURING/25.100.001/",
            }
        )
        return json_response(
            200,
            {
                "version": {
                    "acumaticaBuildVersion": f"{self.backend.version[:2]}.212.0034",
                    "oemBuildVersion": "",
                    "databaseVersion": "",
                },
                "endpoints": endpoints,
            },
        )

    # ------------------------------------------------------------------ reads

    def list_records(self, entity: str, params: Mapping[str, str]) -> httpx.Response:
        b = self.backend
        predicate = None
        if "$filter" in params:
            fields = b.fields.get(entity, {})

            def known(path: str) -> bool:
                head, _, tail = path.partition("/")
                kind = fields.get(head)
                if kind is None:
                    return False
                if not tail:
                    return not kind.endswith("[]")
                return tail in b.fields.get(kind, {})

            try:
                predicate = compile_filter(params["$filter"], known)
            except FilterSyntaxError as exc:
                raise EmulatorError(400, error_object(f"Invalid $filter: {exc}")) from None
        top = _int_param(params, "$top")
        skip = _int_param(params, "$skip") or 0
        expand = _csv(params.get("$expand"))
        select = _csv(params.get("$select"))
        self._check_names(entity, expand, select)
        with b.lock:
            rows = [r for r in b.records[entity] if predicate is None or predicate(r)]
            page = rows[skip : skip + top if top is not None else None]
            body = [
                b.render(entity, r, expand=expand, select=select, row_number=skip + i + 1)
                for i, r in enumerate(page)
            ]
        return json_response(200, body)

    def get(self, entity: str, segments: list[str], params: Mapping[str, str]) -> httpx.Response:
        record = self._locate(entity, segments)
        expand = _csv(params.get("$expand"))
        select = _csv(params.get("$select"))
        self._check_names(entity, expand, select)
        with self.backend.lock:
            return json_response(
                200, self.backend.render(entity, record, expand=expand, select=select)
            )

    def delete(self, entity: str, segments: list[str]) -> httpx.Response:
        record = self._locate(entity, segments)
        with self.backend.lock:
            if record.get("Status") in ("Open", "Posted", "Closed"):
                raise EmulatorError(422, error_object("A released document cannot be deleted."))
            self.backend.records[entity].remove(record)
        return httpx.Response(204)

    def _locate(self, entity: str, segments: list[str]) -> dict[str, Any]:
        b = self.backend
        with b.lock:
            if len(segments) == 1 and _is_guid(segments[0]):
                record = b.find(entity, {"id": segments[0]})
            else:
                names = KEYS[entity]
                if len(segments) != len(names):
                    raise EmulatorError(
                        400, error_object(f"{entity} is identified by {', '.join(names)}.")
                    )
                record = b.find(entity, dict(zip(names, segments, strict=True)))
        if record is None:
            raise EmulatorError(
                404,
                error_object(
                    "No entity satisfies the condition.",
                    exception_type="PX.Api.ContractBased.NoEntitySatisfiesTheConditionException",
                ),
            )
        return record

    def _check_names(self, entity: str, expand: list[str], select: list[str]) -> None:
        fields = self.backend.fields.get(entity, {})
        for name in expand:
            head = name.split("/")[0]
            kind = fields.get(head)
            if kind is None or (kind.endswith("[]") is False and kind.endswith("Value")):
                raise EmulatorError(400, error_object(f"Invalid $expand: '{name}'."))
        for name in select:
            if name.split("/")[0] not in fields:
                raise EmulatorError(400, error_object(f"Invalid $select: '{name}'."))

    # ------------------------------------------------------------------ writes

    def put(self, entity: str, request: httpx.Request, params: Mapping[str, str]) -> httpx.Response:
        b = self.backend
        try:
            body = loads(request.content or b"")
        except ValueError:
            raise EmulatorError.invalid({"body": ["A JSON object was expected."]}) from None
        if entity == "CompaniesStructure":
            return self._companies(params)
        incoming = b.parse(entity, body)
        expand = _csv(params.get("$expand"))
        with b.lock:
            existing = b.find(entity, incoming)
            record = self._apply(entity, existing, incoming, body)
            if existing is None:
                b.records[entity].append(record)
            else:
                existing.clear()
                existing.update(record)
                record = existing
            return json_response(200, b.render(entity, record, expand=expand))

    def _apply(
        self,
        entity: str,
        existing: dict[str, Any] | None,
        incoming: dict[str, Any],
        body: Any,
    ) -> dict[str, Any]:
        b = self.backend
        record = dict(existing or {})
        if existing is not None and existing.get("Status") in ("Open", "Posted", "Closed"):
            raise _entity_error(body, "The document has been released and cannot be changed.")
        for key, value in incoming.items():
            if key in ("Details",) and existing is not None:
                record[key] = _merge_details(existing.get(key, []), value)
            else:
                record[key] = value
        record.setdefault("id", str(uuid.uuid4()))
        rule = getattr(self, f"_rules_{entity}", None)
        if rule is not None:
            rule(record, existing is None, body)
        record["LastModifiedDateTime"] = b.clock()
        return record

    def _rules_Bill(self, record: dict[str, Any], new: bool, body: Any) -> None:
        b = self.backend
        errors: dict[str, str] = {}
        detail_errors: dict[int, dict[str, str]] = {}
        record.setdefault("Type", "Bill")
        if record["Type"] not in ("Bill", "Debit Adj.", "Credit Adj.", "Prepayment"):
            errors["Type"] = f"'{record['Type']}' is not a valid document type."
        vendor = record.get("Vendor")
        if not vendor:
            errors["Vendor"] = "'Vendor' cannot be empty."
        elif not (b.exists("Vendor", VendorID=vendor) or b.exists("Employee", EmployeeID=vendor)):
            errors["Vendor"] = f"Vendor '{vendor}' cannot be found in the system."
        self._check_branch(record.get("BranchID"), "BranchID", errors)
        if b.reject_duplicate_vendor_ref and record.get("VendorRef"):
            twin = next(
                (
                    r for r in b.records["Bill"]
                    if r is not record and r.get("id") != record.get("id")
                    and r.get("Vendor") == vendor and r.get("VendorRef") == record["VendorRef"]
                ),
                None,
            )  # fmt: skip
            if twin is not None:
                errors["VendorRef"] = (
                    f"Document with the same Vendor Ref. already exists: "
                    f"{twin.get('Type')} {twin.get('ReferenceNbr')}."
                )
        total = _ZERO
        for index, line in enumerate(record.get("Details", [])):
            line_errors: dict[str, str] = {}
            self._check_account(line.get("Account"), "Account", line_errors)
            self._check_sub(line.get("Subaccount"), "Subaccount", line_errors)
            self._check_branch(line.get("Branch"), "Branch", line_errors)
            self._check_project(line, line_errors)
            qty = line.get("Qty") if line.get("Qty") is not None else Decimal(1)
            if line.get("ExtendedCost") is None:
                unit = line.get("UnitCost")
                line["ExtendedCost"] = (
                    qty * unit if unit is not None else line.get("Amount") or _ZERO
                )
            line.setdefault("Qty", qty)
            line["Amount"] = line["ExtendedCost"]
            total += line["ExtendedCost"]
            if line_errors:
                detail_errors[index] = line_errors
        if total < 0:
            errors["Amount"] = "The document balance cannot be negative."
        if errors or detail_errors:
            raise _validation(body, "Bill", errors, detail_errors)
        record["Amount"] = total
        record["Balance"] = total
        record.setdefault("CurrencyID", b.base_currency)
        record.setdefault("Date", b.clock().replace(hour=0, minute=0, second=0, microsecond=0))
        if new:
            record["ReferenceNbr"] = record.get("ReferenceNbr") or b.next_number("Bill")
            record.setdefault("Hold", b.hold_on_entry)
        record["Status"] = "On Hold" if record.get("Hold") else "Balanced"

    def _rules_JournalTransaction(self, record: dict[str, Any], new: bool, body: Any) -> None:
        b = self.backend
        errors: dict[str, str] = {}
        detail_errors: dict[int, dict[str, str]] = {}
        record.setdefault("Module", "GL")
        if record["Module"] != "GL":
            errors["Module"] = "Only GL batches can be entered through this entity."
        self._check_branch(record.get("BranchID"), "BranchID", errors)
        debit = credit = _ZERO
        lines = record.get("Details", [])
        if not lines:
            errors["Details"] = "The batch has no lines."
        for index, line in enumerate(lines):
            line_errors: dict[str, str] = {}
            self._check_account(line.get("Account"), "Account", line_errors)
            self._check_sub(line.get("Subaccount"), "Subaccount", line_errors)
            self._check_branch(line.get("BranchID"), "BranchID", line_errors)
            self._check_project(line, line_errors)
            d, c = line.get("DebitAmount") or _ZERO, line.get("CreditAmount") or _ZERO
            if d < 0 or c < 0:
                line_errors["DebitAmount"] = "Amounts cannot be negative."
            debit += d
            credit += c
            line.setdefault("LineNbr", index + 1)
            if line_errors:
                detail_errors[index] = line_errors
        if debit != credit:
            errors["Details"] = (
                f"Batch is out of balance: debits {debit} and credits {credit} must be equal."
            )
        if errors or detail_errors:
            raise _validation(body, "JournalTransaction", errors, detail_errors)
        record.setdefault("CurrencyID", b.base_currency)
        record.setdefault("LedgerID", "ACTUAL")
        if new:
            record["BatchNbr"] = record.get("BatchNbr") or b.next_number("JournalTransaction")
            record["CreatedDateTime"] = b.clock()
            record.setdefault("Hold", b.hold_on_entry)
        record["Status"] = "On Hold" if record.get("Hold") else "Balanced"

    def _check_account(self, code: Any, field: str, errors: dict[str, str]) -> None:
        if code is None:
            errors[field] = f"'{field}' cannot be empty."
            return
        account = self.backend.find("Account", {"AccountCD": code})
        if account is None:
            errors[field] = f"Account '{code}' cannot be found in the system."
        elif account.get("Active") is False:
            errors[field] = f"Account '{code}' is inactive."

    def _check_sub(self, code: Any, field: str, errors: dict[str, str]) -> None:
        if code is not None and not self.backend.exists("Subaccount", SubaccountCD=code):
            errors[field] = f"Subaccount '{code}' cannot be found in the system."

    def _check_branch(self, code: Any, field: str, errors: dict[str, str]) -> None:
        if code is not None and code not in self._branches():
            errors[field] = f"Branch '{code}' cannot be found in the system."

    def _check_project(self, line: Mapping[str, Any], errors: dict[str, str]) -> None:
        project = line.get("Project")
        if project is None or project == "X":  # X: the non-project code
            if line.get("ProjectTask") is not None and project is None:
                errors["ProjectTask"] = "A project task needs a project."
            return
        record = self.backend.find("Project", {"ProjectID": project})
        if record is None:
            errors["Project"] = f"Project '{project}' cannot be found in the system."
            return
        if str(record.get("Status", "Active")) not in ("Active", "Planned"):
            errors["Project"] = f"Project '{project}' is not active."
        task = line.get("ProjectTask")
        if task is not None and not self.backend.exists(
            "ProjectTask", ProjectID=project, ProjectTaskID=task
        ):
            errors["ProjectTask"] = f"Task '{task}' cannot be found in project '{project}'."

    def _branches(self) -> set[str]:
        branches = set()
        for row in self.backend.records["CompaniesStructure"]:
            for detail in row.get("Results", []):
                if detail.get("BranchID"):
                    branches.add(detail["BranchID"])
        return branches

    def _companies(self, params: Mapping[str, str]) -> httpx.Response:
        with self.backend.lock:
            rows = self.backend.records["CompaniesStructure"]
            record = rows[0] if rows else {"id": str(uuid.uuid4()), "Results": []}
            expand = _csv(params.get("$expand"))
            return json_response(
                200, self.backend.render("CompaniesStructure", record, expand=expand)
            )

    # ------------------------------------------------------------------ actions

    def action(self, entity: str, action: str, request: httpx.Request, base: str) -> httpx.Response:
        b = self.backend
        if action not in b.actions_of(entity):
            raise EmulatorError(404, error_object(f"Action '{action}' is not found on {entity}."))
        try:
            body = loads(request.content or b"")
        except ValueError:
            raise EmulatorError.invalid({"body": ["A JSON object was expected."]}) from None
        if not isinstance(body, dict) or not isinstance(body.get("entity"), dict):
            raise EmulatorError.invalid({"entity": ["The entity is required."]})
        keys = b.parse(entity, body["entity"])
        with b.lock:
            record = b.find(entity, keys)
            if record is None:
                raise EmulatorError(404, error_object("No entity satisfies the condition."))
            if action in ("ReleaseBill", "ReleaseJournalTransaction"):
                if record.get("Hold"):
                    raise _entity_error(
                        b.render(entity, record), "The document is on hold and cannot be released."
                    )
                if record.get("Status") not in ("Balanced",):
                    raise _entity_error(
                        b.render(entity, record), "Only balanced documents can be released."
                    )
                status = "Open" if entity == "Bill" else "Posted"
            else:
                status = None
            ident = uuid.uuid4().hex
            b.actions[ident] = [b.action_polls, record, status]
        location = f"{base}/{entity}/{action}/status/{ident}"
        return httpx.Response(202, headers={"Location": location})

    def action_status(self, ident: str) -> httpx.Response:
        b = self.backend
        with b.lock:
            state = b.actions.get(ident)
            if state is None:
                raise EmulatorError(404, error_object("The operation is not found."))
            if state[0] > 0:
                state[0] -= 1
                return httpx.Response(202)
            record, status = state[1], state[2]
            if status is not None:
                record["Status"] = status
                record["LastModifiedDateTime"] = b.clock()
            del b.actions[ident]
        return httpx.Response(204)


def _validation(
    body: Any,
    entity: str,
    errors: Mapping[str, str],
    detail_errors: Mapping[int, Mapping[str, str]],
) -> EmulatorError:
    """The entity echoed back with ``error`` on every offending field (422)."""
    echo: dict[str, Any] = dict(body) if isinstance(body, Mapping) else {}
    for field, message in errors.items():
        current = echo.get(field)
        if isinstance(current, Mapping) and "value" in current:
            echo[field] = {**current, "error": message}
        elif field == "Details":
            echo["error_Details"] = message  # no field object to carry it: entity level
        else:
            echo[field] = {"value": None, "error": message}
    details = echo.get("Details")
    if isinstance(details, list):
        rows = [dict(r) if isinstance(r, Mapping) else r for r in details]
        for index, line in detail_errors.items():
            row = rows[index]
            for field, message in line.items():
                current = row.get(field)
                value = current.get("value") if isinstance(current, Mapping) else None
                row[field] = {"value": value, "error": message}
        echo["Details"] = rows
    summary = "; ".join(
        [*errors.values(), *(m for line in detail_errors.values() for m in line.values())]
    )
    echo.pop("error_Details", None)
    echo["error"] = f"Inserting '{entity}' record raised at least one error. {summary}"
    return EmulatorError(422, echo)


def _merge_details(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Detail rows in a PUT: rows with an id update/delete that row, others are added."""
    rows = [dict(r) for r in old]
    for row in new:
        target = next((r for r in rows if row.get("id") and r.get("id") == row.get("id")), None)
        if target is not None:
            if row.get("delete"):
                rows.remove(target)
            else:
                target.update({k: v for k, v in row.items() if k != "delete"})
        elif not row.get("delete"):
            row.setdefault("id", str(uuid.uuid4()))
            rows.append(row)
    return rows


def _cookie(request: httpx.Request) -> str | None:
    header = request.headers.get("cookie", "")
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == ".ASPXAUTH" and value:
            return str(value)
    return None


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def _int_param(params: Mapping[str, str], name: str) -> int | None:
    if name not in params:
        return None
    try:
        value = int(params[name])
    except ValueError:
        raise EmulatorError(400, error_object(f"{name} must be a non-negative integer.")) from None
    if value < 0:
        raise EmulatorError(400, error_object(f"{name} must be a non-negative integer."))
    return value


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
