"""Unit and property tests of the sans-I/O AMI framer."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.telephony.ami_frames import MAX_FRAME, MAX_LINE, AmiFramer, Frame, FrameError

GREETING = b"Asterisk Call Manager/11.0.0\r\n"
PING = b"Response: Success\r\nActionID: 7\r\nPing: Pong\r\nTimestamp: 1.2\r\n\r\n"
HANGUP = (
    b"Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/a-1\r\nUniqueid: 1.1\r\n"
    b"Cause: 16\r\nCause-txt: Normal Clearing\r\n\r\n"
)


def _feed_all(framer: AmiFramer, chunks: list[bytes]) -> list[Frame | FrameError]:
    out: list[Frame | FrameError] = []
    for chunk in chunks:
        out.extend(framer.feed(chunk))
    return out


def test_greeting_is_consumed_and_not_glued() -> None:
    """The greeting line sets the version and does not stick to the first frame."""
    framer = AmiFramer()
    frames = framer.feed(GREETING + PING)
    assert framer.version == "11.0.0"
    assert frames == [Frame({"Response": "Success", "ActionID": "7", "Ping": "Pong", "Timestamp": "1.2"})]


def test_greeting_split_across_reads() -> None:
    """A greeting whose CR and LF arrive in different reads is still recognised."""
    framer = AmiFramer()
    assert framer.feed(GREETING[:-1]) == []
    assert framer.feed(b"\n" + PING) == [framer_frame(PING)]
    assert framer.version == "11.0.0"


def test_bare_lf_and_mixed_line_ends() -> None:
    """Bare LF frames parse like CRLF ones, also mixed in one read."""
    framer = AmiFramer(expect_greeting=False)
    frames = [f for f in framer.feed(b"Event: A\nX: 1\n\nEvent: B\r\nY: 2\r\n\r\n") if isinstance(f, Frame)]
    assert [f.event for f in frames] == ["A", "B"]
    assert frames[0]["X"] == "1" and frames[1]["Y"] == "2"


def test_empty_values_kept_also_on_last_line() -> None:
    """``AccountCode: `` and a trailing ``BridgeId: `` keep their empty values."""
    framer = AmiFramer(expect_greeting=False)
    (frame,) = framer.feed(b"Event: CoreShowChannel\r\nAccountCode: \r\nBridgeId: \r\n\r\n")
    assert isinstance(frame, Frame)
    assert frame["AccountCode"] == "" and frame["BridgeId"] == ""
    assert "BridgeId" in frame


def test_repeated_headers() -> None:
    """ChanVariable/Output/Variable accumulate; any other repeated header keeps its first value."""
    framer = AmiFramer(expect_greeting=False)
    (frame,) = framer.feed(
        b"Event: Newchannel\r\nChanVariable: A=1\r\nChanVariable: B=2\r\n"
        b"Channel: first\r\nChannel: second\r\nOutput: x\r\n\r\n"
    )
    assert isinstance(frame, Frame)
    assert frame.getall("ChanVariable") == ["A=1", "B=2"]
    assert frame["ChanVariable"] == "A=1"
    assert frame["Channel"] == "first"
    assert frame.getall("Channel") == ["first"]
    assert frame.getall("Output") == ["x"]
    assert frame.getall("Missing") == []


def test_case_insensitive_lookup() -> None:
    """Header names are found in any case."""
    framer = AmiFramer(expect_greeting=False)
    (frame,) = framer.feed(b"event: Hangup\r\nUNIQUEID: 5\r\n\r\n")
    assert isinstance(frame, Frame)
    assert frame.event == "Hangup"
    assert frame["Uniqueid"] == "5" and frame.get("uniqueid") == "5"
    assert frame.get("nope") is None


def test_utf8_split_across_reads_is_kept() -> None:
    """A Cyrillic caller name split in the middle of a UTF-8 character survives intact."""
    data = "Event: NewCallerid\r\nCallerIDName: Петренко\r\n\r\n".encode()
    cut = data.index("П".encode()) + 1
    framer = AmiFramer(expect_greeting=False)
    frames = _feed_all(framer, [data[:cut], data[cut:]])
    assert frames == [Frame({"Event": "NewCallerid", "CallerIDName": "Петренко"})]


def test_line_without_separator_is_a_frame_error_and_next_frame_parses() -> None:
    """A block with a line lacking ': ' becomes one FrameError; the next frame is unaffected."""
    framer = AmiFramer(expect_greeting=False)
    out = framer.feed(b"Event: X\r\ngarbage line\r\n\r\n" + HANGUP)
    assert isinstance(out[0], FrameError) and "separator" in out[0].reason
    assert isinstance(out[1], Frame) and out[1]["Cause"] == "16"


def test_over_long_line_is_rejected() -> None:
    """A line far beyond Asterisk's 1024-byte limit yields a FrameError, not a frame."""
    framer = AmiFramer(expect_greeting=False)
    out = framer.feed(b"Event: X\r\nData: " + b"a" * (MAX_LINE + 10) + b"\r\n\r\n" + HANGUP)
    assert isinstance(out[0], FrameError) and "longer" in out[0].reason
    assert isinstance(out[1], Frame)


