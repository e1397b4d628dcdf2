"""The FastAGI wire format without sockets: header, reply lines, the stream parser, quoting."""

from __future__ import annotations

import pytest

from callcenter.telephony.agi_errors import AgiProtocolError
from callcenter.telephony.agi_protocol import (
    HANGUP,
    AgiEnvironment,
    AgiReply,
    AgiStreamParser,
    parse_reply_line,
    quote,
    render_arg,
)

HEADER = (
    b"agi_network: yes\n"
    b"agi_network_script: hotline/main?lang=uk&vip=1\n"
    b"agi_request: agi://10.0.0.5:4573/hotline/main?lang=uk&vip=1\n"
    b"agi_channel: PJSIP/trunk-00000004\n"
    b"agi_language: uk\n"
    b"agi_type: PJSIP\n"
    b"agi_uniqueid: 1718000000.8\n"
    b"agi_version: 22.10.1\n"
    b"agi_callerid: 380501234567\n"
    b"agi_calleridname: unknown\n"
    b"agi_dnid: 0800507506\n"
    b"agi_rdnis: unknown\n"
    b"agi_context: from-trunk\n"
    b"agi_extension: 0800507506\n"
    b"agi_priority: 2\n"
    b"agi_accountcode: \n"
    b"agi_threadid: 139872212936448\n"
    b"agi_arg_10: ten\n"
    b"agi_arg_2: two: with colon\n"
    b"agi_arg_1: one\n"
    b"\n"
)


def parse_header(data: bytes) -> AgiEnvironment:
    events = AgiStreamParser().feed(data)
    assert len(events) == 1
    env = events[0]
    assert isinstance(env, AgiEnvironment)
    return env


def test_header_is_typed_and_route_split_from_query() -> None:
    """The route is the script path without its query; 'unknown' becomes None; args keep numeric order."""
    env = parse_header(HEADER)
    assert env.network_script == "hotline/main"
    assert dict(env.query) == {"lang": "uk", "vip": "1"}
    assert env.callerid == "380501234567"
    assert env.calleridname is None
    assert env.rdnis is None
    assert env.dnid == "0800507506"
    assert env.accountcode == ""
    assert env.args == ("one", "two: with colon", "ten")
    assert env.uniqueid == "1718000000.8"
    assert env.raw["agi_network"] == "yes"


def test_header_split_across_reads_and_followed_by_reply() -> None:
    """Byte-at-a-time delivery gives the same header, and a reply in the same read follows it."""
    parser = AgiStreamParser()
    events = []
    for byte in HEADER + b"200 result=0\n":
        events.extend(parser.feed(bytes([byte])))
    assert isinstance(events[0], AgiEnvironment)
    assert events[0].network_script == "hotline/main"
    assert events[1] == AgiReply(200, "0")


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        ("200 result=0", AgiReply(200, "0")),
        ("200 result=49 endpos=13600", AgiReply(200, "49", endpos=13600)),
        ("200 result=1 (380501234567)", AgiReply(200, "1", data="380501234567")),
        ("200 result=1 (a (nested) value)", AgiReply(200, "1", data="a (nested) value")),
        ("200 result=12 (timeout)", AgiReply(200, "12", data="timeout")),
        ("200 result= (timeout)", AgiReply(200, "", data="timeout")),
        ("200 result=", AgiReply(200, "")),
        ("200 result=-1 (hangup) endpos=8000", AgiReply(200, "-1", data="hangup", endpos=8000)),
        ("200 result=0 (timeout) endpos=16000", AgiReply(200, "0", data="timeout", endpos=16000)),
        ("200 result=-1 (writefile)", AgiReply(200, "-1", data="writefile")),
        ("200 result=1 (x endpos=12)", AgiReply(200, "1", data="x endpos=12")),
        ("200 result=0 Gosub complete", AgiReply(200, "0", data="Gosub complete")),
        ("100 result=0 Trying...", AgiReply(100, "0", data="Trying...")),
        ("510 Invalid or unknown command", AgiReply(510, message="Invalid or unknown command")),
        (
            "511 Command Not Permitted on a dead channel or intercept routine",
            AgiReply(511, message="Command Not Permitted on a dead channel or intercept routine"),
        ),
        (
            "520 Invalid command syntax.  Proper usage not available.",
            AgiReply(520, message="Invalid command syntax.  Proper usage not available."),
        ),
    ],
)
def test_reply_lines(line: str, reply: AgiReply) -> None:
    """Each reply form of PROTOCOL.md B3 parses into code, result, data and endpos."""
    assert parse_reply_line(line) == reply


