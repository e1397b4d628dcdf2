"""Command line for the simulated PBX: ``python -m callcenter.sim run|compare``.

``run`` starts a simulated Asterisk (AMI server plus FastAGI client pointed at the backend),
registers agent phones and places Poisson traffic, then prints a summary. ``compare`` prints the
shape differences between a recorded AMI trace (``ami.jsonl``) and a captured AMI byte stream.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from callcenter.sim.clock import SimClock
from callcenter.sim.compare import compare_streams
from callcenter.sim.load import SimulatedPbx, day_curve, run_load
from callcenter.sim.models import AgentPhone, CallerModel, Distribution
from callcenter.sim.replay import load_trace, received


def _callers(seed: int, did: str, menu_digits: str) -> Iterator[CallerModel]:
    rng = random.Random(seed)
    for _ in itertools.count():
        yield CallerModel(
            number=f"380{rng.choice(['50', '66', '67', '68', '93', '97'])}{rng.randrange(10**7):07d}",
            did=did,
            dtmf={"*": rng.choice(menu_digits)} if menu_digits else {},
            patience=Distribution(90.0, 15.0),
        )


async def _run(args: argparse.Namespace) -> int:
    phones = [AgentPhone(str(200 + n)) for n in range(1, args.agents + 1)]
    pbx = SimulatedPbx(
        SimClock(args.scale),
        agi_host=args.agi_host,
        agi_port=args.agi_port,
        phones=phones,
        ami_port=args.ami_port,
        recordings_dir=Path(args.recordings) if args.recordings else None,
        seed=args.seed,
    )
    await pbx.start()
    print(
        f"simulated Asterisk: AMI on 127.0.0.1:{pbx.ami.port} (cc/ccsecret), scale x{args.scale}", flush=True
    )
    rate = day_curve(args.rate) if args.day_curve else args.rate
    try:
        report = await run_load(
            pbx,
            _callers(args.seed, args.did, args.digits),
            rate_per_hour=rate,
            duration=args.duration,
            rng=random.Random(args.seed),
        )
    finally:
        await pbx.stop()
    print(
        f"{len(report.outcomes)} calls in {report.simulated_seconds:.0f} simulated s: "
        f"{report.answered_by_agent} reached an agent, {report.abandoned} abandoned"
    )
    return 0


def _compare(args: argparse.Namespace) -> int:
    expected = received(load_trace(Path(args.trace)))
    diffs = compare_streams(expected, Path(args.stream).read_bytes())
    print("\n".join(diffs) if diffs else "same shape")
    return 1 if diffs else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m callcenter.sim", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the simulated PBX and place traffic")
    run.add_argument("--ami-port", type=int, default=5038)
    run.add_argument("--agi-host", default="127.0.0.1")
    run.add_argument("--agi-port", type=int, default=4573)
    run.add_argument("--scale", type=float, default=60.0, help="simulated seconds per real second")
    run.add_argument("--rate", type=float, default=120.0, help="calls per hour (peak with --day-curve)")
    run.add_argument("--day-curve", action="store_true", help="follow a day-shaped arrival curve")
    run.add_argument("--duration", type=float, default=3600.0, help="simulated seconds of traffic")
    run.add_argument("--agents", type=int, default=4, help="agent phones PJSIP/201…")
    run.add_argument("--did", default="0800507506")
    run.add_argument("--digits", default="0123", help="menu digits callers choose from ('' for none)")
    run.add_argument("--recordings", default="", help="folder for MixMonitor/RECORD FILE output")
    run.add_argument("--seed", type=int, default=1)
    cmp = sub.add_parser("compare", help="compare an AMI capture with a recorded trace")
    cmp.add_argument("trace", help="path to a trace's ami.jsonl")
    cmp.add_argument("stream", help="path to the captured AMI bytes")
    args = parser.parse_args(argv)
    if args.command == "compare":
        return _compare(args)
    return asyncio.run(_run(args))


if __name__ == "__main__":
    sys.exit(main())
