"""Endpoint pinning and the URL builders (the only place Acumatica URLs are made)."""

from __future__ import annotations

from urllib.parse import unquote

import attrs
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from acumatica_client import (
    DEFAULT_ENDPOINT,
    Endpoint,
    discovery_url,
    entity_url,
    location_url,
    login_url,
    logout_url,
    token_url,
)

BASE = "https://erp.example.test/AcumaticaDB"
V24 = Endpoint("Default", "24.200.001")


class TestEndpoint:
    def test_valid_endpoint_is_a_frozen_value(self) -> None:
        """An endpoint is a hashable, immutable value that prints as name/version."""
        endpoint = Endpoint("Default", "23.200.001")
        assert str(endpoint) == "Default/23.200.001"
        assert endpoint == Endpoint("Default", "23.200.001")
        assert len({endpoint, Endpoint("Default", "23.200.001")}) == 1
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            endpoint.version = "24.200.001"  # type: ignore[misc]

    @pytest.mark.parametrize(
        "version", ["24.200", "v24.200.001", "24.200.001 ", "", "24.200.001/x", "latest", "24..1"]
    )
    def test_malformed_version_is_refused(self, version: str) -> None:
        """Only a full dotted version such as 24.200.001 can be pinned (never 'latest')."""
        with pytest.raises(ValueError, match=r"24\.200\.001"):
            Endpoint("Default", version)

    @pytest.mark.parametrize("name", ["", "Default/..", "1Default", "De fault", "a?b"])
    def test_malformed_name_is_refused(self, name: str) -> None:
        """The endpoint name must be a plain identifier (it becomes a URL segment)."""
        with pytest.raises(ValueError, match=r"Endpoint\.name"):
            Endpoint(name, "24.200.001")

    def test_default_endpoint_is_pinned_to_the_models_version(self) -> None:
        """The documented default is an explicit version, not a floating alias."""
        assert Endpoint("Default", "24.200.001") == DEFAULT_ENDPOINT


class TestEntityUrl:
    def test_list_url(self) -> None:
        """{base}/entity/{name}/{version}/{Entity}, keeping the virtual directory."""
        url = entity_url(BASE, V24, "Bill")
        assert str(url) == f"{BASE}/entity/Default/24.200.001/Bill"

    def test_key_segments_in_order(self) -> None:
        """Key values follow the entity name in key order, one segment each."""
        url = entity_url(BASE + "/", Endpoint("Default", "23.200.001"), "Bill", "Bill", "000123")
        assert str(url) == f"{BASE}/entity/Default/23.200.001/Bill/Bill/000123"

    @pytest.mark.parametrize(
        ("key", "encoded"),
        [
            ("A/B", "A%2FB"),
            ("a?b", "a%3Fb"),
            ("x#1", "x%231"),
            ("50%", "50%25"),
            ("two words", "two%20words"),
            ("..", "%2E%2E"),
            (".", "%2E"),
        ],
    )
    def test_key_segments_are_percent_encoded(self, key: str, encoded: str) -> None:
        """A key holding '/', '?', '#', '%' or a space stays one segment of the path."""
        url = entity_url(BASE, V24, "Vendor", key)
        assert url.raw_path.decode().endswith(f"/Vendor/{encoded}")
        assert url.query == b""
        assert url.fragment == ""

    @given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=3))
    def test_any_keys_round_trip_as_segments(self, keys: list[str]) -> None:
        """Whatever the key text, the URL has one segment per key that decodes back to it."""
        url = entity_url(BASE, V24, "ProjectTask", *keys)
        raw = url.raw_path.decode()
        assert raw.startswith("/AcumaticaDB/entity/Default/24.200.001/ProjectTask/")
        segments = raw.split("/")[6:]
        assert [unquote(s) for s in segments] == keys

    @pytest.mark.parametrize("entity", ["", "Bill/Bill", "../Bill", "Bill?x=1", "1Bill"])
    def test_bad_entity_name(self, entity: str) -> None:
        """The entity name is checked, so a path cannot be smuggled in through it."""
        with pytest.raises(ValueError, match="entity"):
            entity_url(BASE, V24, entity)

    def test_empty_key_segment(self) -> None:
        """An empty key would change which resource is addressed: refused."""
        with pytest.raises(ValueError, match="empty"):
            entity_url(BASE, V24, "Bill", "Bill", "")

    @pytest.mark.parametrize("base", ["erp.example.test", "ftp://erp.example.test", ""])
    def test_base_must_be_http(self, base: str) -> None:
        """Only http(s) instance URLs are accepted."""
        with pytest.raises(ValueError, match="http"):
            entity_url(base, V24, "Bill")


class TestInstanceUrls:
    def test_instance_level_resources(self) -> None:
        """Discovery, token, login and logout hang off the instance, not the endpoint."""
        assert str(discovery_url(BASE)) == f"{BASE}/entity"
        assert str(token_url(BASE + "/")) == f"{BASE}/identity/connect/token"
        assert str(login_url(BASE)) == f"{BASE}/entity/auth/login"
        assert str(logout_url(BASE)) == f"{BASE}/entity/auth/logout"


class TestLocationUrl:
    def test_site_absolute_location_is_not_prefixed_twice(self) -> None:
        """A Location already holds the virtual directory: only scheme and host are added."""
        location = "/AcumaticaDB/entity/Default/24.200.001/Bill/ReleaseBill/status/abc?x=1"
        url = location_url(BASE, location)
        assert str(url) == f"https://erp.example.test{location}"

    def test_absolute_location_on_the_same_origin(self) -> None:
        """An absolute Location on the instance's own origin is used as is."""
        location = "https://erp.example.test/AcumaticaDB/entity/x/status/1"
        assert location_url(BASE, location) == httpx.URL(location)

    @pytest.mark.parametrize(
        "location",
        [
            "https://evil.example/steal",
            "http://erp.example.test/AcumaticaDB/x",
            "https://erp.example.test:8443/x",
            "status/1",
        ],
    )
    def test_foreign_or_relative_location_is_refused(self, location: str) -> None:
        """The poll carries credentials, so it never leaves the instance's origin."""
        with pytest.raises(ValueError, match="Location"):
            location_url(BASE, location)
