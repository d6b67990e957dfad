"""The credential vault: both systems' secrets, Fernet-encrypted at rest.

Secrets never live in :class:`~expense_bridge.BridgeConfig`. They live in one file whose
whole content is a Fernet token (so even the secret *names* are encrypted) wrapping a JSON
object ``{"version": 1, "secrets": {name: {"value": ..., "updated_at": ...}}}``.

The key comes, in this order, from the ``key`` argument, the ``EXPENSE_BRIDGE_KEY``
environment variable, or a key file (``EXPENSE_BRIDGE_KEY_FILE``, else ``<vault>.key``)
that must be readable by its owner only: a key file any group or other user may access is
refused. Several keys may be given (comma-separated in the variable, one per line in the
file); the first encrypts, all decrypt, which is how :meth:`CredentialVault.rotate_key`
stays crash-safe.

Values are returned as :class:`Secret`, whose ``repr``/``str`` are ``***``; call
:meth:`Secret.reveal` at the last moment. Nothing here logs a value, and no error message
contains one.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = [
    "ACUMATICA_CLIENT_SECRET",
    "ACUMATICA_PASSWORD",
    "ENV_KEY",
    "ENV_KEY_FILE",
    "EXPENSIFY_PARTNER_SECRET",
    "KNOWN_SECRETS",
    "CredentialVault",
    "Secret",
    "VaultError",
    "default_key_path",
]

logger = logging.getLogger(__name__)

#: Environment variable holding the Fernet key (or several, comma-separated, newest first).
ENV_KEY: Final = "EXPENSE_BRIDGE_KEY"
#: Environment variable naming the key file (default: the vault path plus ``.key``).
ENV_KEY_FILE: Final = "EXPENSE_BRIDGE_KEY_FILE"

# Names of the secrets the bridge uses (names, not secrets).
ACUMATICA_PASSWORD: Final = "acumatica.password"  # noqa: S105
ACUMATICA_CLIENT_SECRET: Final = "acumatica.client_secret"  # noqa: S105
EXPENSIFY_PARTNER_SECRET: Final = "expensify.partner_user_secret"  # noqa: S105
#: Every secret name the bridge knows, with what it is (for prompts and ``status``).
KNOWN_SECRETS: Final[Mapping[str, str]] = {
    ACUMATICA_PASSWORD: "Acumatica API user's password",
    ACUMATICA_CLIENT_SECRET: "Acumatica connected application's client secret (OAuth)",
    EXPENSIFY_PARTNER_SECRET: "Expensify partnerUserSecret",
}

_FORMAT_VERSION: Final = 1


class VaultError(Exception):
    """The vault or its key cannot be used; the message says what to do (never a secret)."""


class Secret:
    """A secret value that hides itself: ``repr`` and ``str`` are ``***``.

    Equality is constant-time; secrets are not hashable (keep them out of sets and keys).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a Secret wraps a str")
        self._value = value

    def reveal(self) -> str:
        """The plain value. Pass it straight to the API client; never log or store it."""
        return self._value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


def default_key_path(vault_path: Path) -> Path:
    """The key file used when neither a key nor ``EXPENSE_BRIDGE_KEY_FILE`` is given."""
    return vault_path.with_name(vault_path.name + ".key")


def _now() -> datetime:
    return datetime.now(UTC)


