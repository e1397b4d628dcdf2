"""``python -m callcenter.sim``: the compare and run subcommands."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.sim.__main__ import main
from tests.conformance.traces import TRACES_DIR, ami_received_bytes


def test_compare_subcommand_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Comparing a trace with its own bytes exits 0; with a frame dropped it exits 1 and says where."""
    trace = TRACES_DIR / "queue_answered" / "ami.jsonl"
    same = tmp_path / "same.bin"
    same.write_bytes(ami_received_bytes("queue_answered"))
    assert main(["compare", str(trace), str(same)]) == 0
    assert "same shape" in capsys.readouterr().out
    frames = ami_received_bytes("queue_answered").split(b"\r\n\r\n")
    cut = tmp_path / "cut.bin"
    cut.write_bytes(b"\r\n\r\n".join(f for f in frames if b"Event: AgentConnect" not in f))
    assert main(["compare", str(trace), str(cut)]) == 1
    assert "-AgentConnect" in capsys.readouterr().out


def test_run_subcommand_places_calls_into_the_survival_queue(capsys: pytest.CaptureFixture[str]) -> None:
    """With no backend listening, ``run`` sends its calls to the survival queue and agents answer."""

    args = "run --ami-port 0 --agi-port 1 --scale 500 --duration 900 --rate 120".split()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "simulated Asterisk: AMI on 127.0.0.1:" in out
    calls = int(out.strip().splitlines()[-1].split()[0])
    assert calls > 5 and "reached an agent" in out
