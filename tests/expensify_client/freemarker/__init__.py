"""Run real FreeMarker (Debian's ``freemarker.jar``) from tests through ``RenderTemplate.java``.

:func:`compile_freemarker` compiles the harness with ``javac`` into a temporary directory and
returns a :class:`FreeMarker` that renders a template against many data models in ONE JVM run
(JVM start-up dominates, so tests batch their data models). The harness is compiled together
with the emulator's ``FreeMarkerRender.java`` as the installed package ships it, and reads
its data models with that file's JSON reader (one reader, not a copy); its FreeMarker
``Configuration`` is its own. When Java, javac or the jar is missing the calling test is
skipped with the reason, or fails under ``CI=true``.
"""

from __future__ import annotations

import importlib.resources
import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.reference import in_ci

FREEMARKER_JAR = Path("/usr/share/java/freemarker.jar")
HARNESS_SOURCE = Path(__file__).with_name("RenderTemplate.java")
#: The emulator's renderer, whose JSON reader the harness uses (as the package ships it).
EMULATOR_SOURCE = importlib.resources.files("expensify_client.emulator") / "FreeMarkerRender.java"


@dataclass(frozen=True)
class RenderFailure:
    """FreeMarker refused to render one data model (exception class and first line)."""

    message: str


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def dumps(value: Any) -> str:
    """JSON text of a data model; ``Decimal`` as its exact literal (a BigDecimal in Java)."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value)  # ASCII, non-BMP as surrogate-pair escapes
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError(f"cannot hand {type(value).__name__} to the Java harness")


@dataclass(frozen=True)
class FreeMarker:
    """A compiled harness; :meth:`render_many` runs one JVM for all models."""

    classes: Path
    work: Path

    def render_many(
        self, template: str, models: Sequence[Mapping[str, Any]], wrapper: str = "default"
    ) -> list[str | RenderFailure]:
        """Render ``template`` against each data model; text (UTF-8 decoded) or a failure.

        ``wrapper`` is the Configuration's object wrapper: ``"default"``
        (``DefaultObjectWrapper``) or ``"beans"`` (``BeansWrapper``).
        """
        run = Path(self.work) / f"run{len(list(self.work.iterdir()))}"
        run.mkdir()
        template_path = run / "template.ftl"
        template_path.write_bytes(template.encode("utf-8"))
        models_path = run / "models.json"
        models_path.write_text(dumps(list(models)), encoding="ascii")
        out = run / "out"
        out.mkdir()
        classpath = f"{FREEMARKER_JAR}:{self.classes}"
        command = [
            "java",
            "-Dfile.encoding=UTF-8",
            "-cp",
            classpath,
            "RenderTemplate",
            str(template_path),
            str(models_path),
            str(out),
            wrapper,
        ]
        done = subprocess.run(command, capture_output=True, check=False)
        assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
        results: list[str | RenderFailure] = []
        for i in range(len(models)):
            rendered = out / f"out-{i}.txt"
            if rendered.exists():
                results.append(rendered.read_bytes().decode("utf-8"))
            else:
                message = (out / f"err-{i}.txt").read_text(encoding="utf-8")
                results.append(RenderFailure(message))
        return results

    def render(
        self, template: str, model: Mapping[str, Any], wrapper: str = "default"
    ) -> str | RenderFailure:
        """Render one data model."""
        return self.render_many(template, [model], wrapper)[0]


def compile_freemarker(target: Path) -> FreeMarker:
    """Compile ``RenderTemplate.java`` with the emulator's ``FreeMarkerRender.java`` into
    ``target``; skip (fail under CI) without Java."""
    java, javac = shutil.which("java"), shutil.which("javac")
    if java is None or javac is None:
        _unavailable("java/javac not on PATH (apt install default-jdk-headless)")
    if not FREEMARKER_JAR.exists():
        _unavailable(f"{FREEMARKER_JAR} is absent (apt install libfreemarker-java)")
    classes = target / "classes"
    classes.mkdir(parents=True)
    with importlib.resources.as_file(EMULATOR_SOURCE) as emulator_source:
        command = [
            str(javac),
            "-encoding",
            "UTF-8",
            "-cp",
            str(FREEMARKER_JAR),
            "-d",
            str(classes),
            str(HARNESS_SOURCE),
            str(emulator_source),
        ]
        done = subprocess.run(command, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    work = target / "runs"
    work.mkdir()
    return FreeMarker(classes=classes, work=work)
