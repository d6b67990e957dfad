"""Helpers for recording and replaying your own sandbox traffic safely with vcrpy.

Install the ``testing`` extra (``pip install expense-bridge[testing]``) and use::

    import vcr
    from expense_bridge.testing import vcr_config

    recorder = vcr.VCR(**vcr_config(cassette_dir="tests/cassettes", record_mode="once"))
    with recorder.use_cassette("sync.yaml"):
        expense_bridge.sync(config)

What the configuration does:

* **Scrubs secrets before anything is written.** On the Acumatica side: the
  ``Authorization``, ``Cookie`` and ``Set-Cookie`` headers; the password, client secret
  and refresh token in OAuth token requests; access, refresh and ID tokens in token
  responses; the password in a cookie-session login body. On the Expensify side: the
  ``partnerUserID`` and ``partnerUserSecret`` inside the ``requestJobDescription`` form
  field. Every scrubbed value becomes :data:`REDACTED`.
* **Matches Expensify calls on what they ask for.** The Integration Server has one URL for
  every job, so the default URL matching would replay the wrong answer. Calls to it are
  matched on the job's ``type``, its ``inputSettings`` and, for downloads, the file name;
  other calls on method, path and query.

:func:`find_secrets` scans recorded cassette text for the values you pass; use it in a
test over your cassette folder so a leak fails the build.

vcrpy logs each recorded exchange (logger ``vcr.cassette``, at INFO) *before* its
``before_record_*`` hooks run, so a raw OAuth token answer or session cookie would reach
any handler you have at that level. :func:`make_vcr` adds :class:`VcrLogScrubber` to that
logger: the logged request and response are scrubbed as the cassette is, and response
bodies are reduced to their size.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

__all__ = [
    "MATCHER",
    "REDACTED",
    "VcrLogScrubber",
    "expensify_job_signature",
    "find_secrets",
    "make_vcr",
    "match_requests",
    "register",
    "scrub_request",
    "scrub_response",
    "vcr_config",
]

MATCHER = "expense_bridge"
"""The name :func:`vcr_config` uses for :func:`match_requests` (see :func:`register`)."""

REDACTED = "REDACTED"
"""What every scrubbed value is replaced with."""

_SECRET_HEADERS = ("authorization", "cookie", "set-cookie")
_SECRET_FORM_FIELDS = ("password", "client_secret", "refresh_token", "code")
_SECRET_JSON_FIELDS = ("password", "access_token", "refresh_token", "id_token")
_EXPENSIFY_PATH = "/Integration-Server/ExpensifyIntegrations"


def _text(body: object) -> str | None:
    if body is None:
        return None
    if isinstance(body, bytes | bytearray):
        try:
            return bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return body if isinstance(body, str) else None


def _scrub_json(text: str, keys: Iterable[str]) -> str | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    changed = False
    for key in keys:
        if key in data:
            data[key] = REDACTED
            changed = True
    return json.dumps(data, separators=(",", ":")) if changed else text


def _scrub_job(value: str) -> str:
    try:
        job = json.loads(value)
    except ValueError:
        return value
    if not isinstance(job, dict):
        return value
    credentials = job.get("credentials")
    if isinstance(credentials, dict):
        for key in ("partnerUserID", "partnerUserSecret", "feedPassword", "password"):
            if key in credentials:
                credentials[key] = REDACTED
        sftp = credentials.get("sftp")
        if isinstance(sftp, dict) and "password" in sftp:
            sftp["password"] = REDACTED
    return json.dumps(job, separators=(",", ":"), ensure_ascii=False)


def _scrub_form(text: str) -> str:
    pairs = parse_qsl(text, keep_blank_values=True)
    scrubbed: list[tuple[str, str]] = []
    for key, value in pairs:
        if key == "requestJobDescription":
            scrubbed.append((key, _scrub_job(value)))
        elif key in _SECRET_FORM_FIELDS:
            scrubbed.append((key, REDACTED))
        else:
            scrubbed.append((key, value))
    return urlencode(scrubbed)


def _scrub_headers(headers: Any) -> None:
    for name in list(headers):
        if str(name).lower() in _SECRET_HEADERS:
            headers[name] = REDACTED if isinstance(headers[name], str) else [REDACTED]


def scrub_request(request: Any) -> Any:
    """vcrpy ``before_record_request`` hook: remove credentials from a request."""
    _scrub_headers(request.headers)
    text = _text(request.body)
    if text is None or not text:
        return request
    content_type = ""
    for name, value in request.headers.items():
        if str(name).lower() == "content-type":
            content_type = value if isinstance(value, str) else ";".join(value)
    if "json" in content_type.lower() or text.lstrip().startswith("{"):
        cleaned = _scrub_json(text, _SECRET_JSON_FIELDS)
        if cleaned is not None:
            request.body = cleaned.encode("utf-8")
            return request
    if "=" in text:
        request.body = _scrub_form(text).encode("utf-8")
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """vcrpy ``before_record_response`` hook: remove tokens and cookies from a response."""
    headers = response.get("headers", {})
    for name in list(headers):
        if str(name).lower() in _SECRET_HEADERS:
            headers[name] = [REDACTED]
    body = response.get("body", {})
    text = _text(body.get("string")) if isinstance(body, dict) else None
    if text:
        cleaned = _scrub_json(text, _SECRET_JSON_FIELDS)
        if cleaned is not None and cleaned != text:
            body["string"] = cleaned.encode("utf-8")
    return response


def expensify_job_signature(body: bytes | str | None) -> tuple[str, str, str] | None:
    """What identifies an Integration Server call: job type, input settings, file name.

    Returns ``None`` when the body is not an Integration Server form.
    """
    text = _text(body)
    if not text:
        return None
    form = dict(parse_qsl(text, keep_blank_values=True))
    raw = form.get("requestJobDescription")
    if raw is None:
        return None
    try:
        job = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(job, dict):
        return None
    settings = job.get("inputSettings", {})
    return (
        str(job.get("type", "")),
        json.dumps(settings, sort_keys=True, separators=(",", ":")),
        str(job.get("fileName", "")),
    )


def match_requests(r1: Any, r2: Any) -> None:
    """vcrpy matcher: Expensify on job signature, everything else on method/path/query.

    Raises ``AssertionError`` when the two requests differ, as vcrpy expects.
    """
    path1, path2 = urlsplit(r1.uri).path, urlsplit(r2.uri).path
    if r1.method != r2.method or path1 != path2:
        raise AssertionError(f"{r1.method} {path1} != {r2.method} {path2}")
    if path1.endswith(_EXPENSIFY_PATH):
        sig1, sig2 = expensify_job_signature(r1.body), expensify_job_signature(r2.body)
        if sig1 != sig2:
            raise AssertionError(f"Expensify job {sig1} != {sig2}")
        return
    q1 = sorted(parse_qsl(urlsplit(r1.uri).query, keep_blank_values=True))
    q2 = sorted(parse_qsl(urlsplit(r2.uri).query, keep_blank_values=True))
    if q1 != q2:
        raise AssertionError(f"query {q1} != {q2}")


def vcr_config(
    *, cassette_dir: str | Path | None = None, record_mode: str = "none"
) -> dict[str, Any]:
    """Keyword arguments for ``vcr.VCR(...)`` (or pytest-recording's ``vcr_config`` fixture).

    The configuration matches on the custom matcher :data:`MATCHER`; register it on the
    ``VCR`` instance with :func:`register` (or use :func:`make_vcr`, which does both).
    ``record_mode`` defaults to ``"none"``: replay only, never touch the network.
    """
    config: dict[str, Any] = {
        "record_mode": record_mode,
        "before_record_request": scrub_request,
        "before_record_response": scrub_response,
        "match_on": (MATCHER,),
        "decode_compressed_response": True,
    }
    if cassette_dir is not None:
        config["cassette_library_dir"] = str(cassette_dir)
    return config


def register(recorder: Any) -> Any:
    """Register :func:`match_requests` as :data:`MATCHER` on a ``vcr.VCR`` instance."""
    recorder.register_matcher(MATCHER, match_requests)
    return recorder


class VcrLogScrubber(logging.Filter):
    """Scrubs the request/response vcrpy logs when it appends an exchange to a cassette.

    Headers are scrubbed as in the cassette (``Authorization``, ``Cookie``,
    ``Set-Cookie``); response bodies (which hold OAuth tokens) are replaced by their size.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple) or not args:
            return True
        record.args = tuple(_log_safe(arg) for arg in args)
        return True


