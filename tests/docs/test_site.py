"""The documentation site: builds with warnings as errors, renders in a real browser.

The site is built with ``mkdocs build --strict`` into a temporary directory; Debian's
headless chromium renders the home page, the quickstart and the ``expense_bridge`` API
page (``--dump-dom``) and the test checks their headings and that every internal link
points at a page (and anchor) that exists. Without chromium the browser checks skip,
except under CI, where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


class _Page(HTMLParser):
    """Headings (level, text, id), element ids and link targets of one HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[tuple[int, str, str | None]] = []
        self.ids: set[str] = set()
        self.links: list[str] = []
        self._heading: tuple[int, str | None] | None = None
        self._text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if values.get("name") and tag == "a":
            self.ids.add(str(values["name"]))
        if tag == "a" and values.get("href") is not None:
            self.links.append(str(values["href"]))
        if tag in {"h1", "h2", "h3"}:
            self._heading = (int(tag[1]), values.get("id"))
            self._text = []
        if self._heading is not None and tag == "a" and "headerlink" in (values.get("class") or ""):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._skip:
            self._skip -= 1
        if tag in {"h1", "h2", "h3"} and self._heading is not None:
            level, ident = self._heading
            self.headings.append((level, " ".join("".join(self._text).split()), ident))
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._heading is not None and not self._skip:
            self._text.append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mkdocs = Path(sys.executable).with_name("mkdocs")
    if not mkdocs.exists():
        if IN_CI:
            pytest.fail("mkdocs is not installed in the environment (the docs group)")
        pytest.skip("mkdocs is not installed (install the 'docs' dependency group)")
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    return out


@pytest.fixture(scope="module")
def browser() -> str:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing: CI must install Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    return CHROMIUM


def render(browser: str, page: Path, profile: Path) -> str:
    """The DOM of ``page`` after the browser has loaded it and run its scripts."""
    done = subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom",
         page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<html" in done.stdout, done.stderr[-2000:]
    return done.stdout


def _target(site: Path, page: Path, href: str) -> tuple[Path, str] | None:
    """The file and fragment an internal link points at (``None`` for external links)."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
        return None
    if not parts.path:
        return page, unquote(parts.fragment)
    target = (page.parent / unquote(parts.path)).resolve()
    if parts.path.endswith("/") or target.is_dir():
        target = target / "index.html"
    return target, unquote(parts.fragment)


def broken_links(site: Path, internal: list[tuple[Path, str]]) -> list[str]:
    """The internal links whose page (or anchor on that page) does not exist."""
    broken = []
    for target, fragment in internal:
        if not target.is_file():
            broken.append(str(target))
            continue
        if fragment and target.suffix == ".html":
            ids = parse(target.read_text(encoding="utf-8")).ids
            if fragment not in ids:
                broken.append(f"{target.relative_to(site)}#{fragment}")
    return broken


def test_the_link_check_finds_missing_pages_and_anchors(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a/index.html").write_text('<h2 id="here">x</h2>', encoding="utf-8")
    page = tmp_path / "index.html"
    links = ["a/", "a/#here", "a/#gone", "b/", "https://example.com/x", "#top", "mailto:x@y"]
    page.write_text('<p id="top"></p>', encoding="utf-8")
    internal = [t for t in (_target(tmp_path, page, h) for h in links) if t is not None]
    assert len(internal) == 5
    assert broken_links(tmp_path, internal) == ["a/index.html#gone",
                                                str(tmp_path / "b/index.html")]  # fmt: skip


PAGES = {
    "index.html": ("expense-bridge", ["Where to start", "Exit codes"]),
    "quickstart/index.html": ("Quickstart", ["The command line, against your systems",
                                             "The library"]),
    "reference/expense_bridge/index.html": ("expense_bridge", ["expense_bridge"]),
}  # fmt: skip


@pytest.mark.parametrize("name", list(PAGES))
def test_page_renders_with_headings_and_no_broken_internal_link(
    site: Path, browser: str, tmp_path: Path, name: str
) -> None:
    page = site / name
    dom = parse(render(browser, page, tmp_path / "profile"))
    title, sections = PAGES[name]
    h1 = [text for level, text, _ in dom.headings if level == 1]
    assert h1 == [title], dom.headings[:5]
    h2 = {text for level, text, _ in dom.headings if level == 2}
    for section in sections:
        assert section in h2, sorted(h2)
    internal = [t for t in (_target(site, page, href) for href in dom.links) if t is not None]
    assert len(internal) > 10, "few internal links: the navigation did not render"
    assert broken_links(site, internal) == []


def test_api_page_documents_the_public_functions(site: Path, browser: str, tmp_path: Path) -> None:
    dom = parse(render(browser, site / "reference/expense_bridge/index.html", tmp_path / "p"))
    documented = {ident for _, _, ident in dom.headings if ident}
    for name in ("sync", "open_clients", "Secrets", "BridgeConfig", "replay"):
        assert f"expense_bridge.{name}" in documented, name


def test_generated_pages_cover_every_error_code_and_option(site: Path) -> None:
    from expense_bridge import ErrorCode
    from expense_bridge._config import _OPTIONS

    errors = (site / "bridge/errors/index.html").read_text(encoding="utf-8")
    for code in ErrorCode:
        assert code.value in errors
    assert "(undocumented)" not in errors
    reference = (site / "bridge/configuration/index.html").read_text(encoding="utf-8")
    for option in _OPTIONS:
        assert f"<code>{option.dotted}</code>" in reference, option.dotted
