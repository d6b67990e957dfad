"""Secrets handed over in code, without a vault file (embedding, containers, tests).

:class:`Secrets` holds the three values the bridge needs and answers the same
``get(name)`` as :class:`~expense_bridge.CredentialVault`, so both can be passed to
:func:`~expense_bridge.open_clients`::

    from expense_bridge import BridgeConfig, Secrets, open_clients, sync

    secrets = Secrets(
        acumatica_password=os.environ["ACU_PASSWORD"],
        acumatica_client_secret=os.environ["ACU_CLIENT_SECRET"],  # OAuth only
        expensify_partner_user_secret=os.environ["EXPENSIFY_SECRET"],
    )
    with open_clients(config, secrets=secrets) as (acumatica, expensify):
        result = sync(config, acumatica=acumatica, expensify=expensify)

The names the vault stores them under are public constants too:
:data:`ACUMATICA_PASSWORD`, :data:`ACUMATICA_CLIENT_SECRET`,
:data:`EXPENSIFY_PARTNER_SECRET`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import attrs

from ._vault import (
    ACUMATICA_CLIENT_SECRET,
    ACUMATICA_PASSWORD,
    EXPENSIFY_PARTNER_SECRET,
    KNOWN_SECRETS,
    Secret,
    VaultError,
)

__all__ = [
    "ACUMATICA_CLIENT_SECRET",
    "ACUMATICA_PASSWORD",
    "EXPENSIFY_PARTNER_SECRET",
    "SecretSource",
    "Secrets",
]


@runtime_checkable
class SecretSource(Protocol):
    """Anything that hands out secrets by name: a :class:`Secrets` or a vault."""

    def get(self, name: str) -> Secret:
        """The secret stored under ``name`` (one of the vault names)."""
        ...


def _secret(value: Secret | str) -> Secret:
    return value if isinstance(value, Secret) else Secret(value)


def _optional_secret(value: Secret | str | None) -> Secret | None:
    return None if value is None else _secret(value)


def _non_empty(_instance: object, attribute: attrs.Attribute[Secret], value: Secret) -> None:
    if not value.reveal():
        raise ValueError(f"Secrets.{attribute.name} is empty")


@attrs.frozen(kw_only=True, repr=False)
class Secrets:
    """The bridge's secrets in memory. Values are :class:`Secret` (``str`` is wrapped).

    ``acumatica_client_secret`` is needed only with ``acumatica.auth = "oauth"``. The
    ``repr`` shows which secrets are present, never their values.
    """

    acumatica_password: Secret = attrs.field(converter=_secret, validator=_non_empty)
    expensify_partner_user_secret: Secret = attrs.field(converter=_secret, validator=_non_empty)
    acumatica_client_secret: Secret | None = attrs.field(default=None, converter=_optional_secret)

    @classmethod
    def from_mapping(cls, values: Mapping[str, str | Secret]) -> Secrets:
        """Build from vault names (``{"acumatica.password": …, …}``)."""
        unknown = set(values) - set(KNOWN_SECRETS)
        if unknown:
            raise ValueError(
                f"unknown secret name(s) {', '.join(sorted(unknown))}; "
                f"expected {', '.join(KNOWN_SECRETS)}"
            )
        missing = [n for n in (ACUMATICA_PASSWORD, EXPENSIFY_PARTNER_SECRET) if n not in values]
        if missing:
            raise ValueError(f"missing secret(s): {', '.join(missing)}")
        return cls(
            acumatica_password=values[ACUMATICA_PASSWORD],
            expensify_partner_user_secret=values[EXPENSIFY_PARTNER_SECRET],
            acumatica_client_secret=values.get(ACUMATICA_CLIENT_SECRET),
        )

    def get(self, name: str) -> Secret:
        """The secret stored under the vault name ``name``.

        Raises :class:`~expense_bridge._vault.VaultError` (a configuration problem, exit
        code 2 in the CLI) naming the missing secret.
        """
        found: dict[str, Secret | None] = {
            ACUMATICA_PASSWORD: self.acumatica_password,
            ACUMATICA_CLIENT_SECRET: self.acumatica_client_secret,
            EXPENSIFY_PARTNER_SECRET: self.expensify_partner_user_secret,
        }
        if name not in found:
            raise VaultError(f"{name!r} is not a secret the bridge uses")
        value = found[name]
        if value is None:
            raise VaultError(
                f"{name} ({KNOWN_SECRETS[name]}) was not given: pass "
                "Secrets(acumatica_client_secret=...) for OAuth sign-in"
            )
        return value

    def __repr__(self) -> str:
        present = "***" if self.acumatica_client_secret is not None else "None"
        return (
            "Secrets(acumatica_password=***, expensify_partner_user_secret=***, "
            f"acumatica_client_secret={present})"
        )
