"""`callcenter flows validate`: every error as file:line:column: message, summary, exit status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from callcenter.config import PathSettings, Settings
from callcenter.flows_cli import validate_command

REPO_ROOT = Path(__file__).resolve().parents[2]
GOOD = """\
languages: [uk]
start: greet
nodes:
  greet:
    type: play
    prompt: {uk: "Вітаємо."}
    next: to_queue
  to_queue:
    type: queue
    queue: general
    fallback: bye
  bye:
    type: hangup
"""
# Two problems at once: an unknown queue (line 10) and a target that does not exist (line 7).
BAD = GOOD.replace("queue: general", "queue: nowhere").replace(
    "next: to_queue", "next: to_queue\n    oops: 1"
)


def settings(flows_dir: Path) -> Settings:
    return Settings(paths=PathSettings(flows_dir=flows_dir, queue_dir=REPO_ROOT / "queue"))


def test_valid_files_exit_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Valid files print nothing on stdout, a summary on stderr, and exit 0."""
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(GOOD, encoding="utf-8")
    assert validate_command(settings(tmp_path), []) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "2 flow file(s) valid" in err


def test_every_error_is_printed_with_its_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each error of each file is one `file:line:column: message` line; exit 1."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD, encoding="utf-8")
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    assert validate_command(settings(tmp_path), []) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{bad}:8:5: ") and "oops" in lines[0]
    assert lines[1].startswith(f"{bad}:11:12: ") and "nowhere" in lines[1]
    assert "2 error(s) in 1 of 2 flow file(s)" in err


def test_named_files_and_a_missing_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Files named on the command line are checked; a missing one is a clear error and exit 1."""
    good = tmp_path / "good.yaml"
    good.write_text(GOOD, encoding="utf-8")
    assert validate_command(settings(tmp_path / "elsewhere"), [good]) == 0
    assert validate_command(settings(tmp_path), [good, tmp_path / "gone.yaml"]) == 1
    _, err = capsys.readouterr()
    assert f"{tmp_path / 'gone.yaml'}: no such file" in err


def test_missing_flows_folder_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without files and without the flows folder the command says which folder is missing."""
    assert validate_command(settings(tmp_path / "none"), []) == 1
    assert (
        f"{tmp_path / 'none'}: the flows folder (paths.flows_dir) does not exist" in capsys.readouterr().err
    )


def test_unusable_queue_folder_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Flows cannot be checked without the queue configuration; the command says so and exits 1."""
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    broken = Settings(paths=PathSettings(flows_dir=tmp_path, queue_dir=tmp_path / "no-queue"))
    assert validate_command(broken, []) == 1
    assert "queue configuration folder does not exist" in capsys.readouterr().err


def test_shipped_flows_validate_through_the_cli(tmp_path: Path) -> None:
    """`callcenter flows validate` passes on the repository's ivr_flows/ and fails, exit 1, on a bad file."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env["CALLCENTER_CONFIG"] = "/dev/null"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "callcenter.cli", "flows", "validate", *args],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    shipped = cli()
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr
    assert shipped.stdout == ""
    broken = cli(str(bad))
    assert broken.returncode == 1
    assert broken.stdout.splitlines()[0].startswith(f"{bad}:8:5: ")
