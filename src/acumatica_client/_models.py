"""Typed, frozen value objects for the Acumatica entities an expense integration needs.

Models are plain attrs classes with snake_case attributes. The wire name of each field
(Acumatica's PascalCase, exactly as the endpoint schema spells it) is kept in the field's
metadata under ``"wire"`` and used only by the converter (``_converters.py``).

Every field defaults to :data:`UNSET`, which means "leave unchanged" and is omitted from
the request body. ``None`` means "clear this field" and is sent as ``{"value": null}``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Final, Literal, TypeAlias

import attrs

__all__ = [
    "UNSET",
    "Account",
    "AcumaticaEntity",
    "Bill",
    "BillDetail",
    "Branch",
    "Contact",
    "CustomField",
    "Employee",
    "EmployeeSettings",
    "ExpenseClaim",
    "ExpenseClaimDetail",
    "JournalTransaction",
    "JournalTransactionDetail",
    "Project",
    "ProjectTask",
    "Subaccount",
    "UnsetType",
    "Vendor",
]


class UnsetType(enum.Enum):
    """Type of the :data:`UNSET` sentinel ("leave this field unchanged")."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> Literal[False]:
        return False


UNSET: Final = UnsetType.UNSET
"""Marks a field as not given: it is omitted from the request body (unlike ``None``)."""

# A field that may be left out (UNSET), cleared (None) or set.
OptStr: TypeAlias = str | UnsetType | None
OptDec: TypeAlias = Decimal | UnsetType | None
OptBool: TypeAlias = bool | UnsetType | None
OptInt: TypeAlias = int | UnsetType | None
OptDate: TypeAlias = date | UnsetType | None
OptDateTime: TypeAlias = datetime | UnsetType | None


def _f(wire: str) -> Any:
    """An optional entity field whose wire name is ``wire``."""
    return attrs.field(default=UNSET, metadata={"wire": wire})


def wire_name(field: attrs.Attribute[Any]) -> str:
    """The Acumatica wire name of a model field."""
    return str(field.metadata.get("wire", field.name))


@attrs.frozen(kw_only=True)
class CustomField:
    """One custom field value: ``{"type": "CustomStringField", "value": ...}``."""

    type: str
    value: Any


@attrs.frozen(kw_only=True)
class AcumaticaEntity:
    """Members every contract-based entity carries (``Entity`` in the schema).

    ``custom`` maps view name -> field name -> :class:`CustomField`.
    """

    #: Name of the top-level entity in the endpoint (``"Bill"``); ``""`` for detail types.
    ENTITY: ClassVar[str] = ""

    id: OptStr = _f("id")
    row_number: OptInt = _f("rowNumber")
    note: OptStr = _f("note")
    custom: Mapping[str, Mapping[str, CustomField]] | UnsetType = _f("custom")


# --------------------------------------------------------------------------------- AP bills


@attrs.frozen(kw_only=True)
class BillDetail(AcumaticaEntity):
    """A line of an AP bill (``BillDetail``)."""

    account: OptStr = _f("Account")
    subaccount: OptStr = _f("Subaccount")
    branch: OptStr = _f("Branch")
    amount: OptDec = _f("Amount")
    extended_cost: OptDec = _f("ExtendedCost")
    qty: OptDec = _f("Qty")
    unit_cost: OptDec = _f("UnitCost")
    uom: OptStr = _f("UOM")
    description: OptStr = _f("Description")
    transaction_description: OptStr = _f("TransactionDescription")
    project: OptStr = _f("Project")
    project_task: OptStr = _f("ProjectTask")
    cost_code: OptStr = _f("CostCode")
    inventory_id: OptStr = _f("InventoryID")
    tax_category: OptStr = _f("TaxCategory")
    non_billable: OptBool = _f("NonBillable")
    # Landed-cost references: only in Default/24.200.001 and later.
    lc_type: OptStr = _f("LCType")
    lc_nbr: OptStr = _f("LCNbr")
    lc_line_nbr: OptInt = _f("LCLineNbr")


@attrs.frozen(kw_only=True)
class Bill(AcumaticaEntity):
    """An AP bill (``Bill``). Key: ``type`` + ``reference_nbr``."""

    ENTITY: ClassVar[str] = "Bill"

    type: OptStr = _f("Type")
    reference_nbr: OptStr = _f("ReferenceNbr")
    vendor: OptStr = _f("Vendor")
    vendor_ref: OptStr = _f("VendorRef")
    location_id: OptStr = _f("LocationID")
    branch_id: OptStr = _f("BranchID")
    date: OptDate = _f("Date")
    due_date: OptDate = _f("DueDate")
    post_period: OptStr = _f("PostPeriod")
    description: OptStr = _f("Description")
    currency_id: OptStr = _f("CurrencyID")
    hold: OptBool = _f("Hold")
    status: OptStr = _f("Status")
    terms: OptStr = _f("Terms")
    project: OptStr = _f("Project")
    amount: OptDec = _f("Amount")
    balance: OptDec = _f("Balance")
    tax_total: OptDec = _f("TaxTotal")
    approved_for_payment: OptBool = _f("ApprovedForPayment")
    last_modified_date_time: OptDateTime = _f("LastModifiedDateTime")
    details: tuple[BillDetail, ...] | UnsetType = _f("Details")


