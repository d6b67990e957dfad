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
    "Currency",
    "CustomField",
    "Employee",
    "EmployeeSettings",
    "ExpenseClaim",
    "ExpenseClaimAPDocument",
    "ExpenseClaimDetail",
    "ExpenseClaimFinancialDetail",
    "FinancialPeriod",
    "FinancialPeriodDetail",
    "JournalTransaction",
    "JournalTransactionDetail",
    "NonStockItem",
    "Project",
    "ProjectTask",
    "Subaccount",
    "TaxCategory",
    "TaxCategoryTaxDetail",
    "TaxZone",
    "TaxZoneApplicableTaxDetail",
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
    qty: OptDec = _f("Qty")
    unit_cost: OptDec = _f("UnitCost")
    tax_category: OptStr = _f("TaxCategory")
    tax_amount: OptDec = _f("TaxAmount")
    tax_zone: OptStr = _f("TaxZone")


@attrs.frozen(kw_only=True)
class ExpenseClaimAPDocument(AcumaticaEntity):
    """A row of ``ExpenseClaim.FinancialDetails.APDocuments`` (read-only): an AP document
    the claim's release created (the employee's bill), by ``type`` and ``ref_nbr``."""

    type: OptStr = _f("Type")
    ref_nbr: OptStr = _f("RefNbr")
    amount: OptDec = _f("Amount")
    status: OptStr = _f("Status")
    tax_zone: OptStr = _f("TaxZone")


@attrs.frozen(kw_only=True)
class ExpenseClaimFinancialDetail(AcumaticaEntity):
    """``ExpenseClaim.FinancialDetails`` (linked): the claim's branch, post period and tax
    zone. ``post_to_period`` (``PosttoPeriod``) is written ``MMYYYY`` like ``PostPeriod``.
    ``ap_documents`` lists the AP documents a released claim created (read with
    ``expand=["FinancialDetails", "FinancialDetails/APDocuments"]``).
    """

    branch: OptStr = _f("Branch")
    post_to_period: OptStr = _f("PosttoPeriod")
    tax_zone: OptStr = _f("TaxZone")
    ap_documents: tuple[ExpenseClaimAPDocument, ...] | UnsetType = _f("APDocuments")


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
    financial_details: ExpenseClaimFinancialDetail | UnsetType | None = _f("FinancialDetails")


# ------------------------------------------------------- accounting reference data


@attrs.frozen(kw_only=True)
class FinancialPeriodDetail(AcumaticaEntity):
    """One period of a financial year (``FinancialPeriodDetail``, GL201000 ``Periods``).

    ``financial_period_id`` is written as the contract writes a period, ``MMYYYY``
    (``"032025"``), the form ``PostPeriod`` takes. ``status`` is the GL status (``Open``,
    ``Closed``, ``Locked``, ``Inactive``); ``closed_in_ap`` … ``closed_in_in`` are the
    per-module closing flags (there is no GL flag: GL closing is the ``status``).
    Identical in Default/23.200.001 and 24.200.001.
    """

    financial_period_id: OptStr = _f("FinancialPeriodID")
    period_nbr: OptStr = _f("PeriodNbr")
    description: OptStr = _f("Description")
    start_date: OptDate = _f("StartDate")
    end_date: OptDate = _f("EndDate")
    length_in_days: OptInt = _f("LengthInDays")
    status: OptStr = _f("Status")
    adjustment_period: OptBool = _f("AdjustmentPeriod")
    closed_in_ap: OptBool = _f("ClosedInAP")
    closed_in_ar: OptBool = _f("ClosedInAR")
    closed_in_ca: OptBool = _f("ClosedInCA")
    closed_in_fa: OptBool = _f("ClosedInFA")
    closed_in_in: OptBool = _f("ClosedInIN")


@attrs.frozen(kw_only=True)
class FinancialPeriod(AcumaticaEntity):
    """A financial year of the master calendar (``FinancialPeriod``, GL201000).

    Key: ``financial_year`` (``"2025"``). Its periods are ``details`` (``$expand=Details``).
    Identical in Default/23.200.001 and 24.200.001.
    """

    ENTITY: ClassVar[str] = "FinancialPeriod"

    financial_year: OptStr = _f("FinancialYear")
    start_date: OptDate = _f("StartDate")
    nbr_of_periods: OptInt = _f("NbrOfPeriods")
    user_defined_periods: OptBool = _f("UserDefinedPeriods")
    created_date_time: OptDateTime = _f("CreatedDateTime")
    last_modified_date_time: OptDateTime = _f("LastModifiedDateTime")
    details: tuple[FinancialPeriodDetail, ...] | UnsetType = _f("Details")


