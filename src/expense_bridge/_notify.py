"""Run notifications: a failed run and newly held reports reach the operator.

Three channels, each optional:

* **webhook** (``[notifications] webhook_url``): one ``POST`` of a JSON document (see
  :func:`notification_payload`) with ``httpx``; any 2xx answer is a delivery.
* **e-mail** (``smtp_host``, ``smtp_port``, ``smtp_from``, ``smtp_to``, ``smtp_starttls``,
  ``smtp_username``): one message over SMTP with the standard library's :mod:`smtplib`;
  the SMTP password is a secret and lives in the credential vault
  (:data:`SMTP_PASSWORD`), never in the configuration.
* **callback**: ``sync(..., on_run_finished=fn)`` calls ``fn(result)`` once per run with
  the run's :class:`~expense_bridge.SyncResult` (dry runs included), after the other
  channels. An exception raised by ``fn`` propagates to the caller of ``sync``: the run
  is already recorded, and the embedding application's own error is not hidden.

When a channel is used: after a run that failed (it raised, or its result has run-level
errors or reports left pending) or that held at least one report *newly* (held in this
run, and not held with the same code by the run before). Dry runs send nothing.

A notification never carries a secret: the payload is built from report IDs, problem
codes, fixes, counts and the connection's names only; on top of that every text in it is
scrubbed (:func:`scrub`) of the vault's secret values, of URL user-info and of
``password=``/``secret=``/``token=`` style pairs. The webhook URL itself (which often
holds a token, e.g. Slack's) is never logged or sent: failures name the channel and the
error type only.

A channel that fails to deliver is logged (``WARNING``) and reported in the returned
:class:`Delivery` records; it never fails the run.
"""

from __future__ import annotations

import json
import logging
import re
import smtplib
from collections.abc import Callable, Iterable, Mapping, Sequence
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Final

import attrs
import httpx

if TYPE_CHECKING:
    from ._config import BridgeConfig
    from ._results import SyncResult
    from ._store import StateStore

__all__ = [
    "SMTP_PASSWORD",
    "Delivery",
    "NotificationSettings",
    "Notifier",
    "RunCallback",
    "newly_held",
    "notification_payload",
    "run_with_notifications",
    "scrub",
]

logger = logging.getLogger(__name__)

#: Vault name of the SMTP password (used when ``smtp_username`` is set).
SMTP_PASSWORD: Final = "smtp.password"  # noqa: S105 - a name, not a secret

#: The ``on_run_finished`` callback type.
RunCallback = Callable[["SyncResult"], None]

_REDACTED: Final = "***"
_PAIR_RE: Final = re.compile(
    r"(?i)\b([\w.-]*(?:password|passwd|secret|token|apikey|api_key|authorization)[\w.-]*)"
    r"(\s*[=:]\s*|\"\s*:\s*\")([^\s&\",;]+)"
)
_USERINFO_RE: Final = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@")
_BEARER_RE: Final = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")


def _check_emails(instance: Any, attribute: Any, value: Sequence[str]) -> None:
    for address in value:
        if "@" not in address or any(c.isspace() for c in address):
            raise ValueError(f"notifications.{attribute.name}: {address!r} is not an address")


@attrs.frozen(kw_only=True)
class NotificationSettings:
    """Where run notifications go (the ``[notifications]`` table). All channels optional.

    ``webhook_url``: JSON ``POST`` target. ``smtp_host``: enables e-mail; the message goes
    from ``smtp_from`` to every address in ``smtp_to`` over ``smtp_host:smtp_port``, with
    ``STARTTLS`` when ``smtp_starttls`` and a login as ``smtp_username`` (password from the
    vault's ``smtp.password``) when that is set. ``timeout`` bounds each delivery (seconds).
    """

    webhook_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_from: str | None = None
    smtp_to: tuple[str, ...] = attrs.field(default=(), validator=_check_emails)
    smtp_starttls: bool = True
    smtp_username: str | None = None
    timeout: float = 10.0

    @property
    def enabled(self) -> bool:
        """At least one channel is configured."""
        return bool(self.webhook_url or self.smtp_host)


