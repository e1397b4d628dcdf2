"""Helpers for the Asterisk configuration tests: pyst2's config parser made safe, and a render fixture.

pyst2 0.5.1's ``asterisk.config.Config`` is the Asterisk-format parser the issue asks for, but
on Python 3.11 under ``filterwarnings=error`` it needs three work-arounds, all here:

* ``Config.load`` opens the file without closing it (and in the locale's encoding): the leaked
  file object raises ``ResourceWarning`` when collected, which pytest turns into a failure.
  :class:`TextConfig` feeds it lines read with UTF-8 instead.
* Section headers with templates, ``[op101](cc-phone-endpoint)`` and ``[cc-phone-aor](!)``, are
  a ``ParseError`` ("Missing '[' or ']'"); pjsip.conf depends on them. The suffix is taken off
  before pyst2 sees the line and kept in :attr:`Section.templates`.
* Values keep the blank after ``=`` (``secret = x`` gives ``" x"``); :class:`Section` strips them.

pyst2 also cuts every line at the first ``;``, escaped or not; the rendered files never put a
``;`` inside a value (the renderer refuses secrets with one), so that quirk needs no work-around.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path

import asterisk.config

from callcenter.asterisk_conf_cli import add_asterisk_conf_parser, asterisk_conf_command
from callcenter.config import AgiSettings, AmiSettings, PathSettings, Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
BACKEND = "10.20.0.5"
AMI_HOST = "10.20.0.2"
TRUNK = "203.0.113.7"

_TEMPLATED = re.compile(r"^\s*\[([^\]]+)\]\(([^)]*)\)\s*(;.*)?$")


@dataclass
class Section:
    """One ``[name]`` of a config file: its templates and its ``key = value`` items in order."""

    name: str
    templates: tuple[str, ...] = ()
    is_template: bool = False
    items: list[tuple[str, str]] = field(default_factory=list)

    def all(self, key: str) -> list[str]:
        """Every value of ``key`` in file order."""
        return [value for name, value in self.items if name == key]

    def get(self, key: str) -> str | None:
        """The last value of ``key`` (Asterisk's rule for single-valued options), None if absent."""
        values = self.all(key)
        return values[-1] if values else None


class TextConfig(asterisk.config.Config):  # type: ignore[misc]  # pyst2 has no type information
    """pyst2's parser over lines we read ourselves (its own ``load`` leaks the open file)."""

    def __init__(self, filename: str, lines: list[str]) -> None:
        self._given = lines
        super().__init__(filename)

    def load(self) -> None:
        self.raw_lines = self._given


def parse_conf(path: Path) -> list[Section]:
    """Parse an Asterisk config file with pyst2 (work-arounds above); sections in file order."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    suffixes: dict[int, tuple[str, ...]] = {}
    for number, line in enumerate(lines, 1):
        match = _TEMPLATED.match(line)
        if match:
            suffixes[number] = tuple(t.strip() for t in match.group(2).split(",") if t.strip())
            lines[number - 1] = f"[{match.group(1)}]\n"
    config = TextConfig(str(path), lines)
    sections: list[Section] = []
    for category in config.categories:
        templates = suffixes.get(category.number, ())
        sections.append(
            Section(
                name=category.name,
                templates=tuple(t for t in templates if t != "!"),
                is_template="!" in templates,
                items=[(item.name.strip(), item.value.strip()) for item in category.items],
            )
        )
    return sections


def effective(sections: list[Section], section: Section) -> dict[str, list[str]]:
    """The options of ``section`` with its templates' options underneath (Asterisk's inheritance)."""
    merged: dict[str, list[str]] = {}
    for template in section.templates:
        base = next(s for s in sections if s.name == template and s.is_template)
        for key, values in effective(sections, base).items():
            merged[key] = list(values)
    own: dict[str, list[str]] = {}
    for key, value in section.items:
        own.setdefault(key, []).append(value)
    merged.update(own)
    return merged


def make_settings(tmp_path: Path) -> Settings:
    """Settings of a two-host deployment: Asterisk's AMI on a private address, the backend beside it."""
    return Settings(
        ami=AmiSettings(host=AMI_HOST, port=5038, username="callcenter", secret="Ami-Secret-1"),
        agi=AgiSettings(host=BACKEND, port=4573),
        paths=PathSettings(queue_dir=REPO_ROOT / "queue", spool_dir=tmp_path / "spool"),
    )


def render_args(out: Path, passwords: Path, *extra: str) -> argparse.Namespace:
    """The parsed command line of ``callcenter asterisk-conf render`` with test defaults."""
    parser = argparse.ArgumentParser()
    add_asterisk_conf_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(
        [
            "asterisk-conf",
            "render",
            "--out",
            str(out),
            "--templates",
            str(REPO_ROOT / "asterisk-conf"),
            "--phone-passwords",
            str(passwords),
            "--trunk-host",
            TRUNK,
            "--supervisor-phone",
            "sup1",
            *extra,
        ]
    )


def render(tmp_path: Path, *extra: str, settings: Settings | None = None) -> int:
    """Run the render command into ``tmp_path/out``; its exit status."""
    args = render_args(tmp_path / "out", tmp_path / "phone-passwords", *extra)
    return asterisk_conf_command(settings or make_settings(tmp_path), args)
