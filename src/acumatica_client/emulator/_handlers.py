"""Handlers of the emulated contract-based API: entities, actions, auth, discovery.

Each handler takes the backend and the parsed request and returns a response or raises
:class:`EmulatorError`. Business rules follow acumatica-api.md; where the reference is
unsure the stricter behaviour is modelled (see COVERAGE.md).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs

import httpx

from ._accounting import normalize_period, period_of, period_problem
from ._backend import KEYS, Backend
from ._errors import EmulatorError, error_object, json_response
from ._odata import FilterSyntaxError, compile_filter
from ._wire import loads

__all__ = ["EntityHandlers"]

_ZERO = Decimal(0)


_SCALAR_TYPES = frozenset(
    {"StringValue", "DecimalValue", "BooleanValue", "IntValue", "ShortValue", "LongValue",
     "DateTimeValue", "GuidValue", "ByteValue", "DoubleValue"}
)  # fmt: skip
_CUSTOM_NAME = re.compile(r"[A-Za-z_]\w*\.[A-Za-z_]\w*")
#: Query parameters each operation documents in the published definitions.
_LIST_PARAMS = frozenset({"$select", "$filter", "$expand", "$custom", "$skip", "$top"})
_ONE_PARAMS = frozenset({"$select", "$filter", "$expand", "$custom"})
_PUT_PARAMS = _ONE_PARAMS


def _check_params(params: Mapping[str, str], allowed: frozenset[str]) -> None:
    """Refuse ``$`` options the operation does not document (``$orderby``, ``$count``…)."""
    unknown = sorted(name for name in params if name.startswith("$") and name not in allowed)
    if unknown:
        raise EmulatorError(
            400, error_object(f"The query option {unknown[0]} is not supported here.")
        )


def _not_found(status: int = 500) -> EmulatorError:
    """A missing record: ``NoEntitySatisfiesTheConditionException`` (500 on the real service)."""
    return EmulatorError(
        status,
        {
            "message": "An error has occurred.",
            "exceptionMessage": "No entity satisfies the condition.",
            "exceptionType": "PX.Api.ContractBased.NoEntitySatisfiesTheConditionException",
            "stackTrace": None,
        },
    )


def outcome_error(entity: str, messages: Mapping[str, str]) -> EmulatorError:
    """A save-time rejection: 500 ``OutcomeEntityHasErrorsException`` (HttpError body).

    ``exceptionMessage`` begins with the inner ``PX.Data.PXException`` text, as captured
    from production (acumatica-api.md §4.2); each field's message follows its name.
    """
    detail = " ".join(f"{field}: {text}" for field, text in messages.items())
    inner = f"Error: Inserting '{entity}' record raised at least one error. {detail}".rstrip()
    return EmulatorError(
        500,
        {
            "message": "An error has occurred.",
            "exceptionMessage": inner,
            "exceptionType": "PX.Api.ContractBased.OutcomeEntityHasErrorsException",
            "stackTrace": None,
        },
    )


def _archive_header(request: httpx.Request | None) -> bool:
    """Whether the request asks to see archived records (``PX-ApiArchive: SHOW``)."""
    if request is None:
        return False
    return str(request.headers.get("PX-ApiArchive", "")).strip().upper() == "SHOW"


def _oauth_error(status: int, error: str, description: str | None = None) -> httpx.Response:
    """An OAuth token-endpoint error (``error`` / ``error_description``)."""
    body = {"error": error}
    if description is not None:
        body["error_description"] = description
    return json_response(status, body)


def _login_limit() -> dict[str, Any]:
    """The body of a sign-in refused over the licence's API-user limit."""
    return error_object(
        "API Login Limit",
        "You have reached the API Login Limit of your license. Sign out of other API sessions.",
    )


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
        oauth_uses_seats: bool = False,
        not_found_status: int = 500,
        save_time_rejection: bool = True,
        action_seconds: float = 2.0,
        custom_fields: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None,
    ) -> None:
        self.backend = backend
        self.custom_fields = {
            entity: {view: dict(names) for view, names in views.items()}
            for entity, views in (custom_fields or {}).items()
        }
        self.not_found_status = not_found_status
        self.save_time_rejection = save_time_rejection
        self.action_seconds = action_seconds
        self.oauth_uses_seats = oauth_uses_seats
        self.users = dict(users)
        self.oauth_clients = dict(oauth_clients)
        self.tenant = tenant
        self.token_lifetime = token_lifetime
        self.api_seats = api_seats

    # ------------------------------------------------------------------ auth

    def token(self, request: httpx.Request) -> httpx.Response:
        """``POST /identity/connect/token``: password and refresh_token grants."""
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return _oauth_error(400, "invalid_request", "The body must be form-encoded.")
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        if client_id not in self.oauth_clients or self.oauth_clients[client_id] != secret:
            return _oauth_error(400, "invalid_client")
        grant = form.get("grant_type")
        b = self.backend
        with b.lock:
            if grant == "password":
                user, password = form.get("username", ""), form.get("password")
                if not user or self.users.get(user) != password:
                    return _oauth_error(400, "invalid_grant", "invalid_username_or_password")
                scopes = form.get("scope", "").split()
                if "api" not in scopes:
                    return _oauth_error(400, "invalid_scope", "The 'api' scope is required.")
                if self.oauth_uses_seats and b.seats_in_use(oauth=True) >= self.api_seats:
                    return json_response(429, _login_limit())
                issued = b.issue_grant(
                    user,
                    self.token_lifetime,
                    refresh="offline_access" in scopes,
                    client_id=client_id,
                )
                scope = " ".join(scopes)
            elif grant == "refresh_token":
                old = b.grant_for_refresh(form.get("refresh_token", ""), client_id)
                if old is None:
                    return _oauth_error(400, "invalid_grant", "invalid_refresh_token")
                live = b.user_for_token(old.access_token) is not None
                if (
                    self.oauth_uses_seats
                    and not live
                    and b.seats_in_use(oauth=True) >= self.api_seats
                ):
                    return json_response(429, _login_limit())
                issued = b.issue_grant(old.user, self.token_lifetime, refresh=True, previous=old)
                scope = "api offline_access"
            else:
                return _oauth_error(400, "unsupported_grant_type")
        body: dict[str, Any] = {
            "access_token": issued.access_token,
            "expires_in": int(self.token_lifetime),
            "token_type": "Bearer",
            "scope": scope,
        }
        if issued.refresh_token:
            body["refresh_token"] = issued.refresh_token
        return json_response(200, body, {"Cache-Control": "no-store"})

    def login(self, request: httpx.Request) -> httpx.Response:
        """``POST /entity/auth/login`` (JSON): a cookie session holding one API seat."""
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            raise EmulatorError.invalid({"body": ["A JSON object was expected."]}) from None
        if not isinstance(body, dict) or not body.get("name"):
            raise EmulatorError.invalid({"name": ["The name is required."]})
        unknown = set(body) - {"name", "password", "tenant", "branch", "locale"}
        if unknown:
            raise EmulatorError.invalid(
                {key: [f"'{key}' is not a login field."] for key in sorted(unknown)}
            )
        tenant = body.get("tenant")
        if self.users.get(body["name"]) != body.get("password") or (
            tenant is not None and tenant != self.tenant
        ):
            raise EmulatorError(401, error_object("Invalid credentials. Please try again."))
        branch = body.get("branch")
        if branch is not None and branch not in self._branches():
            raise EmulatorError(500, error_object(f"Branch '{branch}' cannot be found."))
        with self.backend.lock:
            if self.backend.seats_in_use(oauth=self.oauth_uses_seats) >= self.api_seats:
                raise EmulatorError(429, _login_limit())
            cookie = uuid.uuid4().hex
            self.backend.open_session(cookie, body["name"])
        return httpx.Response(204, headers={"Set-Cookie": f".ASPXAUTH={cookie}; path=/; HttpOnly"})

    def logout(self, request: httpx.Request) -> httpx.Response:
        """``POST /entity/auth/logout``: ends the cookie session or the bearer's session."""
        cookie = _cookie(request)
        header = request.headers.get("Authorization", "")
        with self.backend.lock:
            if cookie is not None:
                self.backend.close_session(cookie)
            if header.startswith("Bearer "):
                self.backend.revoke(header[7:])
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
                return self.backend.session_user(cookie)
        return None

    def discovery(
        self,
        other_versions: tuple[str, ...],
        *,
        root: str = "",
        origin: str = "",
        shape: str = "object",
        href: str = "relative",
    ) -> httpx.Response:
        """``GET {instance}/entity``: the ERP version and the system endpoints.

        Answered with or without a session (without one the real service lists the
        system endpoints only, and the emulator has no custom ones). ``root`` is the
        virtual directory; ``href`` is site-relative including it (``relative``, the
        guide's example) or absolute (``absolute``, seen live on 26.1); ``shape`` is the
        wrapper object (``object``) or the bare array of endpoint rows older builds send
        (``array``).
        """
        versions = sorted({self.backend.version, *other_versions})
        rows = [("Default", v) for v in versions] + [("MANUFACTURING", "25.100.001")]
        prefix = (origin if href == "absolute" else "") + root
        endpoints = [
            {"name": name, "version": v, "href": f"{prefix}/entity/{name}/{v}/"} for name, v in rows
        ]
        if shape == "array":
            return json_response(200, endpoints)
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

    def list_records(
        self,
        entity: str,
        params: Mapping[str, str],
        request: httpx.Request | None = None,
        base: str | None = None,
    ) -> httpx.Response:
        """``GET {Entity}`` with ``$filter``, ``$top``, ``$skip``, ``$select``, ``$expand``…

        Archived records are left out unless the request carries ``PX-ApiArchive: SHOW``.
        """
        b = self.backend
        _check_params(params, _LIST_PARAMS)
        predicate = self._filter(entity, params)
        top = _int_param(params, "$top")
        skip = _int_param(params, "$skip") or 0
        expand, select, custom = self._shape(entity, params)
        show = _archive_header(request)
        with b.lock:
            rows = [
                r
                for r in b.records[entity]
                if (show or r.get("id") not in b.archived) and (predicate is None or predicate(r))
            ]
            page = rows[skip : skip + top if top is not None else None]
            body = [
                b.render(
                    entity,
                    r,
                    expand=expand,
                    select=select,
                    custom=custom,
                    row_number=skip + i + 1,
                    base=base,
                    entity=entity,
                )
                for i, r in enumerate(page)
            ]
        return json_response(200, body)

    def get(
        self,
        entity: str,
        segments: list[str],
        params: Mapping[str, str],
        request: httpx.Request | None = None,
        base: str | None = None,
    ) -> httpx.Response:
        """``GET {Entity}/{keys…}`` or ``GET {Entity}/{id}``.

        A missing (or archived, without ``PX-ApiArchive: SHOW``) record answers
        ``not_found_status`` (500 by default) with ``NoEntitySatisfiesTheConditionException``.
        """
        _check_params(params, _ONE_PARAMS)
        predicate = self._filter(entity, params)
        expand, select, custom = self._shape(entity, params)
        record = self._locate(entity, segments, archived=_archive_header(request))
        if predicate is not None and not predicate(record):
            raise _not_found(self.not_found_status)
        with self.backend.lock:
            return json_response(
                200,
                self.backend.render(
                    entity,
                    record,
                    expand=expand,
                    select=select,
                    custom=custom,
                    row_number=1,
                    base=base,
                    entity=entity,
                ),
            )

    def adhoc_schema(self, entity: str, base: str | None = None) -> httpx.Response:
        """``GET {Entity}/$adHocSchema``: the entity with every field empty and the custom
        fields known for it (``custom_fields`` plus any stored on its records), each as
        ``{"type": "Custom…Field"}``."""
        b = self.backend
        with b.lock:
            custom: dict[str, dict[str, Any]] = {}
            for view, names in self.custom_fields.get(entity, {}).items():
                for name, kind in names.items():
                    custom.setdefault(view, {})[name] = {"type": kind}
            for record in b.records[entity]:
                for view, names in (record.get("custom") or {}).items():
                    for name, field in names.items():
                        custom.setdefault(view, {})[name] = {"type": field["type"]}
            body = b.render(entity, {}, base=None)
        body["custom"] = custom
        return json_response(200, body)

    def _filter(self, entity: str, params: Mapping[str, str]) -> Any:
        if "$filter" not in params:
            return None
        b = self.backend
        fields = b.fields.get(entity, {})

        def known(path: str) -> bool:
            head, _, tail = path.partition("/")
            kind = fields.get(head)
            if kind is None:
                return False
            if not tail:
                return kind in _SCALAR_TYPES
            return b.fields.get(kind, {}).get(tail) in _SCALAR_TYPES

        try:
            return compile_filter(params["$filter"], known)
        except FilterSyntaxError as exc:
            raise EmulatorError(400, error_object(f"Invalid $filter: {exc}")) from None

    def _shape(
        self, entity: str, params: Mapping[str, str]
    ) -> tuple[list[str], list[str], list[str]]:
        """Checked ``$expand``, ``$select`` and ``$custom`` lists."""
        expand = _csv(params.get("$expand"))
        select = _csv(params.get("$select"))
        custom = _csv(params.get("$custom"))
        self._check_names(entity, expand, select)
        for name in custom:
            if not _CUSTOM_NAME.fullmatch(name):
                raise EmulatorError(
                    400, error_object(f"Invalid $custom: '{name}' (expected View.Field).")
                )
        return expand, select, custom

    def delete(
        self, entity: str, segments: list[str], request: httpx.Request | None = None
    ) -> httpx.Response:
        """``DELETE {Entity}/{keys…}`` or ``/{id}`` -> 204."""
        record = self._locate(entity, segments, archived=_archive_header(request))
        with self.backend.lock:
            if record.get("Status") in _RELEASED:
                raise EmulatorError(422, error_object("A released document cannot be deleted."))
            self.backend.records[entity].remove(record)
        return httpx.Response(204)

    def _locate(
        self, entity: str, segments: list[str], *, archived: bool = False
    ) -> dict[str, Any]:
        """The record addressed by key segments (``/`` or ``|`` separated) or a GUID."""
        b = self.backend
        if len(segments) == 1 and "|" in segments[0]:
            segments = segments[0].split("|")  # the OpenAPI "pipes" form of {ids}
        with b.lock:
            if len(segments) == 1 and _is_guid(segments[0]):
                record = b.find(entity, {"id": segments[0]}, archived=archived)
            else:
                names = KEYS[entity]
                if len(segments) != len(names):
                    raise EmulatorError(
                        400, error_object(f"{entity} is identified by {', '.join(names)}.")
                    )
                record = b.find(entity, dict(zip(names, segments, strict=True)), archived=archived)
        if record is None:
            raise _not_found(self.not_found_status)
        return record

    def _check_names(self, entity: str, expand: list[str], select: list[str]) -> None:
        fields = self.backend.fields
        for name in expand:
            if name == "files" or name.endswith("/files"):
                name = name.removesuffix("files").rstrip("/")
                if not name:
                    continue
            kind: str | None = entity
            for part in name.split("/"):
                kind = fields.get((kind or "").removesuffix("[]"), {}).get(part)
                if kind is None or kind in _SCALAR_TYPES:
                    raise EmulatorError(400, error_object(f"Invalid $expand: '{name}'."))
        for name in select:
            head, _, tail = name.partition("/")
            kind = fields.get(entity, {}).get(head)
            if kind is None or (tail and tail not in fields.get(kind.removesuffix("[]"), {})):
                raise EmulatorError(400, error_object(f"Invalid $select: '{name}'."))

    # ------------------------------------------------------------------ writes

    def put(
        self,
        entity: str,
        request: httpx.Request,
        params: Mapping[str, str],
        base: str | None = None,
    ) -> httpx.Response:
        """``PUT {Entity}``: create or update by ``id`` or key fields.

        ``If-None-Match: *`` demands an insert and ``If-Match: *`` an update; the other
        case answers 412, as the published definitions document. Field validation fails
        with 422 (entity echo); errors found when the record is persisted (duplicate
        Vendor Ref., :meth:`ControlPlane.reject_saves`) with 500
        ``OutcomeEntityHasErrorsException`` in ``save_time_rejection`` mode.
        """
        b = self.backend
        _check_params(params, _PUT_PARAMS)
        try:
            body = loads(request.content or b"")
        except ValueError:
            raise EmulatorError.invalid({"body": ["A JSON object was expected."]}) from None
        if entity == "CompaniesStructure":
            b.parse(entity, body)  # the inquiry's parameters: strict like any body
            return self._companies(params)
        incoming = b.parse(entity, body)
        expand, select, custom = self._shape(entity, params)
        show = _archive_header(request)
        with b.lock:
            existing = b.find(entity, incoming, archived=show)
            if existing is None and b.find(entity, incoming) is not None:
                raise EmulatorError(
                    500,
                    error_object(
                        "An error has occurred.",
                        f"Cannot insert the {entity} record: a record with these keys exists "
                        "in the archive.",
                    ),
                )
            if existing is not None and existing.get("id") in b.archived:
                raise EmulatorError(
                    500,
                    error_object(
                        "An error has occurred.",
                        "The document is archived and cannot be changed.",
                    ),
                )
            if "id" in incoming and existing is None:
                raise _not_found(self.not_found_status)
            if request.headers.get("If-None-Match") == "*" and existing is not None:
                raise EmulatorError(
                    412,
                    error_object(
                        f"A {entity} record with these keys already exists.",
                        exception_type="PX.Api.ContractBased.RecordAlreadyExistsException",
                    ),
                )
            if request.headers.get("If-Match") == "*" and existing is None:
                raise _not_found(412)
            record = self._apply(entity, existing, incoming, body)
            self._save_time_checks(entity, record, body)
            if existing is None:
                b.records[entity].append(record)
            else:
                existing.clear()
                existing.update(record)
                record = existing
            return json_response(
                200,
                b.render(
                    entity,
                    record,
                    expand=expand,
                    select=select,
                    custom=custom,
                    base=base,
                    entity=entity,
                ),
            )

    def _save_time_checks(self, entity: str, record: dict[str, Any], body: Any) -> None:
        """Rules the real ERP applies when persisting (after field validation passed)."""
        b = self.backend
        errors: dict[str, str] = {}
        for pending in b.save_rejections:
            if pending[0] == entity and pending[2] > 0:
                pending[2] -= 1
                errors["Record"] = pending[1]
                break
        b.save_rejections[:] = [p for p in b.save_rejections if p[2] > 0]
        closed = self.period_error(entity, record)
        if closed is not None:
            errors[closed[0] if closed[0] in b.fields.get(entity, {}) else "Record"] = closed[1]
        if entity == "Bill" and b.reject_duplicate_vendor_ref and record.get("VendorRef"):
            twin = next(
                (
                    r for r in b.records["Bill"]  # archived bills included: the DB sees them
                    if r.get("id") != record.get("id")
                    and r.get("Vendor") == record.get("Vendor")
                    and r.get("VendorRef") == record["VendorRef"]
                ),
                None,
            )  # fmt: skip
            if twin is not None:
                errors["VendorRef"] = (
                    f"Document with the same Vendor Ref. already exists: "
                    f"{twin.get('Type')} {twin.get('ReferenceNbr')}."
                )
        if not errors:
            return
        if self.save_time_rejection:
            raise outcome_error(entity, errors)
        raise _validation(self.backend, body, entity, errors, {}, record)

    def _apply(
        self,
        entity: str,
        existing: dict[str, Any] | None,
        incoming: dict[str, Any],
        body: Any,
    ) -> dict[str, Any]:
        b = self.backend
        record = dict(existing or {})
        if existing is not None and existing.get("Status") in _RELEASED:
            raise _entity_error(body, "The document has been released and cannot be changed.")
        for key, value in incoming.items():
            if isinstance(value, list):
                for position, row in enumerate(value):
                    row[_ROW] = position  # where the row sits in the request (for errors)
            if key == "Details" and existing is not None:
                record[key] = _merge_details(existing.get(key, []), value)
            else:
                record[key] = value
        record.setdefault("id", str(uuid.uuid4()))
        for value in record.values():
            if isinstance(value, list):
                for row in value:
                    if isinstance(row, dict):
                        row.setdefault("id", str(uuid.uuid4()))
        try:
            rule = getattr(self, f"_rules_{entity}", None)
            if rule is not None:
                rule(record, existing is None, body)
            elif existing is None:
                missing = {k: f"'{k}' cannot be empty." for k in KEYS[entity] if not record.get(k)}
                if missing:
                    raise _validation(self.backend, body, entity, missing, {}, record)
        finally:
            for value in record.values():
                if isinstance(value, list):
                    for row in value:
                        if isinstance(row, dict):
                            row.pop(_ROW, None)
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
        total = _ZERO
        for index, line in enumerate(record.get("Details", [])):
            line_errors: dict[str, str] = {}
            self._check_account(line.get("Account"), "Account", line_errors)
            self._check_sub(line.get("Subaccount"), "Subaccount", line_errors)
            self._check_branch(line.get("Branch"), "Branch", line_errors)
            self._check_project(line, line_errors)
            self._check_tax_category(line.get("TaxCategory"), "TaxCategory", line_errors)
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
        record.setdefault("CurrencyID", b.base_currency)
        self._check_currency(record.get("CurrencyID"), "CurrencyID", errors)
        record.setdefault("Date", b.clock().replace(hour=0, minute=0, second=0, microsecond=0))
        self._set_period(record, "PostPeriod", record.get("Date"), errors)
        if errors or detail_errors:
            raise _validation(self.backend, body, "Bill", errors, detail_errors, record)
        record["Amount"] = total
        record["Balance"] = total
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
        record.setdefault("CurrencyID", b.base_currency)
        self._check_currency(record.get("CurrencyID"), "CurrencyID", errors)
        record.setdefault(
            "TransactionDate", b.clock().replace(hour=0, minute=0, second=0, microsecond=0)
        )
        self._set_period(record, "PostPeriod", record.get("TransactionDate"), errors)
        if errors or detail_errors:
            raise _validation(
                self.backend, body, "JournalTransaction", errors, detail_errors, record
            )
        record.setdefault("LedgerID", "ACTUAL")
        if new:
            record["BatchNbr"] = record.get("BatchNbr") or b.next_number("JournalTransaction")
            record["CreatedDateTime"] = b.clock()
            record.setdefault("Hold", b.hold_on_entry)
        record["Status"] = "On Hold" if record.get("Hold") else "Balanced"

    def _rules_ExpenseClaim(self, record: dict[str, Any], new: bool, body: Any) -> None:
        b = self.backend
        errors: dict[str, str] = {}
        detail_errors: dict[int, dict[str, str]] = {}
        claimant = record.get("ClaimedBy")
        if not claimant:
            errors["ClaimedBy"] = "'Claimed By' cannot be empty."
        elif not b.exists("Employee", EmployeeID=claimant):
            errors["ClaimedBy"] = f"Employee '{claimant}' cannot be found in the system."
        if not new and record.get("Status") not in (None, "On Hold"):
            errors["Status"] = "Only a claim on hold can be changed."
        record.setdefault("CurrencyID", b.base_currency)
        self._check_currency(record.get("CurrencyID"), "CurrencyID", errors)
        total = _ZERO
        for index, line in enumerate(record.get("Details", [])):
            line_errors: dict[str, str] = {}
            self._expense_item_defaults(line, line_errors)
            if not line.get("Description"):
                line_errors["Description"] = "'Description' cannot be empty."
            self._check_account(line.get("ExpenseAccount"), "ExpenseAccount", line_errors)
            self._check_sub(line.get("ExpenseSubaccount"), "ExpenseSubaccount", line_errors)
            self._check_branch(line.get("Branch"), "Branch", line_errors)
            self._check_project(line, line_errors, "ProjectID", "ProjectTaskID")
            self._check_tax_category(line.get("TaxCategory"), "TaxCategory", line_errors)
            self._check_tax_zone(line.get("TaxZone"), "TaxZone", line_errors)
            if line.get("CurrencyID") is not None:
                self._check_currency(line["CurrencyID"], "CurrencyID", line_errors)
            qty = line.get("Qty") if line.get("Qty") is not None else Decimal(1)
            unit = line.get("UnitCost")
            amount = qty * unit if unit is not None else line.get("Amount")
            if amount is None:
                line_errors["Amount"] = "'Amount' cannot be empty."
                amount = _ZERO
            line.update(Qty=qty, Amount=amount, ClaimAmount=amount)
            line.setdefault("CurrencyID", record.get("CurrencyID") or b.base_currency)
            total += amount
            if line_errors:
                detail_errors[index] = line_errors
        if total < 0:
            errors["ClaimTotal"] = "The claim total cannot be negative."
        record.setdefault("Date", b.clock().replace(hour=0, minute=0, second=0, microsecond=0))
        financial = dict(record.get("FinancialDetails") or {})
        self._set_period(financial, "PosttoPeriod", record.get("Date"), errors)
        self._check_branch(financial.get("Branch"), "FinancialDetails", errors)
        self._check_tax_zone(financial.get("TaxZone"), "FinancialDetails", errors)
        record["FinancialDetails"] = financial
        if errors or detail_errors:
            raise _validation(self.backend, body, "ExpenseClaim", errors, detail_errors, record)
        record["ClaimTotal"] = total
        if new:
            record["RefNbr"] = record.get("RefNbr") or b.next_number("ExpenseClaim")
            record["Status"] = "On Hold"

    def _check_currency(self, code: Any, field: str, errors: dict[str, str]) -> None:
        """The currency must be in the tenant's Currency list and active (CM202000)."""
        b = self.backend
        if code is None or code == b.base_currency:
            return
        found = b.find("Currency", {"CurrencyID": code})
        if found is None:
            errors[field] = f"Currency '{code}' cannot be found in the system."
        elif found.get("Active") is False:
            errors[field] = f"Currency '{code}' is inactive."

    def _check_tax_category(self, code: Any, field: str, errors: dict[str, str]) -> None:
        """A line's tax category must exist and be active (TX205500)."""
        if code is None:
            return
        found = self.backend.find("TaxCategory", {"TaxCategoryID": code})
        if found is None:
            errors[field] = f"Tax Category '{code}' cannot be found in the system."
        elif found.get("Active") is False:
            errors[field] = f"Tax Category '{code}' is inactive."

    def _check_tax_zone(self, code: Any, field: str, errors: dict[str, str]) -> None:
        """An expense claim's (or its line's) tax zone must exist (TX206000)."""
        if code is None:
            return
        if self.backend.find("TaxZone", {"TaxZoneID": code}) is None:
            errors.setdefault(field, f"Tax Zone '{code}' cannot be found in the system.")

    def _expense_item_defaults(self, line: dict[str, Any], errors: dict[str, str]) -> None:
        """An expense claim line needs an active expense item (a non-stock item of type
        Expense); the item supplies the expense account, subaccount and tax category the
        line does not give, and the unit of measure."""
        code = line.get("ExpenseItemID")
        if not code:
            errors["ExpenseItemID"] = "'Expense Item' cannot be empty."
            return
        item = self.backend.find("NonStockItem", {"InventoryID": code})
        if item is None or item.get("ItemType") not in (None, "Expense"):
            errors["ExpenseItemID"] = f"Expense Item '{code}' cannot be found in the system."
            return
        if item.get("ItemStatus") not in (None, "Active"):
            errors["ExpenseItemID"] = f"Expense Item '{code}' is {item.get('ItemStatus')}."
            return
        for field, source in (
            ("ExpenseAccount", "ExpenseAccount"),
            ("ExpenseSubaccount", "ExpenseSubaccount"),
            ("TaxCategory", "TaxCategory"),
            ("UOM", "PurchaseUnit"),
        ):
            if line.get(field) is None and item.get(source) is not None:
                line[field] = item[source]
        if line.get("UOM") is None and item.get("BaseUnit") is not None:
            line["UOM"] = item["BaseUnit"]

    def _set_period(
        self, record: dict[str, Any], field: str, when: Any, errors: dict[str, str]
    ) -> None:
        """Default ``field`` (a post period) from the document date; normalise what was
        sent (``MM-YYYY`` -> ``MMYYYY``). Whether the period is open is checked when the
        record is saved (:meth:`_save_time_checks`)."""
        given = record.get(field)
        if given is None:
            if isinstance(when, datetime):
                record[field] = period_of(when.date())
            return
        period = normalize_period(given)
        if period is None:
            errors[field] = f"'{given}' is not a valid financial period (MM-YYYY)."
        else:
            record[field] = period

    def period_error(self, entity: str, record: Mapping[str, Any]) -> tuple[str, str] | None:
        """``(field, message)`` when the document's post period is not open for its
        module (bills and claims: AP; journal transactions: GL)."""
        if entity == "ExpenseClaim":
            field, period = (
                "PosttoPeriod",
                (record.get("FinancialDetails") or {}).get("PosttoPeriod"),
            )
        elif entity in ("Bill", "JournalTransaction"):
            field, period = "PostPeriod", record.get("PostPeriod")
        else:
            return None
        if period is None:
            return None
        module = "GL" if entity == "JournalTransaction" else "AP"
        problem = period_problem(self.backend.records["FinancialPeriod"], str(period), module)
        return None if problem is None else (field, problem)

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

    def _check_project(
        self,
        line: Mapping[str, Any],
        errors: dict[str, str],
        project_field: str = "Project",
        task_field: str = "ProjectTask",
    ) -> None:
        project = line.get(project_field)
        if project is None or project == "X":  # X: the non-project code
            if line.get(task_field) is not None and project is None:
                errors[task_field] = "A project task needs a project."
            return
        record = self.backend.find("Project", {"ProjectID": project})
        if record is None:
            errors[project_field] = f"Project '{project}' cannot be found in the system."
            return
        if str(record.get("Status", "Active")) not in ("Active", "Planned"):
            errors[project_field] = f"Project '{project}' is not active."
        task = line.get(task_field)
        if task is not None and not self.backend.exists(
            "ProjectTask", ProjectID=project, ProjectTaskID=task
        ):
            errors[task_field] = f"Task '{task}' cannot be found in project '{project}'."

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
        """``POST {Entity}/{Action}`` with ``{"entity": keys or id}`` -> 202 + ``Location``.

        The envelope's member names are matched case-insensitively (``Entity`` works, as
        on the real server). The document must be in a status the action accepts (else
        422, the entity echoed with ``error``). The operation then runs on its own: it
        completes after ``action_polls`` further requests of any kind (status polls or
        not) or once ``action_seconds`` have passed on the emulator's clock, whichever
        comes first, so a plain GET of the record eventually shows the result. Actions
        of the schema that the emulator does not model answer 500 rather than pretend.
        """
        b = self.backend
        if action not in b.actions_of(entity):
            raise EmulatorError(404, error_object(f"Action '{action}' is not found on {entity}."))
        try:
            raw = loads(request.content or b"")
        except ValueError:
            raise EmulatorError.invalid({"body": ["A JSON object was expected."]}) from None
        if not isinstance(raw, dict):
            raise EmulatorError.invalid({"entity": ["The entity is required."]})
        body = {str(k).lower(): v for k, v in raw.items()}
        if not isinstance(body.get("entity"), dict):
            raise EmulatorError.invalid({"entity": ["The entity is required."]})
        unknown = set(body) - {"entity", "parameters"}
        if unknown:
            raise EmulatorError.invalid({k: [f"'{k}' is not an action member."] for k in unknown})
        if body.get("parameters"):
            raise EmulatorError.invalid({"parameters": [f"{action} takes no parameters."]})
        keys = b.parse(entity, body["entity"])
        rule = _ACTION_RULES.get((entity, action))
        if rule is None:
            raise EmulatorError(
                500, error_object(f"The emulator does not model the action {entity}/{action}.")
            )
        accepted, status = rule
        with b.lock:
            record = b.find(entity, keys, archived=_archive_header(request))
            if record is None:
                raise _not_found(self.not_found_status)
            current = record.get("Status")
            if current not in accepted:
                why = (
                    "The document is on hold."
                    if current == "On Hold"
                    else f"The document status is '{current}'."
                )
                raise _entity_error(
                    b.render(entity, record), f"{action} cannot be run on this document. {why}"
                )
            closed = self.period_error(entity, record) if action.startswith("Release") else None
            if closed is not None:
                raise _entity_error(b.render(entity, record), f"{action}: {closed[1]}")
            ident = uuid.uuid4().hex
            keys_path = "/".join(str(record.get(k)) for k in KEYS[entity])
            b.actions[ident] = [
                b.action_polls,
                record,
                status,
                f"{base}/{entity}/{keys_path}",
                entity,
                b.clock().timestamp() + self.action_seconds,
            ]
        location = f"{base}/{entity}/{action}/status/{ident}"
        return httpx.Response(202, headers={"Location": location})

    def settle(self, *, poll: str | None = None) -> None:
        """Let running operations progress by one request; complete those that are due.

        Called once per API request. ``poll`` is the status id being polled, if any.
        """
        b = self.backend
        with b.lock:
            now = b.clock().timestamp()
            for ident, state in list(b.actions.items()):
                if now >= state[5] or state[0] <= 0:
                    self._complete(ident)
                elif ident != poll:
                    state[0] -= 1

    def _complete(self, ident: str) -> None:
        b = self.backend
        record, status, location, entity = b.actions.pop(ident)[1:5]
        record["Status"] = status
        if "Hold" in b.fields.get(entity, {}):
            record["Hold"] = status == "On Hold"
        record["LastModifiedDateTime"] = b.clock()
        if entity == "ExpenseClaim" and status == "Released":
            self._release_claim(record)
        b.finished[ident] = location

    def _release_claim(self, claim: dict[str, Any]) -> None:
        """Releasing a claim creates the employee's AP bill (Open, to be paid) and lists
        it in ``FinancialDetails.APDocuments``, as the real release does (EP301000)."""
        b = self.backend
        lines = []
        for line in claim.get("Details", []):
            amount = line.get("ClaimAmount", line.get("Amount")) or _ZERO
            row = {
                "id": str(uuid.uuid4()),
                "Account": line.get("ExpenseAccount"),
                "Subaccount": line.get("ExpenseSubaccount"),
                "Branch": line.get("Branch"),
                "Project": line.get("ProjectID"),
                "ProjectTask": line.get("ProjectTaskID"),
                "TaxCategory": line.get("TaxCategory"),
                "Description": line.get("Description"),
                "TransactionDescription": line.get("Description"),
                "Qty": Decimal(1),
                "UnitCost": amount,
                "ExtendedCost": amount,
                "Amount": amount,
                "NonBillable": not line.get("Billable", False),
            }
            lines.append({k: v for k, v in row.items() if v is not None})
        financial = claim.setdefault("FinancialDetails", {}) or {}
        claim["FinancialDetails"] = financial
        total = claim.get("ClaimTotal") or _ZERO
        bill = {
            "id": str(uuid.uuid4()),
            "Type": "Bill",
            "ReferenceNbr": b.next_number("Bill"),
            "Vendor": claim.get("ClaimedBy"),
            "VendorRef": claim.get("RefNbr"),
            "Date": claim.get("Date"),
            "PostPeriod": financial.get("PosttoPeriod"),
            "Description": claim.get("Description"),
            "CurrencyID": claim.get("CurrencyID") or b.base_currency,
            "BranchID": financial.get("Branch"),
            "Amount": total,
            "Balance": total,
            "Hold": False,
            "Status": "Open",
            "Details": lines,
            "LastModifiedDateTime": b.clock(),
        }
        b.records["Bill"].append({k: v for k, v in bill.items() if v is not None})
        financial["APDocuments"] = [
            *(financial.get("APDocuments") or []),
            {"id": str(uuid.uuid4()), "Type": "Bill", "RefNbr": bill["ReferenceNbr"],
             "Amount": total, "Status": "Open"},
        ]  # fmt: skip

    def action_status(self, ident: str) -> httpx.Response:
        """Poll an operation: 202 while in progress, then 204 + the record's ``Location``."""
        b = self.backend
        with b.lock:
            state = b.actions.get(ident)
            if state is not None:
                if state[0] > 0:
                    state[0] -= 1
                    return httpx.Response(202)
                self._complete(ident)
            location = b.finished.get(ident)
            if location is None:
                raise EmulatorError(404, error_object("The operation is not found."))
        return httpx.Response(204, headers={"Location": location})

    # ------------------------------------------------------------------ files

    def put_file(
        self,
        entity: str,
        record: Mapping[str, Any],
        filename: str,
        request: httpx.Request,
        base: str,
    ) -> httpx.Response:
        """``PUT …/files/{filename}`` -> 204 + ``Location`` of the file.

        The raw body is the file; ``PX-CbFileComment`` headers (joined with commas) are
        its comment. Attaching the same file name again replaces that file.
        """
        if not filename:
            raise EmulatorError(400, error_object("The file name is required."))
        comments = request.headers.get_list("PX-CbFileComment")
        comment = ",".join(comments) if comments else None
        if comment is not None and len(comment) > 500:
            raise EmulatorError(400, error_object("The file comment exceeds 500 characters."))
        with self.backend.lock:
            ident = self.backend.attach(str(record["id"]), filename, request.content, comment)
        return httpx.Response(204, headers={"Location": f"{base}/files/{ident}"})

    def get_file(self, file_id: str) -> httpx.Response:
        """``GET {base}/files/{id}``: the attached file's bytes."""
        with self.backend.lock:
            stored = self.backend.file_by_id(file_id)
        if stored is None:
            raise _not_found(self.not_found_status)
        return httpx.Response(
            200, content=stored.content, headers={"Content-Type": "application/octet-stream"}
        )

    def record_by_note(self, note_id: str) -> tuple[str, dict[str, Any]]:
        """The entity and record (or detail line) whose ``id`` is ``note_id``.

        The ``files:put`` link form addresses a record or one of its detail lines by id.
        """
        b = self.backend
        with b.lock:
            for entity, rows in b.records.items():
                for row in rows:
                    if row.get("id") == note_id:
                        return entity, row
                    for value in row.values():
                        for line in value if isinstance(value, list) else ():
                            if isinstance(line, dict) and line.get("id") == note_id:
                                return entity, line
        raise _not_found(self.not_found_status)