@attrs.frozen(kw_only=True)
class Currency(AcumaticaEntity):
    """A currency of the tenant's list (``Currency``, CM202000). Key: ``currency_id``.

    Identical in Default/23.200.001 and 24.200.001.
    """

    ENTITY: ClassVar[str] = "Currency"

    currency_id: OptStr = _f("CurrencyID")
    description: OptStr = _f("Description")
    currency_symbol: OptStr = _f("CurrencySymbol")
    decimal_precision: OptInt = _f("DecimalPrecision")
    active: OptBool = _f("Active")
    use_for_accounting: OptBool = _f("UseForAccounting")
    created_date_time: OptDateTime = _f("CreatedDateTime")
    last_modified_date_time: OptDateTime = _f("LastModifiedDateTime")


@attrs.frozen(kw_only=True)
class TaxCategoryTaxDetail(AcumaticaEntity):
    """A tax listed on a tax category (``TaxCategoryTaxDetail``)."""

    tax_id: OptStr = _f("TaxID")
    tax_category: OptStr = _f("TaxCategory")
    description: OptStr = _f("Description")
    tax_type: OptStr = _f("TaxType")
    calculate_on: OptStr = _f("CalculateOn")
    cash_discount: OptStr = _f("CashDiscount")


@attrs.frozen(kw_only=True)
class TaxCategory(AcumaticaEntity):
    """A tax category (``TaxCategory``, TX205500). Key: ``tax_category_id``.

    Bill lines and expense claim lines name it in ``TaxCategory``. ``details`` are the
    taxes listed (``$expand=Details``); ``exclude_listed_taxes`` inverts the list.
    Identical in Default/23.200.001 and 24.200.001.
    """

    ENTITY: ClassVar[str] = "TaxCategory"

    tax_category_id: OptStr = _f("TaxCategoryID")
    description: OptStr = _f("Description")
    active: OptBool = _f("Active")
    exclude_listed_taxes: OptBool = _f("ExcludeListedTaxes")
    created_date_time: OptDateTime = _f("CreatedDateTime")
    last_modified_date_time: OptDateTime = _f("LastModifiedDateTime")
    details: tuple[TaxCategoryTaxDetail, ...] | UnsetType = _f("Details")


@attrs.frozen(kw_only=True)
class TaxZoneApplicableTaxDetail(AcumaticaEntity):
    """A tax applicable in a tax zone (``TaxZoneApplicableTaxDetail``)."""

    tax_id: OptStr = _f("TaxID")


@attrs.frozen(kw_only=True)
class TaxZone(AcumaticaEntity):
    """A tax zone (``TaxZone``, TX206000). Key: ``tax_zone_id``.

    An expense claim names it in ``FinancialDetails.TaxZone`` and on each line
    (``TaxZone``); a bill has no tax zone field (it follows the vendor's ``TaxZone``).
    ``applicable_taxes`` are the zone's taxes (``$expand=ApplicableTaxes``). Identical in
    Default/23.200.001 and 24.200.001.
    """

    ENTITY: ClassVar[str] = "TaxZone"

    tax_zone_id: OptStr = _f("TaxZoneID")
    description: OptStr = _f("Description")
    created_date_time: OptDateTime = _f("CreatedDateTime")
    last_modified_date_time: OptDateTime = _f("LastModifiedDateTime")
    applicable_taxes: tuple[TaxZoneApplicableTaxDetail, ...] | UnsetType = _f("ApplicableTaxes")


@attrs.frozen(kw_only=True)
class NonStockItem(AcumaticaEntity):
    """A non-stock item (``NonStockItem``, IN202000). Key: ``inventory_id``.

    Expense items (``item_type == "Expense"``) are what ``ExpenseClaimDetail.expense_item_id``
    names; their expense account/subaccount and tax category are the line defaults. The
    subset of fields an expense integration reads; the kit flag is ``IsKit`` in both
    versions (24.200.001 adds ``IsAKit``), left out here.
    """

    ENTITY: ClassVar[str] = "NonStockItem"

    inventory_id: OptStr = _f("InventoryID")
    description: OptStr = _f("Description")
    item_type: OptStr = _f("ItemType")
    item_status: OptStr = _f("ItemStatus")
    item_class: OptStr = _f("ItemClass")
    posting_class: OptStr = _f("PostingClass")
    tax_category: OptStr = _f("TaxCategory")
    base_unit: OptStr = _f("BaseUnit")
    purchase_unit: OptStr = _f("PurchaseUnit")
    sales_unit: OptStr = _f("SalesUnit")
    expense_account: OptStr = _f("ExpenseAccount")
    expense_subaccount: OptStr = _f("ExpenseSubaccount")
    expense_accrual_account: OptStr = _f("ExpenseAccrualAccount")
    expense_accrual_subaccount: OptStr = _f("ExpenseAccrualSubaccount")
    sales_account: OptStr = _f("SalesAccount")
    sales_subaccount: OptStr = _f("SalesSubaccount")
    current_cost: OptDec = _f("CurrentCost")
    default_price: OptDec = _f("DefaultPrice")
    require_receipt: OptBool = _f("RequireReceipt")
    require_shipment: OptBool = _f("RequireShipment")
    last_modified_date_time: OptDateTime = _f("LastModifiedDateTime")


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
