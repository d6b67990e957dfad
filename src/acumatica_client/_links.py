"""``_links`` of an answered record (acumatica-api.md §3.1): read-only, never sent.

Responses carry ``{"self": …, "files:put": "/<vdir>/entity/<ep>/<ver>/files/<Graph>/
<View>/<noteId>/{filename}"}`` on a top-level record and ``files:put`` on each detail
line. :class:`RecordLinks` keeps them apart from the typed model (which is the request
body's shape and never sends them); :func:`files_put_url` turns a ``files:put`` link into
the URL of one file (§1.2 "newer attachment form", §3.8).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

import attrs
import httpx

from ._endpoint import location_url

__all__ = ["RecordLinks", "files_put_url"]

_FILES_PUT: Final = "files:put"
_PLACEHOLDER: Final = "{filename}"


def _link(raw: object, rel: str) -> str | None:
    if not isinstance(raw, Mapping):
        return None
    value = raw.get(rel)
    return value if isinstance(value, str) and value.strip() else None


@attrs.frozen(kw_only=True)
class RecordLinks:
    """The ``_links`` of one record and of its detail lines, as answered.

    ``details`` maps a detail collection's wire name (``"Details"``) to each line's
    ``files:put`` link in answer order (None where a line carries none). Only the
    collections the answer expanded are present.
    """

    self_link: str | None = None
    files_put: str | None = None
    details: Mapping[str, tuple[str | None, ...]] = attrs.field(factory=dict)

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> RecordLinks:
        """The links of a record's wire JSON (absent or malformed links read as None)."""
        raw = data.get("_links")
        details: dict[str, tuple[str | None, ...]] = {}
        for name, value in data.items():
            if isinstance(value, list) and all(isinstance(row, Mapping) for row in value):
                details[str(name)] = tuple(_link(row.get("_links"), _FILES_PUT) for row in value)
        return cls(self_link=_link(raw, "self"), files_put=_link(raw, _FILES_PUT), details=details)

    def line(self, collection: str, index: int) -> str | None:
        """The ``files:put`` link of line ``index`` (0-based) of ``collection``, if any."""
        lines = self.details.get(collection, ())
        return lines[index] if 0 <= index < len(lines) else None


def files_put_url(base_url: str | httpx.URL, link: str, name: str) -> httpx.URL:
    """The URL a file ``name`` is PUT to through a ``files:put`` link.

    The link is site-relative and already holds the virtual directory, so only the
    scheme and host of ``base_url`` are used; ``{filename}`` is replaced by the
    URL-quoted name. A link without the placeholder, or pointing outside the instance,
    raises ``ValueError`` (the request carries the credentials).
    """
    if link.count(_PLACEHOLDER) != 1 or not link.endswith(_PLACEHOLDER):
        raise ValueError("a files:put link ends with the {filename} placeholder")
    if "?" in link or "#" in link:
        raise ValueError("a files:put link carries no query or fragment")
    path = link[: -len(_PLACEHOLDER)]
    url = location_url(base_url, path)
    return url.copy_with(raw_path=url.raw_path + quote(name, safe="").encode("ascii"))