#: (entity, action) -> (statuses the action accepts, status once it completes).
_ACTION_RULES: Mapping[tuple[str, str], tuple[frozenset[str], str]] = {
    ("Bill", "ReleaseBill"): (frozenset({"Balanced"}), "Open"),
    ("JournalTransaction", "ReleaseJournalTransaction"): (frozenset({"Balanced"}), "Posted"),
    ("ExpenseClaim", "SubmitExpenseClaim"): (frozenset({"On Hold"}), "Pending Approval"),
    ("ExpenseClaim", "ApproveExpenseClaim"): (frozenset({"Pending Approval"}), "Approved"),
    ("ExpenseClaim", "RejectExpenseClaim"): (frozenset({"Pending Approval"}), "Rejected"),
    ("ExpenseClaim", "ReleaseExpenseClaim"): (frozenset({"Approved"}), "Released"),
    ("ExpenseClaim", "PutOnHoldExpenseClaim"): (
        frozenset({"Pending Approval", "Approved", "Rejected"}),
        "On Hold",
    ),
}
_ROW = "__request_row"
_RELEASED = frozenset({"Open", "Posted", "Closed", "Released"})


#: The DAC display names the summary of a 422 echo names (the official client's test
#: shows "AP Transactions" for a Bill line); header names are the entities' [INF].
_ECHO_NAMES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "Bill": ("AP Invoice", "AP Transactions"),
        "JournalTransaction": ("Batch", "GL Transactions"),
        "ExpenseClaim": ("Expense Claim", "Expense Claim Details"),
    }
)
_NUMBERED_KEYS = frozenset({("Bill", "ReferenceNbr"), ("JournalTransaction", "BatchNbr"),
                            ("ExpenseClaim", "RefNbr")})  # fmt: skip