@attrs.frozen(kw_only=True)
class Delivery:
    """The outcome of one channel for one notification (no URL, no secret in it)."""

    channel: str  # "webhook" | "email"
    delivered: bool
    detail: str | None = None  # e.g. "HTTP 503", "ConnectError"


# --------------------------------------------------------------------------- scrubbing


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without the given secret values, URL user-info or ``key=secret`` pairs."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, _REDACTED)
    text = _USERINFO_RE.sub(lambda m: m.group(1) + _REDACTED + "@", text)
    text = _BEARER_RE.sub(lambda m: m.group(1) + " " + _REDACTED, text)
    return _PAIR_RE.sub(lambda m: m.group(1) + m.group(2) + _REDACTED, text)


def _scrub_tree(value: Any, secrets: Sequence[str]) -> Any:
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, Mapping):
        return {k: _scrub_tree(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_tree(v, secrets) for v in value]
    return value


def _public_url(url: str) -> str:
    """``url`` without user-info, query or fragment (for the payload's ``acumatica_url``)."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(userinfo=b"", query=None, fragment=None))


# --------------------------------------------------------------------------- content


def newly_held(result: SyncResult, store: StateStore | None, connection: str) -> list[str]:
    """Report IDs held in ``result``'s run that the run before did not hold with that code.

    A report held again, unchanged, by every run is announced once. Without a store every
    held report counts as new.
    """
    from ._results import Action

    found: list[str] = []
    for outcome in result.outcomes:
        if outcome.action is not Action.HELD:
            continue
        if store is None:
            found.append(outcome.report_id)
            continue
        codes = {p.code.value for p in outcome.problems}
        earlier = [
            e for e in store.audit_trail(outcome.report_id, connection) if e.run_id != result.run_id
        ]
        if earlier and earlier[-1].outcome == "held":
            last_run = earlier[-1].run_id
            before = {e.error_code for e in earlier if e.run_id == last_run and e.outcome == "held"}
            if before == codes:
                continue
        found.append(outcome.report_id)
    return found


def notification_payload(
    config: BridgeConfig,
    *,
    result: SyncResult | None = None,
    error: BaseException | None = None,
    held: Sequence[str] = (),
    secrets: Sequence[str] = (),
) -> dict[str, Any]:
    """The JSON document the webhook receives (and the e-mail renders).

    ``{"event": "run_failed" | "reports_held", "tenant", "connection", "acumatica_url",
    "policies", "run": {...} | null, "error": {"type", "message"} | null,
    "held": [{"report_id", "problems": [{"code", "field", "message", "fix",
    "transaction_id"}]}]}``. ``held`` selects which held outcomes are listed (the newly
    held ones); every string is scrubbed of ``secrets``.
    """
    from ._results import Action

    failed = error is not None or (result is not None and not result.ok)
    run: dict[str, Any] | None = None
    listed: list[dict[str, Any]] = []
    if result is not None:
        run = {
            "run_id": result.run_id,
            "started": result.started.isoformat(),
            "finished": result.finished.isoformat(),
            "ok": result.ok,
            "pulled": result.pulled,
            "counts": result.counts,
            "errors": list(result.errors),
            "warnings": list(result.warnings),
            "pending": [o.report_id for o in result.outcomes if o.action is Action.PENDING],
        }
        wanted = set(held)
        listed = [
            {
                "report_id": o.report_id,
                "problems": [
                    {
                        "code": p.code.value,
                        "field": p.field,
                        "message": p.message,
                        "fix": p.fix,
                        "transaction_id": p.transaction_id,
                    }
                    for p in o.problems
                ],
            }
            for o in result.outcomes
            if o.action is Action.HELD and o.report_id in wanted
        ]
    payload: dict[str, Any] = {
        "event": "run_failed" if failed else "reports_held",
        "tenant": config.acumatica.tenant,
        "connection": config.connection,
        "acumatica_url": _public_url(config.acumatica.base_url),
        "policies": list(config.policies),
        "run": run,
        "error": (
            {"type": type(error).__name__, "message": str(error)} if error is not None else None
        ),
        "held": listed,
    }
    scrubbed: dict[str, Any] = _scrub_tree(payload, list(secrets))
    return scrubbed


def _subject(payload: Mapping[str, Any]) -> str:
    where = payload["tenant"] or payload["connection"]
    if payload["event"] == "run_failed":
        return f"[expense-bridge] {where}: sync run failed"
    return f"[expense-bridge] {where}: {len(payload['held'])} report(s) newly held"


def _body(payload: Mapping[str, Any]) -> str:
    lines = [_subject(payload).removeprefix("[expense-bridge] "), ""]
    run = payload["run"]
    if run is not None:
        lines.append(f"Run {run['run_id']} ({run['started']} to {run['finished']}):")
        lines += [f"  {action}: {n}" for action, n in run["counts"].items() if n]
        lines += [f"  error: {e}" for e in run["errors"]]
        if run["pending"]:
            lines.append(f"  pending (retried next run): {', '.join(run['pending'])}")
    if payload["error"] is not None:
        lines.append(f"The run stopped: {payload['error']['type']}: {payload['error']['message']}")
    for item in payload["held"]:
        lines += ["", f"Report {item['report_id']} is held:"]
        for p in item["problems"]:
            tid = f" (transaction {p['transaction_id']})" if p["transaction_id"] else ""
            lines.append(f"  {p['code']} at {p['field']}{tid}: {p['message']}")
            lines.append(f"    Fix: {p['fix']}")
    lines += ["", "Details: expense-bridge status / expense-bridge audit REPORT_ID"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- channels


class Notifier:
    """Sends one notification to every configured channel.

    ``secrets``: values to scrub from everything sent (the vault's secrets).
    ``smtp_password``: the SMTP login password (from the vault). ``webhook_transport``
    (e.g. :class:`httpx.MockTransport`) and ``smtp_factory`` (``(host, port, timeout)`` ->
    an :class:`smtplib.SMTP`-like object) exist for tests. Constructing does no I/O.
    """

    def __init__(
        self,
        settings: NotificationSettings,
        *,
        secrets: Sequence[str] = (),
        smtp_password: str | None = None,
        webhook_transport: httpx.BaseTransport | None = None,
        smtp_factory: Callable[[str, int, float], smtplib.SMTP] | None = None,
    ) -> None:
        self.settings = settings
        self._secrets = tuple(s for s in (*secrets, smtp_password or "") if s)
        self._smtp_password = smtp_password
        self._transport = webhook_transport
        self._smtp_factory = smtp_factory or (
            lambda host, port, timeout: smtplib.SMTP(host, port, timeout=timeout)
        )

    def __repr__(self) -> str:
        channels = [n for n, on in (("webhook", self.settings.webhook_url),
                                    ("email", self.settings.smtp_host)) if on]  # fmt: skip
        return f"Notifier(channels={channels})"

    def payload(
        self,
        config: BridgeConfig,
        *,
        result: SyncResult | None = None,
        error: BaseException | None = None,
        held: Sequence[str] = (),
    ) -> dict[str, Any]:
        """:func:`notification_payload` scrubbed of this notifier's secrets."""
        return notification_payload(
            config, result=result, error=error, held=held, secrets=self._secrets
        )

    def send(self, payload: Mapping[str, Any]) -> tuple[Delivery, ...]:
        """Deliver ``payload`` to each configured channel; failures are returned, not raised."""
        deliveries: list[Delivery] = []
        channels = (("webhook", self.settings.webhook_url, self._webhook),
                    ("email", self.settings.smtp_host, self._email))  # fmt: skip
        for name, configured, deliver in channels:
            if not configured:
                continue
            try:
                deliveries.append(deliver(payload))
            except Exception as exc:
                deliveries.append(Delivery(channel=name, delivered=False,
                                           detail=type(exc).__name__))  # fmt: skip
        for d in deliveries:
            if not d.delivered:
                logger.warning("notification by %s not delivered: %s", d.channel, d.detail)
        return tuple(deliveries)

    def _webhook(self, payload: Mapping[str, Any]) -> Delivery:
        url = self.settings.webhook_url or ""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            with httpx.Client(transport=self._transport, timeout=self.settings.timeout) as http:
                response = http.post(
                    url,
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        "User-Agent": "expense-bridge",
                    },
                )
        except httpx.HTTPError as exc:
            return Delivery(channel="webhook", delivered=False, detail=type(exc).__name__)
        if not response.is_success:
            return Delivery(
                channel="webhook", delivered=False, detail=f"HTTP {response.status_code}"
            )
        return Delivery(channel="webhook", delivered=True, detail=f"HTTP {response.status_code}")

    def _email(self, payload: Mapping[str, Any]) -> Delivery:
        s = self.settings
        message = EmailMessage()
        message["Subject"] = _subject(payload)
        message["From"] = s.smtp_from or "expense-bridge@localhost"
        message["To"] = ", ".join(s.smtp_to)
        message.set_content(_body(payload))
        message.add_attachment(
            json.dumps(payload, ensure_ascii=False, indent=2).encode(),
            maintype="application",
            subtype="json",
            filename="notification.json",
        )
        try:
            smtp = self._smtp_factory(s.smtp_host or "", s.smtp_port, s.timeout)
            try:
                if s.smtp_starttls:
                    smtp.starttls()
                if s.smtp_username:
                    smtp.login(s.smtp_username, self._smtp_password or "")
                refused = smtp.send_message(message, to_addrs=list(s.smtp_to))
            finally:
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError):
                    smtp.close()
        except (smtplib.SMTPException, OSError) as exc:
            return Delivery(channel="email", delivered=False, detail=type(exc).__name__)
        if refused:
            return Delivery(
                channel="email", delivered=False, detail=f"{len(refused)} recipient(s) refused"
            )
        return Delivery(channel="email", delivered=True)


