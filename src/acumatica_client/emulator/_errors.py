"""Error responses in the shapes Acumatica uses (see acumatica-api.md §4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from ._wire import dumps

__all__ = ["EmulatorError", "error_object", "html_404", "iis_error", "json_response"]


def json_response(
    status: int, body: Any, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """A JSON response (Decimal-safe)."""
    all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    return httpx.Response(status, content=dumps(body), headers=all_headers)


def error_object(
    message: str,
    exception_message: str | None = None,
    *,
    exception_type: str = "PX.Data.PXException",
) -> dict[str, Any]:
    """The standard error object: ``message``/``exceptionMessage``/``exceptionType``…"""
    return {
        "message": message,
        "exceptionMessage": exception_message or message,
        "exceptionType": exception_type,
        "stackTrace": None,
        "innerException": None,
    }


def html_404(text: str) -> httpx.Response:
    """An unknown endpoint name/version: an HTML error page, not JSON."""
    page = (
        f"<html><head><title>Not Found</title></head><body><h1>404</h1><p>{text}</p></body></html>"
    )
    return httpx.Response(404, content=page.encode(), headers={"Content-Type": "text/html"})


def iis_error(
    status: int, substatus: str, reason: str, *, title: str = "Not Found"
) -> httpx.Response:
    """An IIS detailed error page (``HTTP Error 404.15 - Not Found``…), HTML."""
    page = (
        "<!DOCTYPE html><html><head><title>IIS Detailed Error - "
        f'{substatus} - {title}</title></head><body><div id="content">'
        f"<h3>HTTP Error {substatus} - {title}</h3><h4>{reason}</h4></div></body></html>"
    )
    return httpx.Response(
        status, content=page.encode(), headers={"Content-Type": "text/html; charset=utf-8"}
    )


class EmulatorError(Exception):
    """Raised inside handlers; becomes an HTTP response."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body!r}"[:200])
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def response(self) -> httpx.Response:
        if isinstance(self.body, httpx.Response):
            return self.body
        return json_response(self.status, self.body, self.headers)

    @classmethod
    def invalid(cls, problems: Mapping[str, list[str]]) -> EmulatorError:
        """400 ``The request is invalid.`` with ``modelState`` (malformed body)."""
        return cls(400, {"message": "The request is invalid.", "modelState": dict(problems)})
