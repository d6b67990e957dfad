"""Partner credentials for the Integration Server."""

from __future__ import annotations

import os
from collections.abc import Mapping

import attrs

from ._exceptions import InvalidRequestError

__all__ = ["Credentials"]

ENV_USER_ID = "EXPENSIFY_PARTNER_USER_ID"
ENV_USER_SECRET = "EXPENSIFY_PARTNER_USER_SECRET"  # noqa: S105 - a variable name, not a secret


def _non_empty(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        # Never echo the value: for the secret that would leak it.
        raise InvalidRequestError("must be a non-empty string", field=attribute.name)


@attrs.frozen(kw_only=True, repr=False)
class Credentials:
    """A ``partnerUserID`` / ``partnerUserSecret`` pair.

    The secret is excluded from ``repr``, ``str`` and equality-independent output; the
    client inserts both into the job's ``credentials`` object only when sending.
    """

    partner_user_id: str = attrs.field(validator=_non_empty)
    partner_user_secret: str = attrs.field(validator=_non_empty, repr=False)

    def __repr__(self) -> str:
        return f"Credentials(partner_user_id={self.partner_user_id!r}, partner_user_secret='***')"

    __str__ = __repr__

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credentials:
        """Read ``EXPENSIFY_PARTNER_USER_ID`` and ``EXPENSIFY_PARTNER_USER_SECRET``.

        ``environ`` defaults to :data:`os.environ`; it is only read, never modified.
        Raises :class:`InvalidRequestError` naming the missing variable.
        """
        env = os.environ if environ is None else environ
        values: dict[str, str] = {}
        for name in (ENV_USER_ID, ENV_USER_SECRET):
            value = env.get(name, "")
            if not value.strip():
                raise InvalidRequestError("environment variable is missing or empty", field=name)
            values[name] = value
        return cls(partner_user_id=values[ENV_USER_ID], partner_user_secret=values[ENV_USER_SECRET])

    def to_wire(self) -> dict[str, str]:
        """The job's ``credentials`` object (contains the secret: never log it)."""
        return {
            "partnerUserID": self.partner_user_id,
            "partnerUserSecret": self.partner_user_secret,
        }
