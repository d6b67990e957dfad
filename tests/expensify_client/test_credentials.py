"""Credentials: secret never shown, read from the environment."""

from __future__ import annotations

import pickle

import pytest

from expensify_client import Credentials, InvalidRequestError


class TestCredentials:
    def test_repr_and_str_hide_secret(self):
        """repr and str show the partner user ID and mask the secret."""
        creds = Credentials(partner_user_id="aa_x", partner_user_secret="topsecret")
        assert (
            repr(creds)
            == str(creds)
            == ("Credentials(partner_user_id='aa_x', partner_user_secret='***')")
        )
        assert "topsecret" not in f"{creds!r} {creds!s} {creds}"

    def test_wire_form(self):
        """The wire object uses the API's key names."""
        creds = Credentials(partner_user_id="aa_x", partner_user_secret="s")
        assert creds.to_wire() == {"partnerUserID": "aa_x", "partnerUserSecret": "s"}

    def test_frozen_and_comparable(self):
        """Credentials are immutable values."""
        creds = Credentials(partner_user_id="aa_x", partner_user_secret="s")
        assert creds == Credentials(partner_user_id="aa_x", partner_user_secret="s")
        with pytest.raises(AttributeError):
            creds.partner_user_secret = "t"  # type: ignore[misc]
        assert pickle.loads(pickle.dumps(creds)) == creds  # noqa: S301 - our own bytes

    def test_empty_secret_rejected_without_echo(self):
        """An empty field is refused, naming the field only."""
        with pytest.raises(InvalidRequestError, match="partner_user_secret"):
            Credentials(partner_user_id="aa_x", partner_user_secret="  ")

    def test_from_env(self):
        """from_env reads the two documented variables without changing the environment."""
        env = {"EXPENSIFY_PARTNER_USER_ID": "aa_x", "EXPENSIFY_PARTNER_USER_SECRET": "s"}
        assert Credentials.from_env(env) == Credentials(
            partner_user_id="aa_x", partner_user_secret="s"
        )
        assert env == {"EXPENSIFY_PARTNER_USER_ID": "aa_x", "EXPENSIFY_PARTNER_USER_SECRET": "s"}

    def test_from_os_environ(self, monkeypatch):
        """By default from_env reads os.environ."""
        monkeypatch.setenv("EXPENSIFY_PARTNER_USER_ID", "aa_env")
        monkeypatch.setenv("EXPENSIFY_PARTNER_USER_SECRET", "s2")
        assert Credentials.from_env().partner_user_id == "aa_env"

    def test_from_env_missing(self):
        """A missing variable raises naming it."""
        with pytest.raises(InvalidRequestError, match="EXPENSIFY_PARTNER_USER_SECRET"):
            Credentials.from_env({"EXPENSIFY_PARTNER_USER_ID": "aa_x"})