# --------------------------------------------------------------------------- the run hook


def _vault_secrets(config: BridgeConfig) -> tuple[list[str], str | None]:
    """The vault's secret values (for scrubbing) and the SMTP password, when readable."""
    from ._factory import vault_for
    from ._vault import VaultError

    try:
        vault = vault_for(config)
        if not vault.has_key():
            return [], None
        values = [vault.get(name).reveal() for name in vault.names()]
        password = vault.get(SMTP_PASSWORD).reveal() if SMTP_PASSWORD in vault else None
    except (VaultError, OSError, KeyError):
        return [], None
    return values, password


def notifier_for(config: BridgeConfig, *, secrets: Sequence[str] = ()) -> Notifier | None:
    """The notifier ``config`` asks for (None without channels); reads the vault once."""
    settings: NotificationSettings | None = getattr(config, "notifications", None)
    if settings is None or not settings.enabled:
        return None
    values, password = _vault_secrets(config)
    return Notifier(settings, secrets=[*secrets, *values], smtp_password=password)


def run_with_notifications(
    config: BridgeConfig,
    run: Callable[[], SyncResult],
    *,
    store: StateStore | None,
    dry_run: bool,
    on_run_finished: RunCallback | None = None,
    notifier: Notifier | None = None,
) -> SyncResult:
    """Call ``run()`` (one sync run), notify the configured channels, then the callback.

    A run that raises is announced as ``run_failed`` (exception type and scrubbed
    message) and the exception propagates; the callback is not called (there is no
    result). ``notifier`` defaults to :func:`notifier_for` ``(config)``.
    """
    try:
        result = run()
    except Exception as exc:
        if not dry_run:
            chosen = notifier or notifier_for(config)
            if chosen is not None:
                chosen.send(chosen.payload(config, error=exc))
        raise
    if not dry_run:
        chosen = notifier or notifier_for(config)
        if chosen is not None:
            held = newly_held(result, store, config.connection)
            if held or not result.ok:
                chosen.send(chosen.payload(config, result=result, held=held))
    if on_run_finished is not None:
        on_run_finished(result)
    return result
