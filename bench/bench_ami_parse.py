"""Benchmark: AMI frames parsed per second, our framer against panoramisk's AMIProtocol.

DESIGN.md target: at least 3x panoramisk's ``AMIProtocol`` (about 50k frames/s on a 2-core
machine; a bare split-and-dict loop does about 214k/s) on the real traces, repeated.

Input: the ``recv`` side of every ``ami.jsonl`` in ``../shared/asterisk-traces``, fed in the
recorded TCP chunks, one fresh parser per scenario (each trace is one connection, starting with
its greeting line). The whole set is replayed ``--repeat`` times per round. Variants:

* **ours** — ``AmiFramer.feed`` (frames with headers as dict, UTF-8 safe, greeting handled);
* **ours+translate** — the same plus ``translate()`` of each event frame into a typed event;
* **panoramisk** — ``AMIProtocol.data_received`` with a fake transport and a real
  ``panoramisk.Manager`` as factory (its own dispatch, no callbacks registered beyond its
  built-in FullyBooted one), ``encoding='utf8'`` as the Manager sets it;
* **panoramisk parser only** — the same with a factory whose ``dispatch`` does nothing, to
  show panoramisk's framing and ``Message`` building without its Manager;
* **bare** — ``str.split`` on CRLF CRLF and a dict per block over the joined text: a floor for
  what pure Python can do, with none of the chunking, greeting or error handling.

Frame counts are checked once, untimed: every variant must see the same number of frames.

    .venv/bin/python bench/bench_ami_parse.py [--repeat 20] [--rounds 25]

Prints frames per CPU-second per variant (best of the rounds) and the ratios against panoramisk (with its
Manager, as DESIGN.md's peer figure, and parser only).
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from panoramisk.ami_protocol import AMIProtocol
from panoramisk.manager import Manager
from panoramisk.message import Message

from callcenter.telephony.ami_frames import AmiFramer, Frame
from callcenter.telephony.events import translate

TRACES = Path(__file__).resolve().parents[1].parent / "shared" / "asterisk-traces"


def load_streams() -> list[list[bytes]]:
    """One list of recorded recv chunks per AMI trace."""
    streams: list[list[bytes]] = []
    for path in sorted(TRACES.glob("*/ami.jsonl")):
        chunks = []
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            if item["dir"] == "recv":
                chunks.append(item["data"].encode("utf-8"))
        streams.append(chunks)
    return streams


class _Transport:
    """The least a protocol needs from a transport."""

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def run_ours(streams: list[list[bytes]], repeat: int) -> int:
    frames = 0
    for _ in range(repeat):
        for chunks in streams:
            framer = AmiFramer()
            for chunk in chunks:
                frames += len(framer.feed(chunk))
    return frames


def run_ours_translate(streams: list[list[bytes]], repeat: int) -> int:
    frames = 0
    for _ in range(repeat):
        for chunks in streams:
            framer = AmiFramer()
            for chunk in chunks:
                for item in framer.feed(chunk):
                    frames += 1
                    if isinstance(item, Frame) and "Event" in item:
                        translate(item)
    return frames


def _panoramisk_protocol(manager: Any) -> Any:
    protocol = AMIProtocol()
    protocol.connection_made(_Transport())
    protocol.factory = manager
    protocol.encoding = "utf8"
    return protocol


class _NullFactory:
    """A factory whose dispatch does nothing: panoramisk's parsing cost alone."""

    def __init__(self) -> None:
        self.forgetable_actions = ("ping", "login")
        self.awaiting_actions: list[object] = []

    def dispatch(self, message: object) -> None:
        pass

    def connection_lost(self, exc: object) -> None:
        pass


def run_panoramisk_parser_only(streams: list[list[bytes]], repeat: int) -> int:
    factory = _NullFactory()
    for _ in range(repeat):
        for chunks in streams:
            protocol = _panoramisk_protocol(factory)
            for chunk in chunks:
                protocol.data_received(chunk)
    return -1


