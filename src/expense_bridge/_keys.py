"""Deterministic document keys: how a posted Acumatica document is found again.

Neither API takes an idempotency key, so the bridge derives one from the Expensify report
ID and the part of the report the document carries:

* ``EXB-<reportID>`` for the reimbursable (out-of-pocket) part,
* ``EXB-<reportID>-C`` for the company-card part.

Bills carry the key in ``VendorRef`` (looked up with ``eq``, never ``LIKE``). Journal
transactions carry it as the ``<key>:`` prefix of the header ``Description`` (so
``startswith(Description,'EXB-…:')`` finds the batch) and in every detail line's
``ReferenceNbr``.

SQL Server safety: Acumatica turns ``startswith``/``substringof`` into ``LIKE``, where
``[``, ``]``, ``%`` and ``_`` are metacharacters. The description prefix therefore holds
none of them: a ``_`` of the report ID is written ``~`` there (``~`` is never part of a
report ID, so the spelling is unambiguous), and :func:`description_prefix` is the exact
literal the look-up sends. The look-up still confirms every match client-side
(:func:`key_from_description` must give back the exact key) before anything is adopted.
(Changed in 0.4: the prefix used to be ``[<key>]``, unsafe on SQL Server.)

Decisions:

* Keys are at most :data:`KEY_MAX_LENGTH` (40) characters: the length of Acumatica's
  vendor reference (``APInvoice.InvoiceNbr``) [INF: the published schemas carry no lengths].
* A report ID may only contain ASCII letters, digits, ``_`` and ``.``: that covers
  Expensify's numeric and base-62 ``R…`` IDs, and it keeps every key safe inside an OData
  string literal and a ``[...]`` prefix, and unambiguous (no ``-`` so ``-C`` is always
  the card suffix).
* Descriptions are cut to :data:`DESCRIPTION_MAX_LENGTH` (256) characters, Acumatica's
  transaction description length (``Common.Constants.TranDescLength``) [INF]. Whitespace
  runs (new lines, tabs) become one space first.
"""

from __future__ import annotations

import enum
import re

__all__ = [
    "DESCRIPTION_MAX_LENGTH",
    "KEY_MAX_LENGTH",
    "KEY_PREFIX",
    "DocumentKind",
    "DocumentPart",
    "clean_text",
    "description_prefix",
    "document_key",
    "journal_description",
    "key_from_description",
    "parse_key",
]

KEY_PREFIX = "EXB-"
KEY_MAX_LENGTH = 40
DESCRIPTION_MAX_LENGTH = 256
CARD_SUFFIX = "-C"

_REPORT_ID = re.compile(r"[A-Za-z0-9_.]+")
_KEY = re.compile(r"EXB-([A-Za-z0-9_.]+)(-C)?")
_DESCRIPTION_KEY = re.compile(r"(EXB-[A-Za-z0-9~.]+(?:-C)?):")
_LIKE_METACHARACTERS = frozenset("[]%_")
_WHITESPACE = re.compile(r"\s+")


class DocumentPart(enum.Enum):
    """Which expenses of a report a document carries."""

    REIMBURSABLE = "reimbursable"  # out-of-pocket spend, owed to the employee
    CARD = "card"  # company-card (non-reimbursable) spend, owed to the card issuer


class DocumentKind(enum.Enum):
    """Which Acumatica entity a planned document is."""

    BILL = "bill"  # AP Bill (or Debit Adj.)
    JOURNAL = "journal"  # GL JournalTransaction
    CLAIM = "claim"  # EP ExpenseClaim (key as the Description prefix, as for journals)


def document_key(report_id: str, part: DocumentPart) -> str:
    """The idempotency key of ``part`` of report ``report_id`` (see the module docstring).

    Raises ``ValueError`` for a report ID with characters outside ``[A-Za-z0-9_.]`` or a
    key longer than :data:`KEY_MAX_LENGTH`.
    """
    if not _REPORT_ID.fullmatch(report_id):
        raise ValueError(
            f"report ID {report_id!r} cannot form a document key: only letters, digits, "
            "'_' and '.' are allowed"
        )
    key = KEY_PREFIX + report_id + (CARD_SUFFIX if part is DocumentPart.CARD else "")
    if len(key) > KEY_MAX_LENGTH:
        raise ValueError(
            f"document key {key!r} is {len(key)} characters; Acumatica allows {KEY_MAX_LENGTH}"
        )
    return key


def parse_key(key: str) -> tuple[str, DocumentPart] | None:
    """``(report_id, part)`` of a key made by :func:`document_key`, else ``None``."""
    match = _KEY.fullmatch(key)
    if match is None or len(key) > KEY_MAX_LENGTH:
        return None
    part = DocumentPart.CARD if match.group(2) else DocumentPart.REIMBURSABLE
    return match.group(1), part


def clean_text(text: str, max_length: int = DESCRIPTION_MAX_LENGTH) -> str:
    """``text`` with whitespace runs collapsed to one space, stripped, cut to ``max_length``."""
    return _WHITESPACE.sub(" ", text).strip()[:max_length].rstrip()


def description_prefix(key: str) -> str:
    """``"<key>:"`` with ``_`` written ``~``: the literal a journal description starts with.

    It contains no ``LIKE`` metacharacter (``[``, ``]``, ``%``, ``_``), so
    ``startswith(Description, prefix)`` means the same on every database Acumatica runs on.
    """
    if parse_key(key) is None:
        raise ValueError(f"{key!r} is not a document key")
    prefix = key.replace("_", "~") + ":"
    if _LIKE_METACHARACTERS & set(prefix):  # pragma: no cover - excluded by parse_key
        raise ValueError(f"{key!r} cannot be looked up safely")
    return prefix


def journal_description(key: str, report_name: str) -> str:
    """``"<key>: <report name>"``, cut to :data:`DESCRIPTION_MAX_LENGTH` characters.

    The key prefix (:func:`description_prefix`) is never cut (a key is at most 40
    characters); only the name is.
    """
    prefix = description_prefix(key)
    name = clean_text(report_name, DESCRIPTION_MAX_LENGTH - len(prefix) - 1)
    return f"{prefix} {name}" if name else prefix


def key_from_description(text: str) -> str | None:
    """The document key at the start of a journal description (``"EXB-R1: …"``), if any."""
    match = _DESCRIPTION_KEY.match(text)
    if match is None:
        return None
    key = match.group(1).replace("~", "_")
    return key if parse_key(key) is not None else None
