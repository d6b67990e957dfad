"""Packaging: the licence ships, the version has one source, the metadata is honest."""

from __future__ import annotations

import importlib.metadata
import sys
import tomllib
from pathlib import Path

import pytest

import acumatica_client
import expense_bridge
import expensify_client

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]


def test_licence_file_is_the_declared_mit_licence() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert PROJECT["license"] == "MIT"
    assert text.startswith("MIT License")
    assert "Permission is hereby granted, free of charge" in text
    assert PROJECT["license-files"] == ["LICENSE"]  # hatchling puts it in the wheel
    assert "LICENSE" in PYPROJECT["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]


@pytest.mark.parametrize("package", [acumatica_client, expensify_client, expense_bridge])
def test_every_package_reports_the_distribution_version(package: object) -> None:
    installed = importlib.metadata.version("expense-bridge")
    assert package.__version__ == installed  # type: ignore[attr-defined]
    assert installed == PROJECT["version"]


def test_python_classifiers_name_only_what_runs_here_and_requires_python_agrees() -> None:
    versions = {
        c.rsplit(" :: ", 1)[1]
        for c in PROJECT["classifiers"]
        if c.startswith("Programming Language :: Python :: 3.")
    }
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert running in versions
    lowest = min(versions, key=lambda v: tuple(map(int, v.split("."))))
    assert PROJECT["requires-python"] == f">={lowest}"
    for prefix in ("Development Status", "Intended Audience", "Topic", "Operating System"):
        assert any(c.startswith(prefix) for c in PROJECT["classifiers"]), prefix


def test_no_project_url_points_at_a_home_the_project_does_not_have() -> None:
    """The project has no public repository or hosted documentation yet, so the metadata
    carries no URLs (placeholders would send users to a missing or someone else's page);
    the documentation ships in the sdist and the README says how to read it."""
    assert "urls" not in PROJECT
    assert "repo_url" not in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "docs" in PYPROJECT["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
    assert "mkdocs serve" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_operating_system_classifier_is_the_tested_one() -> None:
    systems = [c for c in PROJECT["classifiers"] if c.startswith("Operating System")]
    assert systems == ["Operating System :: POSIX :: Linux"]


def test_changelog_has_a_first_release_listing_what_libraries_replaced() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "Keep a Changelog" in text
    assert f"## [{PROJECT['version']}]" in text
    release = text.split(f"## [{PROJECT['version']}]", 1)[1].split("\n## ", 1)[0]
    assert "### Replaced" in release or "replaced" in release.lower()
    assert "click" in release
