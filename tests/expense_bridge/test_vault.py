"""The credential vault: encryption at rest, key handling, rotation, no leaks."""

from __future__ import annotations

import logging
import os
import pickle
import stat

import pytest
from cryptography.fernet import Fernet

from expense_bridge._vault import (
    ENV_KEY,
    ENV_KEY_FILE,
    EXPENSIFY_PARTNER_SECRET,
    CredentialVault,
    Secret,
    VaultError,
)

SECRET = "s3cr3t-partner-value-XYZ"


@pytest.fixture
def vault(tmp_path):
    v = CredentialVault(tmp_path / "vault.fernet", env={})
    v.create_key()
    return v


class TestSecret:
    """A Secret hides its value everywhere except reveal()."""

    def test_repr_str_format_hide_the_value(self):
        s = Secret(SECRET)
        assert repr(s) == "***"
        assert str(s) == "***"
        assert f"{s}" == "***"
        assert SECRET not in repr([s, {"k": s}])
        assert s.reveal() == SECRET

    def test_equality_without_hash_or_pickle(self):
        assert Secret("a") == Secret("a")
        assert Secret("a") != Secret("b")
        with pytest.raises(TypeError):
            hash(Secret("a"))
        with pytest.raises(TypeError):
            pickle.dumps(Secret("a"))


class TestRoundTrip:
    """Values survive a write and a fresh read, and the file holds no plaintext."""

    def test_set_get_new_instance(self, vault, tmp_path):
        vault.set(EXPENSIFY_PARTNER_SECRET, SECRET)
        again = CredentialVault(tmp_path / "vault.fernet", env={})
        assert again.get(EXPENSIFY_PARTNER_SECRET).reveal() == SECRET
        raw = (tmp_path / "vault.fernet").read_bytes()
        assert SECRET.encode() not in raw
        assert b"expensify" not in raw  # names are encrypted too
        assert stat.S_IMODE((tmp_path / "vault.fernet").stat().st_mode) == 0o600

    def test_missing_name_is_a_clear_error(self, vault):
        vault.set("a", "1")
        with pytest.raises(VaultError, match="holds no 'b'"):
            vault.get("b")

    def test_rotate_secret_requires_existing_and_replaces(self, vault):
        with pytest.raises(VaultError, match="to rotate"):
            vault.rotate(EXPENSIFY_PARTNER_SECRET, "new")
        vault.set(EXPENSIFY_PARTNER_SECRET, "old")
        vault.rotate(EXPENSIFY_PARTNER_SECRET, "new")
        assert vault.get(EXPENSIFY_PARTNER_SECRET).reveal() == "new"
        assert vault.names() == (EXPENSIFY_PARTNER_SECRET,)

    def test_empty_values_refused(self, vault):
        with pytest.raises(VaultError):
            vault.set("x", "")


class TestKeys:
    """Where the key comes from, and what happens when it is wrong or exposed."""

    def test_env_key_takes_precedence_over_file(self, tmp_path):
        key = Fernet.generate_key().decode()
        v = CredentialVault(tmp_path / "v", env={ENV_KEY: key})
        v.set("a", "1")
        assert v.key_source == "environment"
        assert not (tmp_path / "v.key").exists()
        assert CredentialVault(tmp_path / "v", key=key.encode()).get("a").reveal() == "1"

    def test_wrong_key_is_a_clear_error_without_secret(self, tmp_path):
        v = CredentialVault(tmp_path / "v", env={ENV_KEY: Fernet.generate_key().decode()})
        v.set("a", SECRET)
        other = CredentialVault(tmp_path / "v", env={ENV_KEY: Fernet.generate_key().decode()})
        with pytest.raises(VaultError, match="cannot be decrypted") as info:
            other.get("a")
        assert SECRET not in str(info.value)

    def test_malformed_key_is_a_clear_error(self, tmp_path):
        v = CredentialVault(tmp_path / "v", env={ENV_KEY: "not-a-key"})
        with pytest.raises(VaultError, match="not a Fernet key"):
            v.set("a", "1")

    @pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
    @pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o610])
    def test_key_file_readable_by_others_is_refused(self, vault, mode):
        vault.set("a", "1")
        vault.key_file.chmod(mode)
        with pytest.raises(VaultError, match="chmod 600"):
            vault.get("a")

    def test_key_file_created_owner_only(self, vault):
        assert stat.S_IMODE(vault.key_file.stat().st_mode) == 0o600

    def test_missing_key_file_says_how_to_create_it(self, tmp_path):
        v = CredentialVault(tmp_path / "v", env={})
        with pytest.raises(VaultError, match="does not exist"):
            v.get("a")

    def test_key_file_from_env(self, tmp_path):
        key_file = tmp_path / "elsewhere.key"
        v = CredentialVault(tmp_path / "v", env={ENV_KEY_FILE: str(key_file)})
        v.create_key()
        assert key_file.exists()
        v.set("a", "1")
        assert v.get("a").reveal() == "1"

    def test_rotate_key_with_file(self, vault):
        vault.set("a", "1")
        old_key = vault.key_file.read_bytes()
        old_blob = vault.path.read_bytes()
        assert vault.rotate_key() is None
        assert vault.key_file.read_bytes() != old_key
        assert len(vault.key_file.read_bytes().split()) == 1  # the old key is gone
        assert vault.path.read_bytes() != old_blob
        assert vault.get("a").reveal() == "1"
        stale = CredentialVault(vault.path, key=old_key.strip())
        with pytest.raises(VaultError, match="cannot be decrypted"):
            stale.get("a")

    def test_rotate_key_from_env_returns_the_new_key(self, tmp_path):
        old = Fernet.generate_key().decode()
        v = CredentialVault(tmp_path / "v", env={ENV_KEY: old})
        v.set("a", "1")
        new = v.rotate_key()
        assert isinstance(new, Secret)
        assert new.reveal() != old
        assert CredentialVault(tmp_path / "v", env={ENV_KEY: new.reveal()}).get("a").reveal() == "1"
        with pytest.raises(VaultError):
            CredentialVault(tmp_path / "v", env={ENV_KEY: old}).get("a")

    def test_half_rotated_key_file_still_opens(self, vault):
        """A crash after the key file lists new+old keys leaves a readable vault."""
        vault.set("a", "1")
        old = vault.key_file.read_bytes().strip()
        vault.key_file.write_bytes(Fernet.generate_key() + b"\n" + old + b"\n")
        assert vault.get("a").reveal() == "1"


def test_no_secret_in_logs_or_repr(vault, caplog):
    caplog.set_level(logging.DEBUG)
    vault.set(EXPENSIFY_PARTNER_SECRET, SECRET)
    vault.get(EXPENSIFY_PARTNER_SECRET)
    vault.rotate(EXPENSIFY_PARTNER_SECRET, SECRET + "2")
    vault.rotate_key()
    assert caplog.records  # it does log what it does...
    assert SECRET not in caplog.text  # ...but never a value
    assert SECRET not in repr(vault)
