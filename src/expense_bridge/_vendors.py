"""Optional creation of a missing employee vendor record (``rules.create_missing_vendors``).

Off by default: reimbursable bills go to ``catalog.vendor_by_email`` (an employee code or a
vendor with the submitter's e-mail) and a submitter with neither is held
(``EB-SUBMITTER-NO-VENDOR``). With the option on, reimbursable bills go to a *vendor record*
only (whether an employee code is accepted as ``Bill.Vendor`` on every configuration is an
open question of the reference, ``acumatica-api.md`` §8 q.16): a submitter who is an active
Acumatica employee (by e-mail) without a vendor record gets one, created from the employee
before the reports are planned:

* ``VendorID`` is :func:`vendor_id_for` the employee (``V`` + ``EmployeeID``): deterministic,
  so the record is looked up by that key before any create, and a create whose answer was
  lost is found by the same look-up (right away, else on the next run). A ``PUT`` with an
  existing key updates, never duplicates, so there is exactly one such vendor.
* ``VendorName`` is the employee's name (else its ID), ``MainContact.Email`` the
  submitter's address, ``Status`` ``Active``.
* Every step is audited on the first report of that submitter (step ``vendor``:
  ``created``, ``adopted`` or ``unknown outcome``/``failed`` with the error's type).

A vendor that could not be created or found leaves the submitter without a vendor: the
report is held with ``EB-SUBMITTER-NO-VENDOR`` as before and tried again next run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import attrs

from acumatica_client import (
    AcumaticaClient,
    AcumaticaError,
    APIConnectionError,
    Contact,
    Employee,
    InternalServerError,
    NotFoundError,
    Vendor,
)
from expensify_client import Report

from ._catalog import LedgerCatalog
from ._rules import PostingRules, ReimbursableTarget

__all__ = ["VENDOR_ID_PREFIX", "ensure_vendors", "submitters_without_vendor", "vendor_id_for"]

logger = logging.getLogger(__name__)

#: Prefix of a vendor created from an employee (``V`` + ``EmployeeID``).
VENDOR_ID_PREFIX = "V"

#: ``audit(report_id, step, outcome, document=..., detail=...)`` (``PostingContext.audit``).
Audit = Callable[..., None]


def vendor_id_for(employee_id: str) -> str:
    """The ``VendorID`` of the vendor record created for employee ``employee_id``."""
    return f"{VENDOR_ID_PREFIX}{employee_id.strip()}"


def submitters_without_vendor(
    reports: Iterable[Report], catalog: LedgerCatalog, rules: PostingRules
) -> dict[str, tuple[str, str]]:
    """Submitter e-mail -> (EmployeeID, first report ID) of those who need a vendor record.

    Only when the option is on and reimbursable spend becomes AP bills; only submitters
    with reimbursable expenses who are active employees without a vendor record.
    """
    if not rules.create_missing_vendors or rules.reimbursable_target is not (
        ReimbursableTarget.AP_BILL
    ):
        return {}
    needed: dict[str, tuple[str, str]] = {}
    for report in reports:
        email = report.account_email.strip().lower()
        if email in needed or not any(e.reimbursable for e in report.expenses):
            continue
        if email in catalog.vendor_record_by_email:
            continue
        employee = catalog.employee_by_email.get(email)
        if employee is not None:
            needed[email] = (employee, report.report_id)
    return needed


def _find(client: AcumaticaClient, vendor_id: str) -> Vendor | None:
    try:
        return client.get(Vendor, vendor_id)
    except NotFoundError:
        return None


def ensure_vendors(
    client: AcumaticaClient,
    catalog: LedgerCatalog,
    reports: Iterable[Report],
    rules: PostingRules,
    audit: Audit,
    *,
    create: bool = True,
) -> LedgerCatalog:
    """``catalog`` with reimbursable bills routed to vendor records, creating missing ones.

    Without ``rules.create_missing_vendors`` this returns ``catalog`` unchanged (no
    request). Otherwise submitters with a vendor record use it, and one is looked up, or
    created, for each employee of :func:`submitters_without_vendor` (see the module doc).
    ``create=False`` (a dry run) sends nothing: each such submitter is routed to the
    vendor a real run would use (:func:`vendor_id_for`).
    """
    if not rules.create_missing_vendors:
        return catalog
    routed = dict(catalog.vendor_record_by_email)
    missing: set[str] = set()  # employees whose vendor could not be made: held
    for email, (employee_id, report_id) in submitters_without_vendor(
        reports, catalog, rules
    ).items():
        vendor_id = vendor_id_for(employee_id)
        if not create:
            routed[email] = vendor_id
            continue
        try:
            found = _find(client, vendor_id)
            if found is not None:
                audit(report_id, "vendor", "adopted", document=vendor_id, detail=employee_id)
            else:
                employee = client.get(Employee, employee_id)
                name = employee.employee_name if isinstance(employee.employee_name, str) else ""
                vendor = Vendor(
                    vendor_id=vendor_id,
                    vendor_name=name.strip() or employee_id,
                    status="Active",
                    main_contact=Contact(email=email),
                )
                try:
                    client.put(vendor)
                except (APIConnectionError, InternalServerError) as exc:
                    # The answer is lost, not the create: look again by the same key.
                    audit(report_id, "vendor", "unknown outcome", document=vendor_id,
                          detail=type(exc).__name__)  # fmt: skip
                    if _find(client, vendor_id) is None:
                        missing.add(email)
                        continue
                    audit(report_id, "vendor", "adopted", document=vendor_id, detail=employee_id)
                else:
                    audit(report_id, "vendor", "created", document=vendor_id, detail=employee_id)
        except AcumaticaError as exc:
            logger.warning(
                "vendor %s for employee %s could not be created: %s",
                vendor_id,
                employee_id,
                type(exc).__name__,
            )
            audit(report_id, "vendor", "failed", document=vendor_id, detail=type(exc).__name__)
            missing.add(email)
            continue
        routed[email] = vendor_id
    by_email = {e: v for e, v in catalog.vendor_by_email.items() if e not in missing}
    return attrs.evolve(
        catalog,
        vendor_by_email={**by_email, **routed},
        vendors=catalog.vendors | set(routed.values()),
    )