# ---------------------------------------------------------------------- GL transactions


@attrs.frozen(kw_only=True)
class JournalTransactionDetail(AcumaticaEntity):
    """A line of a GL journal transaction (``JournalTransactionDetail``)."""

    account: OptStr = _f("Account")
    subaccount: OptStr = _f("Subaccount")
    branch_id: OptStr = _f("BranchID")
    debit_amount: OptDec = _f("DebitAmount")
    credit_amount: OptDec = _f("CreditAmount")
    reference_nbr: OptStr = _f("ReferenceNbr")
    transaction_description: OptStr = _f("TransactionDescription")
    description: OptStr = _f("Description")
    project: OptStr = _f("Project")
    project_task: OptStr = _f("ProjectTask")
    cost_code: OptStr = _f("CostCode")
    qty: OptDec = _f("Qty")
    uom: OptStr = _f("UOM")
    line_nbr: OptInt = _f("LineNbr")
    non_billable: OptBool = _f("NonBillable")
    vendor_or_customer: OptStr = _f("VendorOrCustomer")


@attrs.frozen(kw_only=True)
class JournalTransaction(AcumaticaEntity):
    """A GL journal transaction batch (``JournalTransaction``). Key: ``module`` + ``batch_nbr``."""

    ENTITY: ClassVar[str] = "JournalTransaction"

    batch_nbr: OptStr = _f("BatchNbr")
    module: OptStr = _f("Module")
    transaction_date: OptDate = _f("TransactionDate")
    post_period: OptStr = _f("PostPeriod")
    description: OptStr = _f("Description")
    currency_id: OptStr = _f("CurrencyID")
    ledger_id: OptStr = _f("LedgerID")
    hold: OptBool = _f("Hold")
    status: OptStr = _f("Status")
    branch_id: OptStr = _f("BranchID")
    created_date_time: OptDateTime = _f("CreatedDateTime")
    last_modified_date_time: OptDateTime = _f("LastModifiedDateTime")
    details: tuple[JournalTransactionDetail, ...] | UnsetType = _f("Details")


# ------------------------------------------------------------------------ expense claims


@attrs.frozen(kw_only=True)
class ExpenseClaimDetail(AcumaticaEntity):
    """A line of an Acumatica expense claim (``ExpenseClaimDetails``)."""

    date: OptDate = _f("Date")
    description: OptStr = _f("Description")
    amount: OptDec = _f("Amount")
    claim_amount: OptDec = _f("ClaimAmount")
    currency_id: OptStr = _f("CurrencyID")
    expense_account: OptStr = _f("ExpenseAccount")
    expense_subaccount: OptStr = _f("ExpenseSubaccount")
    expense_item_id: OptStr = _f("ExpenseItemID")
    branch: OptStr = _f("Branch")
    project_id: OptStr = _f("ProjectID")
    project_task_id: OptStr = _f("ProjectTaskID")
    billable: OptBool = _f("Billable")
    ref_nbr: OptStr = _f("RefNbr")


@attrs.frozen(kw_only=True)
class ExpenseClaim(AcumaticaEntity):
    """Acumatica's own expense claim document (``ExpenseClaim``). Key: ``ref_nbr``."""

    ENTITY: ClassVar[str] = "ExpenseClaim"

    ref_nbr: OptStr = _f("RefNbr")
    claimed_by: OptStr = _f("ClaimedBy")
    date: OptDate = _f("Date")
    description: OptStr = _f("Description")
    status: OptStr = _f("Status")
    currency_id: OptStr = _f("CurrencyID")
    department_id: OptStr = _f("DepartmentID")
    claim_total: OptDec = _f("ClaimTotal")
    last_modified_date_time: OptDateTime = _f("LastModifiedDateTime")
    details: tuple[ExpenseClaimDetail, ...] | UnsetType = _f("Details")


# ------------------------------------------------------------------ people and vendors


@attrs.frozen(kw_only=True)
class Contact(AcumaticaEntity):
    """The subset of the shared ``Contact`` type used for employees and vendors."""

    email: OptStr = _f("Email")
    first_name: OptStr = _f("FirstName")
    last_name: OptStr = _f("LastName")
    display_name: OptStr = _f("DisplayName")
    job_title: OptStr = _f("JobTitle")
    active: OptBool = _f("Active")


@attrs.frozen(kw_only=True)
class EmployeeSettings(AcumaticaEntity):
    """``Employee.EmployeeSettings``: organisation placement and reports-to manager."""

    branch_id: OptStr = _f("BranchID")
    department_id: OptStr = _f("DepartmentID")
    reports_to: OptStr = _f("ReportsTo")
    employee_class: OptStr = _f("EmployeeClass")
    currency_id: OptStr = _f("CurrencyID")