def run_panoramisk(streams: list[list[bytes]], repeat: int) -> int:
    manager = Manager()
    for _ in range(repeat):
        for chunks in streams:
            protocol = _panoramisk_protocol(manager)
            for chunk in chunks:
                protocol.data_received(chunk)
    return -1  # counted separately (untimed): panoramisk exposes no count


def count_panoramisk(streams: list[list[bytes]]) -> int:
    """Frames panoramisk turns into Messages (untimed pass with a counting wrapper)."""
    count = 0
    original = Message.from_line

    def counting(line: str) -> Any:
        nonlocal count
        message = original(line)
        if message is not None:
            count += 1
        return message

    Message.from_line = counting
    try:
        run_panoramisk(streams, 1)
    finally:
        Message.from_line = original
    return count


def run_bare(streams: list[list[bytes]], repeat: int) -> int:
    texts = [b"".join(chunks).decode("utf-8") for chunks in streams]
    frames = 0
    for _ in range(repeat):
        for text in texts:
            for block in text.split("\r\n\r\n"):
                if block:
                    dict(line.split(": ", 1) for line in block.split("\r\n") if ": " in line)
                    frames += 1
    return frames


def timed(
    variants: dict[str, Callable[[list[list[bytes]], int], int]],
    streams: list[list[bytes]],
    repeat: int,
    rounds: int,
) -> dict[str, float]:
    """Best CPU time per variant over ``rounds``.

    CPU time of this process (``time.process_time``), not wall time: the parse is single-threaded
    and CPU-bound, and on a shared machine wall time also counts other processes' time slices.
    Variants interleave within each round so that what remains (caches, frequency) hits them alike.
    """
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(rounds):
        for name, fn in variants.items():
            gc.collect()
            start = time.process_time()
            fn(streams, repeat)
            best[name] = min(best[name], time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=20, help="replays of the whole trace set per round")
    parser.add_argument("--rounds", type=int, default=25, help="rounds per variant; the best is kept")
    args = parser.parse_args()

    streams = load_streams()
    frames = run_ours(streams, 1)
    pano_frames = count_panoramisk(streams)
    # panoramisk glues each greeting onto the next frame and keeps it (the Response/Event header
    # is still found), so both sides must have seen the same number of blocks.
    assert pano_frames == frames, (pano_frames, frames)
    bare_frames = run_bare(streams, 1)
    print(f"traces: {len(streams)} streams, {sum(map(len, streams))} chunks, {frames} frames per replay")
    print(f"(bare split counts {bare_frames} blocks: each greeting line is glued to its first frame)")

    variants: dict[str, Callable[[list[list[bytes]], int], int]] = {
        "panoramisk AMIProtocol": run_panoramisk,
        "panoramisk parser only": run_panoramisk_parser_only,
        "ours (AmiFramer)": run_ours,
        "ours + translate": run_ours_translate,
        "bare split-and-dict": run_bare,
    }
    seconds = timed(variants, streams, args.repeat, args.rounds)
    results = {name: frames * args.repeat / secs for name, secs in seconds.items()}
    for name, rate in results.items():
        print(f"{name:24s} {rate:>12,.0f} frames/s")
    peer = results["panoramisk AMIProtocol"]
    print(f"ratio ours / panoramisk:            {results['ours (AmiFramer)'] / peer:.2f}x (target >= 3x)")
    parser_only = results["panoramisk parser only"]
    print(f"ratio ours / panoramisk parser only: {results['ours (AmiFramer)'] / parser_only:.2f}x")
    print(f"ratio ours+translate / panoramisk:  {results['ours + translate'] / peer:.2f}x")
    print(
        f"ratio ours / bare split-and-dict:   {results['ours (AmiFramer)'] / results['bare split-and-dict']:.2f}x"
    )


if __name__ == "__main__":
    main()