def _log_safe(value: Any) -> Any:
    if isinstance(value, dict) and "body" in value:
        response = copy.deepcopy(value)
        _scrub_headers(response.get("headers", {}))
        body = response.get("body")
        raw = body.get("string") if isinstance(body, dict) else None
        size = len(raw) if isinstance(raw, bytes | str) else 0
        response["body"] = {"string": f"<{size} bytes, not logged>"}
        return response
    return value


def _install_log_scrubber() -> None:
    target = logging.getLogger("vcr.cassette")
    if not any(isinstance(f, VcrLogScrubber) for f in target.filters):
        target.addFilter(VcrLogScrubber())


def make_vcr(*, cassette_dir: str | Path | None = None, record_mode: str = "none") -> Any:
    """A ready ``vcr.VCR``: :func:`vcr_config` applied and the matcher registered.

    Also puts :class:`VcrLogScrubber` on vcrpy's ``vcr.cassette`` logger (a filter only:
    no level or handler is changed). Needs the ``testing`` extra (vcrpy); without it this
    raises :class:`ModuleNotFoundError` saying ``pip install expense-bridge[testing]``.
    """
    try:
        import vcr
    except ModuleNotFoundError as exc:
        if exc.name not in (None, "vcr") and not str(exc.name).startswith("vcr."):
            raise
        raise ModuleNotFoundError(
            "expense_bridge.testing.make_vcr needs vcrpy: pip install expense-bridge[testing]",
            name="vcr",
        ) from exc
    _install_log_scrubber()
    return register(vcr.VCR(**vcr_config(cassette_dir=cassette_dir, record_mode=record_mode)))


def find_secrets(text: str, secrets: Mapping[str, str] | Iterable[str]) -> list[str]:
    """Names (or values' positions) of the given secrets that occur in ``text``.

    Pass a mapping ``name -> value`` to get names back; empty values are ignored.
    """
    items = secrets.items() if isinstance(secrets, Mapping) else ((s, s) for s in secrets)
    return [name for name, value in items if value and value in text]