def test_unterminated_flood_is_bounded() -> None:
    """A stream with no blank line is dropped after MAX_FRAME bytes and parsing resumes after it."""
    framer = AmiFramer(expect_greeting=False)
    out: list[Frame | FrameError] = []
    for _ in range(MAX_FRAME // 4096 + 2):
        out += framer.feed(b"X: " + b"y" * 4093)
        assert framer.buffered <= MAX_FRAME + 4096
    assert any(isinstance(item, FrameError) for item in out)
    out = framer.feed(b"\r\n\r\n" + HANGUP)
    assert [f for f in out if isinstance(f, Frame)] == [framer_frame(HANGUP)]


def framer_frame(data: bytes) -> Frame:
    """Parse one standalone frame (helper)."""
    (frame,) = AmiFramer(expect_greeting=False).feed(data)
    assert isinstance(frame, Frame)
    return frame


def test_extra_blank_lines_between_frames_are_ignored() -> None:
    """Runs of blank lines between frames produce no spurious items."""
    framer = AmiFramer(expect_greeting=False)
    out = framer.feed(PING + b"\r\n\r\n\r\n" + HANGUP)
    assert [type(i) for i in out] == [Frame, Frame]


def test_no_greeting_keeps_first_frame() -> None:
    """A stream that starts straight with a frame (no greeting) loses nothing."""
    framer = AmiFramer()
    out = framer.feed(PING)
    assert framer.version is None
    assert out == [framer_frame(PING)]


def test_reset_forgets_partial_frame() -> None:
    """reset() drops a half-received frame so a new connection starts clean."""
    framer = AmiFramer()
    framer.feed(GREETING + HANGUP[:20])
    framer.reset()
    assert framer.buffered == 0 and framer.version is None
    assert framer.feed(GREETING + PING) == [framer_frame(PING)]


STREAM = GREETING + PING + HANGUP + "Event: VarSet\r\nValue: Київ\r\n\r\n".encode() + PING


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_random_splits_give_same_frames(cuts: list[int]) -> None:
    """However the stream is cut into reads, the same frames come out."""
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    expected = AmiFramer().feed(STREAM)
    assert _feed_all(AmiFramer(), chunks) == expected


@settings(max_examples=300)
@given(garbage=st.binary(max_size=300), cut=st.integers(min_value=0, max_value=len(HANGUP)))
def test_garbage_then_valid_frame(garbage: bytes, cut: int) -> None:
    """Random bytes followed by a blank line never raise and never spoil the next valid frame."""
    framer = AmiFramer(expect_greeting=False)
    out = _feed_all(framer, [garbage, b"\r\n\r\n", HANGUP[:cut], HANGUP[cut:]])
    assert all(isinstance(item, Frame | FrameError) for item in out)
    assert out[-1] == framer_frame(HANGUP)


@settings(max_examples=300)
@given(cut=st.integers(min_value=0, max_value=len(HANGUP) - 1), junk=st.binary(max_size=50))
def test_truncated_frame_then_valid_frame(cut: int, junk: bytes) -> None:
    """A frame cut short and closed by junk or a blank line affects only itself."""
    framer = AmiFramer(expect_greeting=False)
    out = _feed_all(framer, [HANGUP[:cut], junk.replace(b"\n", b""), b"\r\n\r\n", PING])
    assert out[-1] == framer_frame(PING)
    assert len(out) <= 2


@given(st.text(max_size=200))
def test_unicode_text_never_raises(text: str) -> None:
    """Arbitrary Unicode input yields only Frame or FrameError items."""
    framer = AmiFramer()
    for item in framer.feed(text.encode() + b"\r\n\r\n"):
        assert isinstance(item, Frame | FrameError)


def test_awaiting_greeting_flag() -> None:
    """awaiting_greeting stays True until a whole first line is in, greeting or not."""
    framer = AmiFramer()
    framer.feed(b"Asterisk Call")
    before = framer.awaiting_greeting
    framer.feed(b" Manager/11.0.0\r\n")
    assert (before, framer.awaiting_greeting, framer.version) == (True, False, "11.0.0")
    other = AmiFramer()
    other.feed(b"Response: Success\r\n")
    assert not other.awaiting_greeting and other.version is None
