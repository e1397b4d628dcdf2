"""callcenter.analytics stays pure: no I/O imports, no wall-clock reads."""

from __future__ import annotations

import ast
from pathlib import Path

import callcenter.analytics

BANNED_MODULES = {
    "asyncio",
    "socket",
    "selectors",
    "ssl",
    "asyncpg",
    "aiohttp",
    "panoramisk",
    "prometheus_client",
    "subprocess",
    "time",
}
BANNED_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("datetime", "today")}
PACKAGE = Path(callcenter.analytics.__file__).parent


def _violations(source: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in BANNED_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in BANNED_MODULES:
                found.append(node.module)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if (name, node.func.attr) in BANNED_CALLS:
                found.append(f"{name}.{node.func.attr}()")
    return found


def test_analytics_modules_are_pure() -> None:
    """No module in callcenter/analytics imports I/O libraries or reads the clock."""
    files = sorted(PACKAGE.glob("*.py"))
    assert len(files) >= 8
    problems = {f.name: v for f in files if (v := _violations(f.read_text(encoding="utf-8")))}
    assert problems == {}


def test_checker_catches_violations() -> None:
    """The checker itself flags a banned import and a clock read."""
    assert _violations("import asyncpg\nfrom time import monotonic\nx = datetime.now()") == [
        "asyncpg",
        "time",
        "datetime.now()",
    ]
