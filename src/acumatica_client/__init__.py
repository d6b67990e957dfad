"""A typed client for Acumatica ERP's Contract-Based REST API.

The public names are re-exported here; implementation lives in ``_private`` modules.
"""

from __future__ import annotations

from ._models import (
    UNSET,
    Account,
    AcumaticaEntity,
    Bill,
    BillDetail,
    Branch,
    Contact,
    CustomField,
    Employee,
    EmployeeSettings,
    ExpenseClaim,
    ExpenseClaimDetail,
    JournalTransaction,
    JournalTransactionDetail,
    Project,
    ProjectTask,
    Subaccount,
    UnsetType,
    Vendor,
)

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
