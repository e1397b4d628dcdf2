"""``callcenter flows validate [FILES]``: check IVR flow files before they go live.

Every error of every file is printed as ``file:line:column: message`` on stdout (the form
editors and CI annotate), a one-line summary on stderr; the exit status is 1 when anything is
wrong, 0 otherwise. Files are checked together (a ``goto`` may name any of them) against the
queues, skills and schedules of the ACD files in ``paths.queue_dir``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from callcenter.config import Settings
from callcenter.errors import ConfigError
from callcenter.ivr.validate import validate_files
from callcenter.services.flows import load_flow_setup

__all__ = ["validate_command"]


def _files(settings: Settings, files: list[Path]) -> tuple[list[Path], list[str]]:
    """The files to check and the problems finding them (a missing file or folder)."""
    if files:
        missing = [f"{path}: no such file" for path in files if not path.is_file()]
        return [path for path in files if path.is_file()], missing
    folder = settings.paths.flows_dir
    if not folder.is_dir():
        return [], [f"{folder}: the flows folder (paths.flows_dir) does not exist"]
    found = sorted(folder.glob("*.yaml"))
    if not found:
        return [], [f"{folder}: no *.yaml flow files in the flows folder"]
    return found, []


def validate_command(settings: Settings, files: list[Path]) -> int:
    """Validate flow files (default: every ``*.yaml`` in ``paths.flows_dir``); the exit status."""
    paths, problems = _files(settings, files)
    try:
        setup = load_flow_setup(settings.paths.queue_dir)
    except ConfigError as exc:
        print("callcenter flows validate: the queue configuration is unusable:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"callcenter flows validate: {problem}", file=sys.stderr)
    errors = validate_files(paths, setup.context)
    for error in errors:
        print(error)
    bad_files = len({error.file for error in errors})
    if errors or problems:
        print(
            f"{len(errors)} error(s) in {bad_files} of {len(paths)} flow file(s)"
            + (f"; {len(problems)} file problem(s)" if problems else ""),
            file=sys.stderr,
        )
        return 1
    print(f"{len(paths)} flow file(s) valid", file=sys.stderr)
    return 0
