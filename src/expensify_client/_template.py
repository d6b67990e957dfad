"""The FreeMarker export template this library sends with every report export.

The template is package data (``templates/export_json.ftl``), read once at import through
:mod:`importlib.resources`, so it works from a wheel, a zip or a source checkout. It renders
``{"reports":[...]}``: every report of the export with every expense, every string through
``?json_string``, every number through ``?c``, every missing value as ``null``. Every value
is read by a fixed key: no hash is ever enumerated, and the output is the same under
FreeMarker's ``DefaultObjectWrapper`` and ``BeansWrapper``. Report fields
(``customField.<Name>``) are therefore read by names written into the template:
:func:`export_template` gives the template that also exports the named report fields as
``"reportFields":{"<key>":"<value>"|null,...}`` (:data:`EXPORT_TEMPLATE` names none and
exports ``"reportFields":{}``). :func:`expensify_client.iter_report_export` (and
:func:`~expensify_client.parse_report_export` on top of it) reads exactly that output back
into :class:`~expensify_client.Report` values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib import resources
from typing import Final

__all__ = ["EXPORT_TEMPLATE", "TEMPLATE_RESOURCE", "export_template", "report_field_key"]

#: Resource name of the template inside the ``expensify_client`` package.
TEMPLATE_RESOURCE: Final = "templates/export_json.ftl"


def _read_template() -> str:
    resource = resources.files(__package__ or "expensify_client").joinpath(TEMPLATE_RESOURCE)
    return resource.read_text(encoding="utf-8")


#: The FreeMarker source of the export template (the ``template`` form field of an export).
EXPORT_TEMPLATE: Final[str] = _read_template()


#: The line of :data:`EXPORT_TEMPLATE` that :func:`export_template` fills in.
REPORT_FIELDS_LINE: Final = '"reportFields":{},<#t>'
_NON_ALNUM: Final = re.compile(r"[^A-Za-z0-9]")


def report_field_key(name: str) -> str:
    """The data-model key of report field ``name``: every non-alphanumeric becomes ``_``.

    As the export documents ``customField.<Name_of_Report_Field>`` (so ``"Project Code"``
    is ``Project_Code``). Raises ``ValueError`` for an empty name.
    """
    key = _NON_ALNUM.sub("_", name.strip())
    if not key:
        raise ValueError("a report field name must not be empty")
    return key


def export_template(report_fields: Iterable[str] = ()) -> str:
    """:data:`EXPORT_TEMPLATE`, also exporting the report fields named (by field name).

    Each field is read as ``customField["<key>"]`` (:func:`report_field_key`) and written as
    ``"<key>": "<value>"`` (``null`` when the report has no value) inside
    ``"reportFields"``, in the order given, each key once. With no names this is
    :data:`EXPORT_TEMPLATE` itself.
    """
    keys = list(dict.fromkeys(report_field_key(name) for name in report_fields))
    if not keys:
        return EXPORT_TEMPLATE
    body = ",".join(f'"{k}":${{js(cf, "{k}")}}' for k in keys)
    return EXPORT_TEMPLATE.replace(REPORT_FIELDS_LINE, '"reportFields":{' + body + "},<#t>", 1)
