"""Receipts: download each expense's receipt and attach it to the posted document, once.

An expense's receipt is the export's ``receiptObject.url`` (``Expense.receipt_url``). For
every expense of a posted document that has one, :func:`attach_receipts`:

1. skips it when its file name is already recorded as attached (``done``);
2. downloads it (:class:`ReceiptFetcher`): at most ``max_bytes`` (streamed, the download
   stops past the limit), a content type from ``allowed_types`` (the ``Content-Type``
   header, confirmed by the file's first bytes: PDF, JPEG, PNG, GIF, HEIC/WebP);
3. attaches it with Acumatica's file attachment (``PUT …/{Entity}/{keys}/files/{name}``,
   ``acumatica-api.md`` §3.8) through a ``put_file(name, content)`` callable.

Exactly once: the file name is deterministic, ``receipt-<transactionID>.<ext>``, and
Acumatica replaces a file attached again under the same name, so a lost answer followed
by a second attempt still leaves one file; the caller records the names returned in
:attr:`ReceiptResult.attached` (the audit) and passes them back as ``done``.

A missing, unreachable, oversized or unexpected receipt is a warning on the report
(:attr:`ReceiptResult.warnings`), never an error and never a reason to post again.

:func:`expense_bridge.sync` attaches receipts when ``rules.attach_receipts`` is set: after
each document is recorded (created, adopted, or recorded by an earlier run), through
:meth:`AcumaticaLedger.attach_file <expense_bridge._ledger.AcumaticaLedger.attach_file>`
(the client's ``attach_file``), with the names already attached read back from the
audit trail (step ``receipt``, outcome ``attached``). :class:`AcumaticaFiles` offers the
same for a single record outside a sync.

Receipts on lines (``rules.receipts_on = "line"``): each receipt goes to the detail line
carrying its expense (``PlannedDocument.line_transactions``) through the line's own
``files:put`` link (acumatica-api.md §3.1: detail lines carry one; the create's answer or
the adoption's read brings them, else one GET with the lines). A line without a link, or a
saved document whose lines do not match the plan, gets its receipts on the header (audit
``receipt`` / ``on header`` says why). Journals too: their expense lines carry
``files:put`` like bill and claim lines; credit and tax lines carry no receipt.

Retries (``rules.receipt_attempts``): a receipt that ended as a warning on a posted report
is tried again by later syncs, which re-export just those reports (one export for all)
for fresh receipt links -- a link may carry a signed token, and none is kept by this
module or written to the audit -- and attach only what is still missing (no re-post).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Final

import attrs
import httpx

from acumatica_client import AcumaticaClient, AcumaticaEntity
from expensify_client import Expense

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TYPES",
    "AcumaticaFiles",
    "Receipt",
    "ReceiptFetcher",
    "ReceiptResult",
    "attach_receipts",
    "attached_names",
    "pending",
    "receipt_name",
]

#: Default size limit of one receipt (10 MiB).
DEFAULT_MAX_BYTES: Final = 10 * 1024 * 1024
#: Content types accepted by default, with the file extension used for each.
DEFAULT_TYPES: Final = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/heic": ".heic",
    "image/webp": ".webp",
}
_MAGIC: Final = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


def _matches(content_type: str, head: bytes) -> bool:
    if content_type in ("image/heic", "image/webp"):
        return head[4:8] == b"ftyp" or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
    return any(head.startswith(m) for m in _MAGIC.get(content_type, (b"",)))


@attrs.frozen(kw_only=True)
class Receipt:
    """A downloaded receipt."""

    url: str = attrs.field(repr=False)  # may carry a signed token: never shown
    content: bytes = attrs.field(repr=False)
    content_type: str


class ReceiptError(Exception):
    """A receipt cannot be attached; the message names the transaction, never the URL."""


@attrs.frozen(kw_only=True)
class ReceiptResult:
    """What :func:`attach_receipts` did for one document."""

    attached: tuple[str, ...] = ()  # file names attached now (record them)
    skipped: tuple[str, ...] = ()  # file names already attached before
    warnings: tuple[str, ...] = ()  # one per receipt not attached, naming the transaction
    #: Of ``attached``, those put through a line's ``put_file`` (``lines``): name -> the
    #: line's 1-based number.
    on_lines: Mapping[str, int] = attrs.field(factory=dict)


def receipt_name(expense: Expense, content_type: str) -> str:
    """``receipt-<transactionID><ext>``: the same name every time for one receipt."""
    ext = DEFAULT_TYPES.get(content_type, ".bin")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in expense.transaction_id)
    return f"receipt-{safe}{ext}"


def _expected_name(expense: Expense) -> list[str]:
    return [receipt_name(expense, t) for t in DEFAULT_TYPES]


class ReceiptFetcher:
    """Downloads receipts with a size limit and a content-type check (no I/O until used).

    Thread-safe: one connection pool, created on first use, shared by every thread.

    ``transport``: e.g. an emulator's transport in tests; by default the network.
    """

    def __init__(
        self,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        allowed_types: Collection[str] = tuple(DEFAULT_TYPES),
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        self.max_bytes = max_bytes
        self.allowed_types = frozenset(allowed_types)
        self._timeout = timeout
        self._transport = transport
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()  # posting threads share one fetcher (one pool)

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    transport=self._transport, timeout=self._timeout, follow_redirects=True
                )
            return self._client

    def close(self) -> None:
        """Close the HTTP connection pool."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def __enter__(self) -> ReceiptFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, url: str, *, what: str = "receipt") -> Receipt:
        """The receipt at ``url``; :class:`ReceiptError` says why not (``what`` names it)."""
        if not url.startswith(("http://", "https://")):
            raise ReceiptError(f"{what}: not an http(s) link")
        try:
            with self._http().stream("GET", url) as response:
                if response.status_code != 200:
                    raise ReceiptError(f"{what}: HTTP {response.status_code}")
                content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
                if content_type.lower() not in self.allowed_types:
                    raise ReceiptError(f"{what}: content type {content_type or 'none'!r} refused")
                declared = response.headers.get("Content-Length")
                if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                    raise ReceiptError(f"{what}: larger than the {self.max_bytes}-byte limit")
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > self.max_bytes:
                        raise ReceiptError(f"{what}: larger than the {self.max_bytes}-byte limit")
        except httpx.HTTPError as exc:
            raise ReceiptError(f"{what}: unreachable ({type(exc).__name__})") from None
        if not data:
            raise ReceiptError(f"{what}: empty file")
        if not _matches(content_type.lower(), bytes(data[:16])):
            raise ReceiptError(f"{what}: content is not {content_type}")
        return Receipt(url=url, content=bytes(data), content_type=content_type.lower())


