"""Typed errors of the state store: each names the database (file or redacted URL)."""

from __future__ import annotations

from typing import ClassVar

from .._errors import BridgeError

__all__ = [
    "LeaseBusyError",
    "StateCorruptError",
    "StateSchemaError",
    "StateStoreError",
    "StateUnavailableError",
]


class StateStoreError(BridgeError):
    """The state store cannot be used; ``location`` names the file or the (redacted) URL."""

    def __init__(self, location: str, message: str) -> None:
        super().__init__(message)
        self.location = location

    def __reduce__(self) -> tuple[type[StateStoreError], tuple[str, str]]:
        return (type(self), (self.location, str(self)))


class StateSchemaError(StateStoreError):
    """The database's schema version is newer than this release (or not yet migrated)."""

    aborts_sync: ClassVar[bool] = True

    def __init__(self, location: str, message: str, *, version: str | None = None) -> None:
        super().__init__(location, message)
        self.version = version

    def __reduce__(self) -> tuple[type[StateStoreError], tuple[str, str]]:
        return (type(self), (self.location, str(self)))


class StateCorruptError(StateStoreError):
    """The state file is not a database (or is damaged)."""

    aborts_sync: ClassVar[bool] = True


class StateUnavailableError(StateStoreError):
    """The database cannot be reached or written (read-only directory, connection lost).

    ``retryable`` is true for a lost connection: the next run converges.
    """

    aborts_sync: ClassVar[bool] = True

    def __init__(self, location: str, message: str, *, transient: bool = False) -> None:
        super().__init__(location, message)
        self.transient = transient

    def __reduce__(self) -> tuple[type[StateStoreError], tuple[str, str]]:
        return (type(self), (self.location, str(self)))

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        """A lost connection is worth retrying; a read-only directory is not."""
        return self.transient


class LeaseBusyError(StateStoreError):
    """Another live worker holds the lease (e.g. a sync of the same tenant is running)."""

    retryable: ClassVar[bool] = True

    def __init__(self, location: str, message: str, *, holder: str | None = None) -> None:
        super().__init__(location, message)
        self.holder = holder

    def __reduce__(self) -> tuple[type[StateStoreError], tuple[str, str]]:
        return (type(self), (self.location, str(self)))
