"""Architecture rules, checked by reading the source: the pure core stays pure, data folders stay data."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PURE_PACKAGES = ("ivr", "acd", "appeals", "analytics")

#: Modules the pure core must not import: I/O, event loops, drivers, metrics, the clock.
FORBIDDEN_MODULES = {
    "asyncio",
    "socket",
    "selectors",
    "ssl",
    "subprocess",
    "threading",
    "time",
    "asyncpg",
    "aiohttp",
    "panoramisk",
    "prometheus_client",
    "psycopg",
    "psycopg2",
    "urllib.request",
    "http.client",
    "callcenter.storage",
    "callcenter.telephony",
    "callcenter.web",
    "callcenter.sim",
    "callcenter.app",
}
#: Calls that read the wall clock.
CLOCK_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today")}


def pure_sources() -> list[Path]:
    return sorted(p for pkg in PURE_PACKAGES for p in (REPO_ROOT / "callcenter" / pkg).rglob("*.py"))


def violations(source: str, filename: str) -> list[str]:
    """Every forbidden import or clock read in one module's source."""
    found: list[str] = []
    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN_MODULES):
                found.append(f"{filename}:{node.lineno}: imports {name}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
            if (owner_name, node.func.attr) in CLOCK_CALLS:
                found.append(
                    f"{filename}:{node.lineno}: reads the wall clock ({owner_name}.{node.func.attr}())"
                )
    return found


@pytest.mark.parametrize("path", pure_sources(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_pure_core_module_does_no_io_and_reads_no_clock(path: Path) -> None:
    """A module of the pure core imports no I/O library and never reads the wall clock."""
    assert violations(path.read_text(encoding="utf-8"), str(path)) == []


def test_pure_core_exists() -> None:
    """The scan has something to scan (a renamed folder would otherwise pass silently)."""
    assert len(pure_sources()) >= len(PURE_PACKAGES)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import asyncio\n", "imports asyncio"),
        ("from asyncpg import Pool\n", "imports asyncpg"),
        ("import time\n", "imports time"),
        ("from callcenter.storage.db import open_pool\n", "imports callcenter.storage"),
        ("from datetime import datetime\nx = datetime.now()\n", "reads the wall clock (datetime.now())"),
        ("import datetime\nx = datetime.date.today()\n", "reads the wall clock (date.today())"),
    ],
)
def test_the_checker_catches_each_kind_of_violation(source: str, expected: str) -> None:
    """The rule is not vacuous: each forbidden pattern is reported."""
    assert any(expected in v for v in violations(source, "m.py"))


def test_checker_allows_pure_imports() -> None:
    """Plain data and math imports, and datetime arithmetic on passed-in times, are fine."""
    source = "from datetime import datetime, timedelta\nimport heapq\ndef f(now: datetime):\n    return now + timedelta(1)\n"
    assert violations(source, "m.py") == []


@pytest.mark.parametrize("folder", ["agi", "queue", "ivr_flows", "recordings", "asterisk-conf"])
def test_data_folders_are_not_packages_and_have_a_readme(folder: str) -> None:
    """The deployer's folders hold no __init__.py (a top-level `queue` would shadow the stdlib) and say what goes in them."""
    path = REPO_ROOT / folder
    assert not (path / "__init__.py").exists()
    assert (path / "README.md").is_file()


def test_import_queue_gives_the_standard_library() -> None:
    """`import queue` run from the repository root is still the standard library's module."""
    result = subprocess.run(
        [sys.executable, "-c", "import queue, sys; print(queue.__file__); queue.SimpleQueue()"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(result.stdout.strip()).parent != REPO_ROOT / "queue"
    assert result.stdout.strip().endswith("queue.py")


def test_built_wheel_ships_only_the_callcenter_package(tmp_path: Path) -> None:
    """The wheel holds one top-level package: discovery is restricted, data folders stay out."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(REPO_ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("callcenter-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        top_level = {
            name.split("/")[0] for name in archive.namelist() if not name.split("/")[0].endswith(".dist-info")
        }
        assert top_level == {"callcenter"}
        assert "callcenter/storage/migrations/0001_foundation.sql" in archive.namelist()


def test_the_package_is_a_regular_package_under_test() -> None:
    """`callcenter` imports as the real package (an editable install made by an old setuptools
    turned it into a namespace package inside pytest, losing `__version__`)."""
    import callcenter

    assert callcenter.__file__ is not None
    assert callcenter.__version__