def _validation(
    backend: Backend,
    body: Any,
    entity: str,
    errors: Mapping[str, str],
    detail_errors: Mapping[int, Mapping[str, str]],
    record: Mapping[str, Any],
) -> EmulatorError:
    """The entity echoed back with ``error`` on every offending field (422, §4.1).

    The echo is the record as the server holds it after the failed attempt, rendered like
    any answer (every field, ``{}`` when empty, detail lines with their ids); a key not yet
    assigned reads ``<NEW>``. Each failing field carries ``error`` beside its value
    (detail lines included, keyed by their position in the record); the top-level
    ``error`` is the summary the real service writes ("… raised at least one error.
    Please review the errors.", with its double space), followed only by the messages
    that belong to no field (a batch out of balance).
    """
    shown = dict(record)
    for key in KEYS.get(entity, ()):
        if shown.get(key) is None and (entity, key) in _NUMBERED_KEYS:
            shown[key] = "<NEW>"
    fields = backend.fields.get(entity, {})
    expand = [k for k, kind in fields.items() if kind not in _SCALAR_TYPES and shown.get(k)]
    echo = backend.render(entity, shown, expand=expand, row_number=1)
    general: list[str] = []
    for field, message in errors.items():
        current = echo.get(field)
        if field in fields and fields[field] in _SCALAR_TYPES and isinstance(current, dict):
            echo[field] = {**current, "error": message}
        else:
            general.append(message)  # no field object to carry it: entity level
    rows = echo.get("Details")
    where = "header"
    for index, line in detail_errors.items():
        if not isinstance(rows, list) or index >= len(rows):
            general.extend(line.values())
            continue
        where = "line"
        for field, message in line.items():
            current = rows[index].get(field)
            rows[index][field] = {**(current if isinstance(current, dict) else {}),
                                  "error": message}  # fmt: skip
    header, lines = _ECHO_NAMES.get(entity, (entity, entity))
    name = lines if where == "line" and not errors else header
    stored = any(r.get("id") == record.get("id") for r in backend.records.get(entity, ()))
    verb = "Updating" if stored else "Inserting"
    summary = f"{verb}  '{name}' record raised at least one error. Please review the errors."
    echo["error"] = " ".join([summary, *general])
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
