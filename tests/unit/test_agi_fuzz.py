"""Property tests: malformed, truncated and re-chunked FastAGI input never crashes the parser."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from callcenter.telephony.agi_errors import AgiProtocolError
from callcenter.telephony.agi_protocol import AgiReply, AgiStreamParser, render_arg

HEADER = b"agi_network: yes\nagi_network_script: hotline\nagi_uniqueid: 1.2\n\n"
REPLIES = [
    b"200 result=0\n",
    b"200 result=49 endpos=13600\n",
    b"200 result=1 (Local/0800507506@from-pstn-0000000b;2-call 42)\n",
    b"200 result= (timeout)\n",
    b"HANGUP\n",
    b"510 Invalid or unknown command\n",
    b"511 Command Not Permitted on a dead channel or intercept routine\n",
    b"520-Invalid command syntax.  Proper usage follows:\nUsage text.\n520 End of proper usage.\n",
    b"100 result=0 Trying...\n",
]


def feed_all(chunks: list[bytes]) -> list[object]:
    """Feed chunks in order; return the events, or stop at the first protocol error."""
    parser = AgiStreamParser(max_header_bytes=512, max_line_bytes=256)
    events: list[object] = []
    for chunk in chunks:
        try:
            events.extend(parser.feed(chunk))
        except AgiProtocolError:
            events.append("error")
            break
    return events


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in points:
        pieces.append(data[last:p])
        last = p
    pieces.append(data[last:])
    return pieces


@given(st.lists(st.binary(max_size=300), max_size=8))
def test_arbitrary_bytes_only_ever_raise_protocol_error(chunks: list[bytes]) -> None:
    """Random bytes, in any chunks, give events or AgiProtocolError, never another exception."""
    feed_all(chunks)
    feed_all([HEADER, *chunks])


@given(st.lists(st.sampled_from(REPLIES), max_size=12), st.lists(st.integers(0, 10_000), max_size=10))
def test_chunking_does_not_change_the_events(replies: list[bytes], cuts: list[int]) -> None:
    """Whatever the TCP read boundaries, a valid stream gives the same events as one big read."""
    stream = HEADER + b"".join(replies)
    assert feed_all(split(stream, cuts)) == feed_all([stream])


@given(st.lists(st.sampled_from(REPLIES), max_size=12), st.integers(0, 10_000))
def test_truncated_stream_gives_a_prefix_of_the_events(replies: list[bytes], cut: int) -> None:
    """A stream cut anywhere (a dropped connection) yields a prefix of the full events, no error."""
    stream = HEADER + b"".join(replies)
    full = feed_all([stream])
    part = feed_all([stream[: cut % (len(stream) + 1)]])
    assert "error" not in part
    assert part == full[: len(part)]


@given(
    st.sampled_from(["0", "1", "-1", "49", "1234", ""]),
    st.one_of(
        st.none(),
        st.text(st.characters(codec="utf-8", blacklist_characters="\n\r"), max_size=40),
    ),
    st.one_of(st.none(), st.integers(0, 10**9)),
)
def test_200_replies_round_trip(result: str, data: str | None, endpos: int | None) -> None:
    """Any 200 reply Asterisk can format parses back to its result, data and endpos."""
    line = f"200 result={result}"
    if data is not None:
        line += f" ({data})"
    if endpos is not None:
        line += f" endpos={endpos}"
    parser = AgiStreamParser(max_line_bytes=10_000)
    parser.feed(HEADER)
    assert parser.feed(line.encode() + b"\n") == [AgiReply(200, result, data, endpos)]


def asterisk_parse_args(line: str) -> list[str]:
    """Asterisk's ``parse_args`` (res_agi.c): blanks split, ``"`` groups, backslash escapes."""
    args: list[str] = []
    current: list[str] = []
    in_quotes = escaped = False
    started = False
    for ch in line:
        if escaped:
            current.append(ch)
            escaped = False
            started = True
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            in_quotes = not in_quotes
            started = True
        elif ch in " \t" and not in_quotes:
            if started:
                args.append("".join(current))
                current, started = [], False
        else:
            current.append(ch)
            started = True
    if started:
        args.append("".join(current))
    return args


@given(st.lists(st.text(st.characters(blacklist_characters="\n\r\0"), max_size=20), min_size=1, max_size=4))
def test_rendered_arguments_reach_asterisk_unchanged(values: list[str]) -> None:
    """What render_arg writes, Asterisk's argument parser reads back as exactly the same values."""
    line = "SET VARIABLE " + " ".join(render_arg(v) for v in values)
    assert asterisk_parse_args(line)[2:] == values
