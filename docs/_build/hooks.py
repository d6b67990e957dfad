"""MkDocs hooks: pages generated from the code (configuration options, error codes).

A page asks for a generated block with a marker line:

* ``<!-- generated: configuration-reference -->`` — every option of ``config.toml`` from
  ``expense_bridge._config`` (the table the validator itself uses): name, type, default,
  environment variable and explanation.
* ``<!-- generated: error-codes -->`` — every member of :class:`expense_bridge.ErrorCode`
  with what it means and how to fix it. The build fails (strict) when a code has no entry
  in :data:`ERROR_HELP`, so a new code cannot ship undocumented.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

log = logging.getLogger("mkdocs.plugins.expense_bridge")

#: What each error code means for an operator, and the fix. Keyed by the stable value.
ERROR_HELP: dict[str, tuple[str, str]] = {
    "EB-REPORT-EMPTY": (
        "The report has no expenses (or only deleted ones), so there is nothing to post.",
        "Add expenses in Expensify or reject the report; then `replay` it.",
    ),
    "EB-REPORT-ID-INVALID": (
        "The report ID cannot form a document key (empty or characters the key forbids).",
        "Check the export template was not changed; report the ID to the maintainers.",
    ),
    "EB-CATEGORY-UNKNOWN": (
        "An expense's category is not a category of the report's policy.",
        "Add the category to the policy (or recategorise the expense), then `replay`.",
    ),
    "EB-CATEGORY-NO-GL-CODE": (
        "The expense's category has no GL code, so no expense account can be chosen.",
        "Set the category's GL code in the Expensify policy to an Acumatica expense account "
        "(or run `provision`, which merges the accounts into the categories).",
    ),
    "EB-GL-ACCOUNT-INACTIVE": (
        "The GL code names an Acumatica account that does not exist or is inactive.",
        "Activate the account in Acumatica (GL202500) or change the category's GL code.",
    ),
    "EB-SUBMITTER-NO-VENDOR": (
        "The submitter has no vendor record to bill (AP bill target).",
        "Create the employee's vendor record in Acumatica with their e-mail, or post "
        'reimbursable spend as journals (`rules.reimbursable_target = "journal"`).',
    ),
    "EB-TAG-UNMAPPED": (
        "An expense carries a tag on a level that `rules.tag_map` does not map.",
        "Add the tag level to `rules.tag_map`, or remove the tag level from the policy.",
    ),
    "EB-TAG-MISSING": (
        "A tag level mapped as required is empty on an expense.",
        "Tag the expense in Expensify (make the tag required in the policy), then `replay`.",
    ),
    "EB-TAG-VALUE-UNKNOWN": (
        "A tag value has no counterpart in Acumatica (e.g. no such project or branch).",
        "Create the value in Acumatica, add it to `rules.tag_map` values, or re-tag.",
    ),
    "EB-REPORT-FIELD-UNKNOWN": (
        "A report field mapped by `rules.report_fields` holds a value Acumatica does not have "
        "(e.g. no such branch or project).",
        "Create the value in Acumatica, or correct the report field in Expensify and `replay`.",
    ),
    "EB-CURRENCY-UNSUPPORTED": (
        "The report or an expense uses a currency the ledger or the rules cannot take.",
        "Enable the currency in Acumatica (CM202000) or convert in Expensify.",
    ),
    "EB-CURRENCY-NOT-BASE": (
        "`rules.post_in = \"base\"` and the report is in another currency than "
        "`rules.base_currency`.",
        "Set the policy's output currency to the base currency in Expensify (then `replay`), "
        "or post in the report currency (`rules.post_in = \"report\"`).",
    ),
    "EB-CURRENCY-PRECISION": (
        "An amount has more decimal places than its currency allows.",
        "Correct the amount in Expensify; the export must not be edited by hand.",
    ),
    "EB-CONVERSION-MISSING": (
        "A foreign-currency expense has no converted amount in the report currency.",
        "Let Expensify convert the expense (re-save it), then `replay`.",
    ),
    "EB-DATE-MISSING": (
        "The date the posting rule needs (`rules.date_rule`) is missing on the report.",
        "Approve/reimburse the report in Expensify or change `rules.date_rule`.",
    ),
    "EB-CARD-TARGET-INCOMPLETE": (
        "Card spend cannot be posted: the card target misses its vendor or liability account.",
        "Set `rules.card_vendor` (AP bill) or `rules.card_liability_account` (journal).",
    ),
    "EB-REIMBURSABLE-TARGET-INCOMPLETE": (
        "Out-of-pocket spend cannot be posted: the target misses its account.",
        "Set `rules.employee_liability_account` for journals (or use AP bills).",
    ),
    "EB-DEFAULT-VALUE-UNKNOWN": (
        "A configured default (branch, subaccount, terms) does not exist in Acumatica.",
        "Correct `rules.default_branch`/`rules.default_subaccount`/`rules.bill_terms`.",
    ),
    "EB-RULES-INVALID": (
        "The configuration or posting rules are invalid (also used for config problems).",
        "Fix the option named in the message; `expense-bridge status` lists every problem.",
    ),
    "EB-CHANGED-AFTER-POSTING": (
        "The report was edited in Expensify after its document was posted.",
        "Compare the document with the report; correct the document in Acumatica (or "
        "reverse it and `replay`), then mark the report exported by hand.",
    ),
    "EB-LEDGER-REJECTED": (
        "Acumatica refused the document at save time (its messages are attached).",
        "Fix what the messages name (closed period, missing setup, duplicate reference…), "
        "then `replay` the report.",
    ),
    "EB-PERIOD-CLOSED": (
        "The document date falls in a closed financial period.",
        "Reopen the period (GL503000) or let the rules move the date to the next open one.",
    ),
    "EB-PERIOD-UNKNOWN": (
        "The document date is in no financial period of the ledger.",
        "Generate the financial periods for that year in Acumatica (GL201000).",
    ),
    "EB-TAX-UNMAPPED": (
        "An expense's tax code or name has no Acumatica tax category.",
        "Map the tax in the tax rules of the configuration, or remove tax from the expense.",
    ),
    "EB-DOCUMENT-MISMATCH": (
        "A document carrying the report's key exists but with other content (total, lines).",
        "Inspect the named document: reverse it if wrong, then `replay`; never edit the key.",
    ),
    "EB-TOTAL-MISMATCH": (
        "The planned lines do not add up to the report total (rounding or data problem).",
        "Check the report's expenses and conversions in Expensify, then `replay`.",
    ),
    "EB-REPORT-UNPARSED": (
        "The export's record for this report could not be read (bad value in a field).",
        "Correct the named field in Expensify; other reports are not affected.",
    ),
}


def _error_codes() -> str:
    from expense_bridge import ErrorCode

    missing = [c.value for c in ErrorCode if c.value not in ERROR_HELP]
    if missing:
        log.warning("error codes without documentation: %s", ", ".join(missing))
    rows = ["| code | name | what it means | fix |", "|---|---|---|---|"]
    for code in ErrorCode:
        meaning, fix = ERROR_HELP.get(code.value, ("(undocumented)", ""))
        rows.append(f"| `{code.value}` | `{code.name}` | {meaning} | {fix} |")
    return "\n".join(rows)


def _default(opt: Any) -> str:
    from expense_bridge._config import format_duration

    value = opt.default
    if opt.required:
        return "**required**"
    if value is None or value == () or value == {} or value == []:
        return "—"
    if isinstance(value, timedelta):
        return f"`{format_duration(value)}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple | list):
        return "`" + ", ".join(str(v) for v in value) + "`"
    return f"`{value}`"


def _configuration_reference() -> str:
    from expense_bridge._config import _OPTIONS, ENV_PREFIX

    sections: dict[str, list[Any]] = {}
    for opt in _OPTIONS:
        key = ".".join(opt.path[:-1]) if len(opt.path) > 1 else ""
        sections.setdefault(key, []).append(opt)
    out: list[str] = []
    for section, options in sections.items():
        out.append(f"### `[{section}]`" if section else "### Top level")
        out.append("")
        out.append("| option | type | default | environment variable | meaning |")
        out.append("|---|---|---|---|---|")
        for opt in options:
            env = ENV_PREFIX + "__".join(p.upper() for p in opt.path)
            kind = opt.kind + (f" ({' / '.join(opt.choices)})" if opt.choices else "")
            if opt.minimum is not None:
                kind += f", ≥ {opt.minimum}"
            doc = opt.doc.replace("|", "\\|")
            out.append(f"| `{opt.dotted}` | {kind} | {_default(opt)} | `{env}` | {doc} |")
        out.append("")
    return "\n".join(out)


_GENERATORS = {
    "<!-- generated: configuration-reference -->": _configuration_reference,
    "<!-- generated: error-codes -->": _error_codes,
}


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replace each generated-block marker with its block."""
    for marker, generate in _GENERATORS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, generate())
    return markdown
