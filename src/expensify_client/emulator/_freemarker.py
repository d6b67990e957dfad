"""Render any export template through the real FreeMarker engine (a JVM and ``freemarker.jar``).

The Integration Server renders the caller's template with FreeMarker. The emulator does the
same when a JVM and FreeMarker are installed (Debian: ``default-jdk-headless`` and
``libfreemarker-java``, which provides ``/usr/share/java/freemarker.jar``):
``FreeMarkerRender.java`` (shipped beside this module) is compiled with ``javac`` on first use
into a cache directory (or, without ``javac``, run with ``java``'s single-file source mode)
and fed the data model as JSON. Nothing is started or compiled before the first render.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

__all__ = [
    "DEFAULT_FREEMARKER_JAR",
    "FreeMarkerError",
    "FreeMarkerRenderer",
    "FreeMarkerUnavailableError",
    "model_json",
]

#: Where Debian's ``libfreemarker-java`` installs the engine.
DEFAULT_FREEMARKER_JAR: Final = Path("/usr/share/java/freemarker.jar")
_SOURCE: Final = Path(__file__).with_name("FreeMarkerRender.java")
_CLASS: Final = "FreeMarkerRender"
_WRAPPERS: Final = frozenset({"default", "beans"})
_TEMPLATE_ERROR_EXIT: Final = 3


class FreeMarkerUnavailableError(RuntimeError):
    """No JVM or no ``freemarker.jar``: third-party templates cannot be rendered."""


class FreeMarkerError(ValueError):
    """FreeMarker refused the template or failed while rendering it (its message)."""


def model_json(value: Any) -> str:
    """JSON text of a data model: ``Decimal`` as its exact literal (a BigDecimal in Java).

    ``float`` is refused (amounts are integer cents, rates are ``Decimal``).
    """
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else json.dumps(str(value))
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k))}:{model_json(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(model_json(v) for v in value) + "]"
    raise TypeError(f"cannot hand {type(value).__name__} to FreeMarker")


class FreeMarkerRenderer:
    """Renders templates with the real engine; see the module docstring.

    ``jar``: the FreeMarker jar. ``cache_dir``: where the compiled renderer is kept (default:
    a directory under the system temporary directory, keyed by the source and jar). ``java``
    and ``javac``: executables (default: found on ``PATH``). ``object_wrapper``:
    ``"default"`` (``DefaultObjectWrapper``) or ``"beans"`` (``BeansWrapper``).
    ``classic_compatible``: FreeMarker's ``classic_compatible`` setting (a missing value
    prints as empty instead of failing the render). ``number_format``: FreeMarker's
    ``number_format`` (e.g. ``"computer"``: no digit grouping; None: FreeMarker's default,
    which groups, ``1,234``). ``timeout``: seconds one render may take.
    """

    def __init__(
        self,
        *,
        jar: Path = DEFAULT_FREEMARKER_JAR,
        cache_dir: Path | None = None,
        java: str | None = None,
        javac: str | None = None,
        object_wrapper: str = "default",
        classic_compatible: bool = False,
        number_format: str | None = None,
        timeout: float = 120.0,
    ) -> None:
        if object_wrapper not in _WRAPPERS:
            raise ValueError(f"object_wrapper must be one of {sorted(_WRAPPERS)}")
        self.jar = Path(jar)
        self.cache_dir = cache_dir
        self.java = java
        self.javac = javac
        self.object_wrapper = object_wrapper
        self.classic_compatible = classic_compatible
        self.number_format = number_format
        self.timeout = timeout
        self._lock = threading.Lock()
        self._classes: Path | None = None

    def __repr__(self) -> str:
        return (
            f"FreeMarkerRenderer(jar={str(self.jar)!r}, object_wrapper={self.object_wrapper!r}, "
            f"classic_compatible={self.classic_compatible!r}, "
            f"number_format={self.number_format!r})"
        )

    def _java(self) -> str | None:
        return shutil.which(self.java) if self.java is not None else shutil.which("java")

    def available(self) -> bool:
        """True when a ``java`` executable and the jar are present."""
        return self._java() is not None and self.jar.is_file()

    def unavailable_reason(self) -> str | None:
        """Why rendering is impossible here, or ``None``."""
        if self._java() is None:
            return "no Java runtime ('java') on PATH (e.g. apt install default-jdk-headless)"
        if not self.jar.is_file():
            return (
                f"FreeMarker is not installed at {self.jar} (e.g. apt install libfreemarker-java)"
            )
        return None

    def _compiled(self) -> Path | None:
        """The directory holding ``FreeMarkerRender.class``; None for source mode."""
        with self._lock:
            if self._classes is not None:
                return self._classes
            javac = self.javac or shutil.which("javac")
            if javac is None:
                return None
            source = _SOURCE.read_bytes()
            digest = hashlib.sha256(source + str(self.jar.resolve()).encode()).hexdigest()[:16]
            root = self.cache_dir or Path(tempfile.gettempdir()) / "expensify-emulator-freemarker"
            target = root / digest
            if not (target / f"{_CLASS}.class").is_file():
                root.mkdir(parents=True, exist_ok=True)
                work = Path(tempfile.mkdtemp(prefix="compile-", dir=root))
                done = subprocess.run(
                    [
                        javac,
                        "-encoding",
                        "UTF-8",
                        "-cp",
                        str(self.jar),
                        "-d",
                        str(work),
                        str(_SOURCE),
                    ],
                    capture_output=True,
                    check=False,
                    timeout=self.timeout,
                )
                if done.returncode != 0:
                    shutil.rmtree(work, ignore_errors=True)
                    raise FreeMarkerUnavailableError(
                        "could not compile the FreeMarker renderer: "
                        + done.stderr.decode("utf-8", "replace").strip()[:500]
                    )
                try:
                    os.replace(work, target)
                except OSError:  # another process won the race: use its copy
                    shutil.rmtree(work, ignore_errors=True)
            self._classes = target
            return target

    def render(self, template: str, model: Mapping[str, Any]) -> str:
        """Render ``template`` against ``model``; the output text (UTF-8 decoded).

        Raises :class:`FreeMarkerUnavailableError` without a JVM or jar, and
        :class:`FreeMarkerError` when FreeMarker rejects the template or the data.
        """
        reason = self.unavailable_reason()
        java = self._java()
        if reason is not None or java is None:
            raise FreeMarkerUnavailableError(reason or "no Java runtime")
        classes = self._compiled()
        with tempfile.TemporaryDirectory(prefix="expensify-render-") as tmp:
            template_path = Path(tmp) / "template.ftl"
            template_path.write_bytes(template.encode("utf-8"))
            model_path = Path(tmp) / "model.json"
            model_path.write_text(model_json(model), encoding="utf-8")
            mode = "classic" if self.classic_compatible else "strict"
            arguments = [
                str(template_path),
                str(model_path),
                self.object_wrapper,
                mode,
                self.number_format or "",
            ]
            if classes is not None:
                command = [
                    java,
                    "-Dfile.encoding=UTF-8",
                    "-cp",
                    f"{self.jar}{os.pathsep}{classes}",
                    _CLASS,
                    *arguments,
                ]
            else:
                command = [java, "-Dfile.encoding=UTF-8", "-cp", str(self.jar), str(_SOURCE)]
                command += arguments
            done = subprocess.run(command, capture_output=True, check=False, timeout=self.timeout)
        if done.returncode == _TEMPLATE_ERROR_EXIT:
            raise FreeMarkerError(done.stderr.decode("utf-8", "replace").strip())
        if done.returncode != 0:
            raise FreeMarkerUnavailableError(
                "the FreeMarker renderer failed: "
                + done.stderr.decode("utf-8", "replace").strip()[:500]
            )
        return done.stdout.decode("utf-8")