def attach_receipts(
    expenses: Iterable[Expense],
    *,
    fetcher: ReceiptFetcher,
    put_file: Callable[[str, bytes], None],
    done: Collection[str] = (),
    lines: Mapping[str, tuple[int, Callable[[str, bytes], None]]] | None = None,
) -> ReceiptResult:
    """Attach each expense's receipt once (see the module docstring).

    ``lines`` (receipts on lines): transaction ID -> (1-based line number, ``put_file`` of
    the line carrying it); an expense not in it goes through ``put_file`` (the header).
    ``put_file`` failures (any exception) become warnings; the receipt is tried again on
    the next call since its name is not returned in ``attached``.
    """
    on_lines: dict[str, int] = {}
    attached: list[str] = []
    skipped: list[str] = []
    warnings: list[str] = []
    for expense in expenses:
        if not expense.receipt_url:
            continue
        what = f"receipt of transaction {expense.transaction_id}"
        already = [n for n in _expected_name(expense) if n in done]
        if already:
            skipped.append(already[0])
            continue
        try:
            receipt = fetcher.fetch(expense.receipt_url, what=what)
        except ReceiptError as exc:
            warnings.append(str(exc))
            continue
        name = receipt_name(expense, receipt.content_type)
        line = (lines or {}).get(expense.transaction_id)
        try:
            (put_file if line is None else line[1])(name, receipt.content)
        except Exception as exc:
            warnings.append(f"{what}: not attached ({type(exc).__name__})")
            continue
        attached.append(name)
        if line is not None:
            on_lines[name] = line[0]
    return ReceiptResult(
        attached=tuple(attached),
        skipped=tuple(skipped),
        warnings=tuple(warnings),
        on_lines=on_lines,
    )


def pending(expenses: Iterable[Expense], done: Collection[str]) -> list[Expense]:
    """The expenses with a receipt link whose receipt is not among ``done`` names."""
    return [e for e in expenses if e.receipt_url and not any(n in done for n in _expected_name(e))]


def attached_names(details: Iterable[str | None]) -> set[str]:
    """File names recorded by audit details of step ``receipt``/``attached``: the name,
    or ``"<name> on line <n>"`` for a receipt attached to a line."""
    return {d.split(" ", 1)[0] for d in details if d}


class AcumaticaFiles:
    """``put_file`` callables over :meth:`acumatica_client.AcumaticaClient.attach_file`
    (``PUT …/{Entity}/{keys…}/files/{name}``, §3.8): the client's session (OAuth or
    cookie), licence limiter and retry policy apply; the same name replaces the file, so
    the client repeats the PUT after a lost answer and one file remains.
    """

    def __init__(self, client: AcumaticaClient) -> None:
        self.client = client

    def putter(self, entity: type[AcumaticaEntity], *keys: str) -> Callable[[str, bytes], None]:
        """A ``put_file`` for :func:`attach_receipts` attaching to one record."""

        def put(name: str, content: bytes) -> None:
            self.client.attach_file(entity, keys, name, content, content_type=_sniff(content))

        return put


def _sniff(content: bytes) -> str | None:
    """The content type the file's first bytes show (None: unknown)."""
    for content_type in DEFAULT_TYPES:
        if _matches(content_type, content[:16]):
            return content_type
    return None