@pytest.mark.parametrize(
    "line", ["", "20", "abc", "200", "200 foo=1", "2000 result=1", "200-x", "007 x", "HANGUP!"]
)
def test_malformed_reply_lines_raise(line: str) -> None:
    """A line that is not an AGI reply is a protocol error, not a crash or a guess."""
    with pytest.raises(AgiProtocolError):
        parse_reply_line(line)


def test_usage_block_hangup_line_and_crlf() -> None:
    """A 520 block becomes one reply with its usage text; HANGUP is a notice; a stray CR is dropped."""
    parser = AgiStreamParser()
    parser.feed(b"agi_network: yes\n\n")
    events = parser.feed(
        b"520-Invalid command syntax.  Proper usage follows:\nline one\nline two\n520 End of proper usage.\n"
        b"HANGUP\n200 result=-1 endpos=20\r\n"
    )
    assert events == [
        AgiReply(520, message="Invalid command syntax.  Proper usage follows:", usage="line one\nline two"),
        HANGUP,
        AgiReply(200, "-1", endpos=20),
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\n",
        b"agi_network yes\n",
        b"Agi_network: yes\n",
        b": value\n",
        b"\n",
        b"agi_\xff\xfe: x\n",
    ],
)
def test_malformed_header_raises_and_parser_stays_failed(data: bytes) -> None:
    """A bad header line (or an empty header) is refused and the parser accepts nothing afterwards."""
    parser = AgiStreamParser()
    with pytest.raises(AgiProtocolError):
        parser.feed(data)
    with pytest.raises(AgiProtocolError):
        parser.feed(b"agi_network: yes\n\n")


def test_header_and_line_size_limits() -> None:
    """A header past max_header_bytes, or a reply line past max_line_bytes, is a protocol error."""
    parser = AgiStreamParser(max_header_bytes=100)
    with pytest.raises(AgiProtocolError, match="header longer"):
        parser.feed(b"agi_arg_1: " + b"x" * 200)
    parser = AgiStreamParser(max_header_bytes=100)
    with pytest.raises(AgiProtocolError, match="header longer"):
        parser.feed(b"agi_arg_1: x\n" * 10)
    parser = AgiStreamParser(max_line_bytes=50)
    parser.feed(b"agi_network: yes\n\n")
    with pytest.raises(AgiProtocolError, match="reply line longer"):
        parser.feed(b"200 result=1 (" + b"v" * 60)


def test_non_utf8_value_does_not_break_the_stream() -> None:
    """A variable value in another encoding is decoded with replacement characters, not an exception."""
    parser = AgiStreamParser()
    parser.feed(b"agi_network: yes\n\n")
    assert parser.feed(b"200 result=1 (\xcf\xf0\xe8)\n") == [AgiReply(200, "1", data="\ufffd\ufffd\ufffd")]


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("beep", "beep"),
        ("", '""'),
        ("call 42", '"call 42"'),
        ("Local/201@agents,10,g", '"Local/201@agents,10,g"'),
        ("${CHANNEL}-${CC_CALL}", "${CHANNEL}-${CC_CALL}"),
        ('say "hi"', '"say \\"hi\\""'),
        ("a\\b", '"a\\\\b"'),
        (42, "42"),
    ],
)
def test_render_arg_quotes_only_when_needed(value: str | int, rendered: str) -> None:
    """Arguments are quoted when Asterisk's parse_args would split or unescape them (and on commas)."""
    assert render_arg(value) == rendered


@pytest.mark.parametrize("value", ["a\nANSWER", "x\r", "nul\0"])
def test_newlines_in_arguments_are_refused(value: str) -> None:
    """An argument with a line break could smuggle a second command, so rendering refuses it."""
    with pytest.raises(ValueError, match="newlines"):
        render_arg(value)
    with pytest.raises(ValueError, match="newlines"):
        quote(value)
