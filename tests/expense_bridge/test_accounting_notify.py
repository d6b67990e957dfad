"""Notifications (issue 11): webhook, SMTP e-mail and the ``on_run_finished`` callback.

Channels are exercised with an httpx MockTransport, a loopback HTTP server and a stdlib
SMTP stub; the sync-level tests run over both emulators. Every notification sent is
scanned for the test secrets.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from acumatica_client import EndpointVersionError
from expense_bridge import Action, BridgeConfig, ConfigError, SyncResult
from expense_bridge._notify import (
    SMTP_PASSWORD,
    NotificationSettings,
    Notifier,
    newly_held,
    notification_payload,
    run_with_notifications,
    scrub,
)

from .test_accounting_support import (
    PARTNER_SECRET,
    SECRETS,
    SMTP_SECRET,
    HttpSink,
    SmtpStub,
    World,
    assert_no_secret,
    close_world,
    make_world,
    started,
)


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    yield from started(HttpSink())


@pytest.fixture
def smtp() -> Iterator[SmtpStub]:
    yield from started(SmtpStub())


def world_with(tmp_path: Path, **notifications: Any) -> World:
    return make_world(tmp_path, notifications=NotificationSettings(**notifications))


@pytest.fixture
def world(tmp_path: Path, sink: HttpSink) -> Iterator[World]:
    w = world_with(tmp_path, webhook_url=sink.url)
    yield w
    close_world(w)


# --------------------------------------------------------------------------- sync level


def test_newly_held_reports_reach_the_webhook_once(world: World, sink: HttpSink) -> None:
    good = world.add_approved(1)
    held = world.add_approved(2, category="Mystery")
    seen: list[SyncResult] = []
    first = world.sync(on_run_finished=seen.append)
    assert seen == [first]  # the callback: once, with the run's result
    assert [p[0] for p in sink.posts] == ["/hooks/bridge?token=hook-token-31c9"]
    _path, headers, body = sink.posts[0]
    assert headers["Content-Type"] == "application/json"
    assert body["event"] == "reports_held"
    assert body["tenant"] == "Company"
    assert body["connection"] == "default"
    assert body["run"]["run_id"] == first.run_id
    assert body["run"]["counts"]["held"] == 1
    assert [h["report_id"] for h in body["held"]] == [held]
    problem = body["held"][0]["problems"][0]
    assert problem["code"] == "EB-CATEGORY-NO-GL-CODE"
    assert problem["fix"]
    assert good not in json.dumps(body["held"])
    assert "hook-token-31c9" not in sink.raw[0].decode()
    assert_no_secret(*sink.raw)

    # the same report held again, unchanged: not announced a second time
    world.clock.now = world.clock.now.replace(hour=12)
    second = world.sync(on_run_finished=seen.append)
    assert [o.action for o in second.outcomes] == [Action.HELD]
    assert seen == [first, second]
    assert len(sink.posts) == 1


def test_a_clean_run_sends_nothing_but_calls_back(world: World, sink: HttpSink) -> None:
    world.add_approved(1)
    seen: list[SyncResult] = []
    result = world.sync(on_run_finished=seen.append)
    assert result.posted == 1
    assert seen == [result]
    assert sink.posts == []


def test_a_dry_run_calls_back_and_sends_nothing(world: World, sink: HttpSink) -> None:
    world.add_approved(2, category="Mystery")
    seen: list[SyncResult] = []
    result = world.sync(dry_run=True, on_run_finished=seen.append)
    assert seen == [result]
    assert result.dry_run
    assert sink.posts == []


def test_a_run_that_raises_is_announced_and_the_error_propagates(
    tmp_path: Path, sink: HttpSink
) -> None:
    world = world_with(tmp_path, webhook_url=sink.url)
    try:
        world.config = attrs.evolve(
            world.config,
            acumatica=attrs.evolve(world.config.acumatica, endpoint_version="99.999.001"),
        )
        world.acu_client.close()
        from acumatica_client import AcumaticaClient, Endpoint, OAuth2

        world.acu_client = AcumaticaClient(
            base_url="https://erp.test",
            endpoint=Endpoint("Default", "99.999.001"),
            auth=OAuth2(
                base_url="https://erp.test",
                client_id="expense-bridge@Company",
                client_secret=SECRETS[1],
                username="admin",
                password=SECRETS[2],
            ),
            transport=world.acumatica.transport(),
        )
        seen: list[SyncResult] = []
        with pytest.raises((EndpointVersionError, ConfigError)) as caught:
            world.sync(on_run_finished=seen.append)
        assert seen == []  # no result, no callback: the caller gets the exception
        assert len(sink.posts) == 1
        body = sink.posts[0][2]
        assert body["event"] == "run_failed"
        assert body["run"] is None
        assert body["error"]["type"] == type(caught.value).__name__
        assert "99.999.001" in body["error"]["message"]
        assert_no_secret(*sink.raw)
    finally:
        close_world(world)


def test_a_failed_acknowledgement_is_a_failed_run(world: World, sink: HttpSink) -> None:
    world.add_approved(1)

    def fail_the_acknowledgement(step: str, rid: str) -> None:
        if step == "created":  # after the pull: the next export job is the acknowledgement
            world.expensify.inject(job_type="file", status=500, times=20)

    seen: list[SyncResult] = []
    result = world.sync(on_run_finished=seen.append, on_step=fail_the_acknowledgement)
    assert result.errors
    assert not result.ok
    assert seen == [result]
    body = sink.posts[0][2]
    assert body["event"] == "run_failed"
    assert body["run"]["errors"] == list(result.errors)
    assert_no_secret(*sink.raw)


def test_email_over_smtp_with_login_from_the_vault(
    tmp_path: Path, smtp: SmtpStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.fernet import Fernet

    from expense_bridge import CredentialVault

    monkeypatch.setenv("EXPENSE_BRIDGE_KEY", Fernet.generate_key().decode())
    vault_path = tmp_path / "vault.fernet"
    vault = CredentialVault(vault_path)
    vault.set_many({SMTP_PASSWORD: SMTP_SECRET, "expensify.partner_user_secret": PARTNER_SECRET})
    world = make_world(
        tmp_path,
        vault_path=vault_path,
        notifications=NotificationSettings(
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_from="bridge@firm.test",
            smtp_to=("ops@firm.test", "controller@firm.test"),
            smtp_starttls=False,
            smtp_username="bridge",
        ),
    )
    try:
        held = world.add_approved(3, email="ghost@firm.test")
        world.sync()
    finally:
        close_world(world)
    assert smtp.logins == [("bridge", SMTP_SECRET)]
    assert smtp.envelopes == [("<bridge@firm.test>", ["ops@firm.test", "controller@firm.test"])]
    message = smtp.messages[0]
    assert message["Subject"] == "[expense-bridge] Company: 1 report(s) newly held"
    assert message["To"] == "ops@firm.test, controller@firm.test"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"Report {held} is held:" in text
    assert "EB-SUBMITTER-NO-VENDOR" in text
    assert "Fix: " in text
    attachment = next(message.iter_attachments())
    payload = json.loads(attachment.get_content())
    assert payload["held"][0]["report_id"] == held
    assert_no_secret(*smtp.raw)


# --------------------------------------------------------------------------- channels


def _config(world_config: BridgeConfig | None = None) -> BridgeConfig:
    from .fakes import config

    return world_config or config()


def _result(**kw: Any) -> SyncResult:
    from datetime import UTC, datetime

    from expense_bridge import CallCounts

    at = datetime(2026, 11, 20, 9, tzinfo=UTC)
    base: dict[str, Any] = {
        "run_id": "run1", "started": at, "finished": at, "dry_run": False, "outcomes": (),
        "calls": CallCounts(), "pulled": 0, "bookmark_before": None, "bookmark_after": None,
    }  # fmt: skip
    base.update(kw)
    return SyncResult(**base)


def test_webhook_over_a_mock_transport_and_its_failures(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[httpx.Request] = []
    answers = iter([httpx.Response(200), httpx.Response(503)])

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(answers)

    url = "https://hooks.example/T000/B000/slack-like-token-6b2d"
    notifier = Notifier(
        NotificationSettings(webhook_url=url), webhook_transport=httpx.MockTransport(handler)
    )
    payload = notifier.payload(_config(), result=_result(errors=("acknowledgement failed",)))
    assert notifier.send(payload)[0].delivered
    assert seen[0].method == "POST"
    assert str(seen[0].url) == url
    assert json.loads(seen[0].content)["event"] == "run_failed"
    with caplog.at_level(logging.DEBUG, logger="expense_bridge"):
        failed = notifier.send(payload)
    assert [(d.channel, d.delivered, d.detail) for d in failed] == [("webhook", False, "HTTP 503")]
    assert "slack-like-token-6b2d" not in caplog.text
    assert "hooks.example" not in caplog.text
    assert "HTTP 503" in caplog.text
    assert "slack-like-token-6b2d" not in repr(notifier)


def test_unreachable_webhook_is_a_failed_delivery_not_an_exception() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    notifier = Notifier(
        NotificationSettings(webhook_url="https://nowhere.test/h"),
        webhook_transport=httpx.MockTransport(handler),
    )
    (delivery,) = notifier.send(notifier.payload(_config(), result=_result()))
    assert (delivery.delivered, delivery.detail) == (False, "ConnectError")


def test_smtp_without_starttls_support_and_refused_recipients(smtp: SmtpStub) -> None:
    settings = NotificationSettings(
        smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_to=("ops@firm.test",)
    )
    (tls,) = Notifier(settings).send(notification_payload(_config(), result=_result()))
    assert (tls.delivered, tls.detail) == (False, "SMTPNotSupportedError")  # no STARTTLS offered
    assert smtp.messages == []

    smtp.refuse = {"gone@firm.test"}
    mixed = attrs.evolve(settings, smtp_starttls=False, smtp_to=("ops@firm.test", "gone@firm.test"))
    (partial,) = Notifier(mixed).send(notification_payload(_config(), result=_result()))
    assert (partial.delivered, partial.detail) == (False, "1 recipient(s) refused")
    assert smtp.envelopes[-1][1] == ["ops@firm.test"]


def test_unreachable_smtp_server_is_a_failed_delivery() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = NotificationSettings(
        smtp_host="127.0.0.1", smtp_port=port, smtp_to=("ops@firm.test",), timeout=2.0
    )
    (delivery,) = Notifier(settings).send(notification_payload(_config(), result=_result()))
    assert (delivery.delivered, delivery.detail) == (False, "ConnectionRefusedError")


def test_the_payload_scrubs_secrets_leaked_into_error_texts() -> None:
    leaky = RuntimeError(
        f"POST https://admin:{SECRETS[2]}@erp.test/identity failed: client_secret="
        f"{SECRETS[1]}&x=1; Authorization: Bearer eyJhbGciOi.J9.sig; partnerUserSecret"
        f'":"{PARTNER_SECRET}"'
    )
    cfg = attrs.evolve(
        _config(),
        acumatica=attrs.evolve(_config().acumatica, base_url="https://u:p4ss@erp.test/ERP?x=1"),
    )
    payload = notification_payload(cfg, error=leaky, secrets=[SECRETS[2]])
    text = json.dumps(payload)
    assert_no_secret(text)
    assert "eyJhbGciOi" not in text
    assert "p4ss" not in text
    assert payload["acumatica_url"] == "https://erp.test/ERP"
    assert payload["error"]["type"] == "RuntimeError"
    assert "erp.test/identity failed" in payload["error"]["message"]


@given(
    secret=st.text(
        alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=4, max_size=30
    ),
    before=st.text(max_size=20),
    after=st.text(max_size=20),
)
def test_scrub_removes_any_given_secret(secret: str, before: str, after: str) -> None:
    assert secret not in scrub(before + secret + after, [secret])


def test_newly_held_without_a_store_counts_every_held_report() -> None:
    from expense_bridge import ErrorCode, Problem, ReportOutcome

    problem = Problem(code=ErrorCode.TAG_MISSING, field="f", message="m", fix="x")
    result = _result(
        outcomes=(
            ReportOutcome(report_id="A", action=Action.HELD, status=None, problems=(problem,)),
            ReportOutcome(report_id="B", action=Action.POSTED, status=None),
        )
    )
    assert newly_held(result, None, "default") == ["A"]


def test_the_callback_error_propagates_after_the_channels(sink: HttpSink) -> None:
    cfg = attrs.evolve(_config(), notifications=NotificationSettings(webhook_url=sink.url))
    failing = _result(errors=("acknowledgement failed: APIConnectionError",))

    def boom(result: SyncResult) -> None:
        raise ValueError("the embedding app's bug")

    with pytest.raises(ValueError, match="embedding"):
        run_with_notifications(cfg, lambda: failing, store=None, dry_run=False,
                               on_run_finished=boom)  # fmt: skip
    assert [p[2]["event"] for p in sink.posts] == ["run_failed"]


def test_configuration_names_and_checks() -> None:
    from expense_bridge import ConfigError

    base: dict[str, Any] = {
        "policies": ["P"],
        "acumatica": {"base_url": "https://x.test", "endpoint_version": "24.200.001",
                      "username": "u", "client_id": "a@b"},
        "expensify": {"partner_user_id": "p"},
    }  # fmt: skip
    cfg = BridgeConfig.from_mapping(
        {
            **base,
            "notifications": {
                "webhook_url": "https://h.test/x",
                "smtp_host": "mail.test",
                "smtp_port": 25,
                "smtp_to": ["ops@x.test"],
                "smtp_from": "b@x.test",
                "smtp_starttls": False,
                "smtp_username": "bridge",
            },
        }
    )
    assert cfg.notifications == NotificationSettings(
        webhook_url="https://h.test/x", smtp_host="mail.test", smtp_port=25,
        smtp_to=("ops@x.test",), smtp_from="b@x.test", smtp_starttls=False,
        smtp_username="bridge",
    )  # fmt: skip
    assert BridgeConfig.from_mapping(cfg.to_mapping()) == cfg
    assert not BridgeConfig.from_mapping(base).notifications.enabled
    with pytest.raises(ConfigError) as caught:
        BridgeConfig.from_mapping(
            {**base, "notifications": {"webhook_url": "ftp://h", "smtp_host": "mail.test"}}
        )
    fields = {p.field for p in caught.value.problems}
    assert fields == {"notifications.webhook_url", "notifications.smtp_to"}
    env = BridgeConfig.from_mapping(
        __import__("expense_bridge._config", fromlist=["apply_env"]).apply_env(
            base, {"EXPENSE_BRIDGE_NOTIFICATIONS__SMTP_TO": "a@x.test,b@x.test"}, []
        )
    )
    assert env.notifications.smtp_to == ("a@x.test", "b@x.test")


def test_an_unexpected_channel_failure_is_a_failed_delivery() -> None:
    def broken(host: str, port: int, timeout: float) -> Any:
        raise RuntimeError("bug in a custom SMTP factory")

    notifier = Notifier(
        NotificationSettings(smtp_host="mail.test", smtp_to=("ops@firm.test",)),
        smtp_factory=broken,
    )
    (delivery,) = notifier.send(notification_payload(_config(), result=_result()))
    assert (delivery.channel, delivery.delivered, delivery.detail) == (
        "email", False, "RuntimeError"
    )  # fmt: skip