@attrs.frozen(kw_only=True)
class Employee(AcumaticaEntity):
    """An employee (``Employee``). Key: ``employee_id``.

    In Acumatica an employee is also an AP vendor: bills for reimbursable expenses use
    the employee ID as the bill's ``Vendor``.
    """

    ENTITY: ClassVar[str] = "Employee"

    employee_id: OptStr = _f("EmployeeID")
    employee_name: OptStr = _f("EmployeeName")
    status: OptStr = _f("Status")
    contact_info: Contact | UnsetType | None = _f("ContactInfo")
    employee_settings: EmployeeSettings | UnsetType | None = _f("EmployeeSettings")
    last_modified_date_time: OptDateTime = _f("LastModifiedDateTime")


@attrs.frozen(kw_only=True)
class Vendor(AcumaticaEntity):
    """An AP vendor (``Vendor``). Key: ``vendor_id``."""

    ENTITY: ClassVar[str] = "Vendor"

    vendor_id: OptStr = _f("VendorID")
    vendor_name: OptStr = _f("VendorName")
    status: OptStr = _f("Status")
    vendor_class: OptStr = _f("VendorClass")
    currency_id: OptStr = _f("CurrencyID")
    ap_account: OptStr = _f("APAccount")
    ap_subaccount: OptStr = _f("APSubaccount")
    cash_account: OptStr = _f("CashAccount")
    terms: OptStr = _f("Terms")
    payment_method: OptStr = _f("PaymentMethod")
    legal_name: OptStr = _f("LegalName")
    main_contact: Contact | UnsetType | None = _f("MainContact")
    last_modified_date_time: OptDateTime = _f("LastModifiedDateTime")


# ------------------------------------------------------------------ chart of accounts


@attrs.frozen(kw_only=True)
class Account(AcumaticaEntity):
    """A GL account (``Account``). Key: ``account_cd``."""

    ENTITY: ClassVar[str] = "Account"

    account_cd: OptStr = _f("AccountCD")
    account_id: OptInt = _f("AccountID")
    description: OptStr = _f("Description")
    type: OptStr = _f("Type")
    active: OptBool = _f("Active")
    account_class: OptStr = _f("AccountClass")
    account_group: OptStr = _f("AccountGroup")
    cash_account: OptBool = _f("CashAccount")
    currency_id: OptStr = _f("CurrencyID")
    post_option: OptStr = _f("PostOption")
    last_modified_date_time: OptDateTime = _f("LastModifiedDateTime")


@attrs.frozen(kw_only=True)
class Subaccount(AcumaticaEntity):
    """A GL subaccount (``Subaccount``). Key: ``subaccount_cd``. No LastModifiedDateTime."""

    ENTITY: ClassVar[str] = "Subaccount"

    subaccount_cd: OptStr = _f("SubaccountCD")
    subaccount_id: OptInt = _f("SubaccountID")
    description: OptStr = _f("Description")
    active: OptBool = _f("Active")
    secured: OptBool = _f("Secured")


@attrs.frozen(kw_only=True)
class Project(AcumaticaEntity):
    """A project (``Project``). Key: ``project_id``. Tasks are :class:`ProjectTask`."""

    ENTITY: ClassVar[str] = "Project"

    project_id: OptStr = _f("ProjectID")
    description: OptStr = _f("Description")
    status: OptStr = _f("Status")
    hold: OptBool = _f("Hold")
    customer: OptStr = _f("Customer")
    external_ref_nbr: OptStr = _f("ExternalRefNbr")
    project_template_id: OptStr = _f("ProjectTemplateID")
    last_modified_date_time: OptDateTime = _f("LastModifiedDateTime")


@attrs.frozen(kw_only=True)
class ProjectTask(AcumaticaEntity):
    """A project task (``ProjectTask``). Key: ``project_id`` + ``project_task_id``."""

    ENTITY: ClassVar[str] = "ProjectTask"

    project_id: OptStr = _f("ProjectID")
    project_task_id: OptStr = _f("ProjectTaskID")
    description: OptStr = _f("Description")
    status: OptStr = _f("Status")
    default: OptBool = _f("Default")
    external_ref_nbr: OptStr = _f("ExternalRefNbr")
    last_modified_date_time: OptDateTime = _f("LastModifiedDateTime")


@attrs.frozen(kw_only=True)
class Branch(AcumaticaEntity):
    """A branch, read from the ``CompaniesStructure`` inquiry (one ``Results`` row).

    The Default endpoint has no top-level ``Branch`` entity (checked in both 23.200.001
    and 24.200.001); branches are listed through ``CompaniesStructure`` whose
    ``CompaniesStructureDetail`` rows carry these fields.
    """

    ENTITY: ClassVar[str] = "CompaniesStructure"

    branch_id: OptStr = _f("BranchID")
    branch_name: OptStr = _f("BranchName")
    branch_status: OptBool = _f("BranchStatus")
    branch_country: OptStr = _f("BranchCountry")
    base_currency_id: OptStr = _f("BaseCurrencyID")
    company_id: OptStr = _f("CompanyID")
    company_name: OptStr = _f("CompanyName")
    company_status: OptBool = _f("CompanyStatus")
    company_type: OptStr = _f("CompanyType")