def _check_owner_only(path: Path) -> None:
    """Refuse a key file that any group or other user can read, write or traverse."""
    if os.name != "posix":  # pragma: no cover - permission bits are POSIX-only
        return
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise VaultError(
            f"the vault key file {path} does not exist; set {ENV_KEY} or run "
            "'expense-bridge credentials set' to create one"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise VaultError(
            f"the vault key file {path} is accessible by group or other users "
            f"(mode {stat.S_IMODE(mode):04o}); run 'chmod 600 {path}' and try again"
        )


def _atomic_write(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically with permission ``mode`` from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise


def _parse_keys(text: str, *, source: str) -> list[bytes]:
    keys = [part.strip().encode() for part in text.replace(",", "\n").splitlines()]
    keys = [key for key in keys if key]
    if not keys:
        raise VaultError(f"{source} holds no key")
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise VaultError(
                f"{source} is not a Fernet key (32 url-safe base64-encoded bytes); "
                "generate one with 'expense-bridge credentials rotate key'"
            ) from None
    return keys


class CredentialVault:
    """A Fernet-encrypted file of named secrets.

    Construction does no I/O; the key is resolved and the file read on first use.
    ``key``: one Fernet key (bytes) that takes precedence over the environment.
    ``env``: where ``EXPENSE_BRIDGE_KEY`` / ``EXPENSE_BRIDGE_KEY_FILE`` are looked up
    (only read). ``key_file``: the key file (default: ``EXPENSE_BRIDGE_KEY_FILE`` or
    ``<path>.key``).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        key: bytes | None = None,
        env: Mapping[str, str] = os.environ,
        key_file: Path | str | None = None,
    ) -> None:
        self.path = Path(path)
        self._key = key
        self._env = env
        if key_file is None and env.get(ENV_KEY_FILE):
            key_file = env[ENV_KEY_FILE]
        self.key_file = Path(key_file) if key_file is not None else default_key_path(self.path)

    def __repr__(self) -> str:
        return f"CredentialVault(path={str(self.path)!r})"

    # ------------------------------------------------------------------ keys

    @property
    def key_source(self) -> str:
        """Where the key comes from: ``"argument"``, ``"environment"`` or ``"file"``."""
        if self._key is not None:
            return "argument"
        if self._env.get(ENV_KEY, "").strip():
            return "environment"
        return "file"

    def _keys(self) -> list[bytes]:
        source = self.key_source
        if source == "argument":
            assert self._key is not None  # noqa: S101 - narrowed by key_source
            return _parse_keys(self._key.decode("ascii", "replace"), source="the key argument")
        if source == "environment":
            return _parse_keys(self._env[ENV_KEY], source=f"${ENV_KEY}")
        _check_owner_only(self.key_file)
        return _parse_keys(self.key_file.read_text("ascii"), source=f"key file {self.key_file}")

    def _fernet(self) -> MultiFernet:
        return MultiFernet([Fernet(key) for key in self._keys()])

    def has_key(self) -> bool:
        """Whether a key is available (argument, environment, or an existing key file)."""
        return self.key_source != "file" or self.key_file.exists()

    def create_key(self) -> None:
        """Create the key file (owner-only) when no key is configured at all.

        Does nothing when the key comes from the argument or the environment, or the key
        file already exists.
        """
        if self.has_key():
            return
        self.key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key() + b"\n")
        logger.info("vault: created key file %s", self.key_file)

    # ------------------------------------------------------------------ content

    def _load(self) -> dict[str, dict[str, str]]:
        fernet = self._fernet()
        if not self.path.exists():
            return {}
        try:
            plain = fernet.decrypt(self.path.read_bytes().strip())
        except InvalidToken:
            raise VaultError(
                f"the vault {self.path} cannot be decrypted with the configured key "
                f"(from the {self.key_source}); use the key it was written with, or "
                "re-enter the credentials with 'expense-bridge credentials set'"
            ) from None
        try:
            data = json.loads(plain)
        except ValueError:
            data = None
        secrets = data.get("secrets") if isinstance(data, dict) else None
        if data is None or data.get("version") != _FORMAT_VERSION or not isinstance(secrets, dict):
            raise VaultError(f"the vault {self.path} is not in a known format")
        return {str(k): dict(v) for k, v in secrets.items()}

    def _save(self, secrets: Mapping[str, Mapping[str, str]], fernet: MultiFernet) -> None:
        plain = json.dumps({"version": _FORMAT_VERSION, "secrets": secrets}, sort_keys=True)
        _atomic_write(self.path, fernet.encrypt(plain.encode()) + b"\n")

    def names(self) -> tuple[str, ...]:
        """The names of the stored secrets, sorted."""
        return tuple(sorted(self._load()))

    def updated_at(self, name: str) -> datetime | None:
        """When ``name`` was last set (UTC), or ``None`` when it is not stored."""
        entry = self._load().get(name)
        if entry is None:
            return None
        return datetime.fromisoformat(entry["updated_at"])

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._load()

    def get(self, name: str) -> Secret:
        """The secret called ``name``; :class:`VaultError` naming it when absent."""
        entry = self._load().get(name)
        if entry is None:
            raise VaultError(
                f"the vault {self.path} holds no {name!r}; store it with "
                f"'expense-bridge credentials set'"
            )
        return Secret(entry["value"])

    def set(self, name: str, value: str | Secret) -> None:
        """Store ``value`` under ``name`` (creating the vault; the key must exist)."""
        self.set_many({name: value})

    def set_many(self, values: Mapping[str, str | Secret]) -> None:
        """Store several secrets in one write."""
        plain: dict[str, str] = {}
        for name, value in values.items():
            text = value.reveal() if isinstance(value, Secret) else value
            if not name:
                raise VaultError("a secret name must be a non-empty string")
            if not text:
                raise VaultError(f"the value for {name!r} must be a non-empty string")
            plain[name] = text
        fernet = self._fernet()
        secrets = self._load()
        stamp = _now().isoformat()
        for name, text in plain.items():
            secrets[name] = {"value": text, "updated_at": stamp}
        self._save(secrets, fernet)
        logger.info("vault: stored %s", ", ".join(sorted(plain)))

    def rotate(self, name: str, value: str | Secret) -> None:
        """Replace an existing secret (e.g. a new Expensify partner secret)."""
        if name not in self:
            raise VaultError(
                f"the vault {self.path} holds no {name!r} to rotate; use "
                "'expense-bridge credentials set' first"
            )
        self.set(name, value)

    def delete(self, name: str) -> None:
        """Remove a secret (no error when absent)."""
        fernet = self._fernet()
        secrets = self._load()
        if secrets.pop(name, None) is not None:
            self._save(secrets, fernet)
            logger.info("vault: deleted %s", name)

    def rotate_key(self) -> Secret | None:
        """Re-encrypt the vault under a new key.

        With a key file: the file first lists the new key before the old one, then the
        vault is rewritten, then the old key is dropped; a crash at any step leaves a
        readable vault. Returns ``None``. With a key from the argument or the environment,
        the vault is rewritten and the new key is returned: put it in ``EXPENSE_BRIDGE_KEY``
        (the old key no longer opens the vault).
        """
        old_keys = self._keys()
        secrets = self._load()
        new_key = Fernet.generate_key()
        if self.key_source == "file":
            both = b"\n".join([new_key, *old_keys]) + b"\n"
            _atomic_write(self.key_file, both)
            self._save(secrets, MultiFernet([Fernet(new_key)]))
            _atomic_write(self.key_file, new_key + b"\n")
            logger.info("vault: key rotated (key file %s)", self.key_file)
            return None
        self._save(secrets, MultiFernet([Fernet(new_key)]))
        self._key = new_key  # this instance keeps working with the new key
        logger.info("vault: key rotated; the new key must replace $%s", ENV_KEY)
        return Secret(new_key.decode("ascii"))

    def items_masked(self) -> Iterable[tuple[str, datetime]]:
        """``(name, updated_at)`` for each stored secret (for ``status``); never values."""
        for name, entry in sorted(self._load().items()):
            yield name, datetime.fromisoformat(entry["updated_at"])
