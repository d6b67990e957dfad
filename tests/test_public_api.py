"""The curated public API of the three packages, pinned (a change here is a decision)."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ("acumatica_client", "expensify_client", "expense_bridge")


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_unique_and_importable(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n))  # ruff RUF022
    assert len(exported) == len(set(exported))
    for symbol in exported:
        assert hasattr(module, symbol), f"{name}.{symbol} is in __all__ but missing"


def test_key_names_are_public() -> None:
    import acumatica_client
    import expense_bridge
    import expensify_client

    acumatica = {"AcumaticaClient", "Endpoint", "OAuth2", "to_wire", "from_wire", "Field",
                 "EndpointVersionError", "ValidationError", "UNSET"}  # fmt: skip
    expensify = {"ExpensifyClient", "Credentials", "cents_to_decimal", "Report", "ReportState"}
    bridge = {"sync", "post_report", "replay", "BridgeConfig", "MappingError",
              "provision_employees", "align_categories", "align_tags"}  # fmt: skip
    assert acumatica <= set(acumatica_client.__all__)
    assert expensify <= set(expensify_client.__all__)
    assert bridge <= set(expense_bridge.__all__)


@pytest.mark.parametrize("name", PACKAGES)
def test_packages_are_typed(name: str) -> None:
    from importlib.resources import files

    assert files(name).joinpath("py.typed").is_file()
