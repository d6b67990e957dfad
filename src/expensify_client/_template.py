"""The FreeMarker export template this library sends with every report export.

The template is package data (``templates/export_json.ftl``), read once at import through
:mod:`importlib.resources`, so it works from a wheel, a zip or a source checkout. It renders
``{"reports":[...]}``: every report of the export with every expense, every string through
``?json_string``, every number through ``?c``, every missing value as ``null``. Every value
is read by a fixed key: no hash is ever enumerated (so report fields, ``customField.*``, are
not exported), and the output is the same under FreeMarker's ``DefaultObjectWrapper`` and
``BeansWrapper``. :func:`expensify_client.iter_report_export` (and
:func:`~expensify_client.parse_report_export` on top of it) reads exactly that output back
into :class:`~expensify_client.Report` values.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

__all__ = ["EXPORT_TEMPLATE", "TEMPLATE_RESOURCE"]

#: Resource name of the template inside the ``expensify_client`` package.
TEMPLATE_RESOURCE: Final = "templates/export_json.ftl"


def _read_template() -> str:
    resource = resources.files(__package__ or "expensify_client").joinpath(TEMPLATE_RESOURCE)
    return resource.read_text(encoding="utf-8")


#: The FreeMarker source of the export template (the ``template`` form field of an export).
EXPORT_TEMPLATE: Final[str] = _read_template()
