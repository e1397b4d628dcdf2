"""Pure pieces of the simulated PBX: dialplan parsing and expansion, AGI argument parsing, clock."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from callcenter.sim.agi_client import _say_words, parse_args, usage_block
from callcenter.sim.ami_server import format_message, parse_callerid, parse_mask
from callcenter.sim.channels import Channel
from callcenter.sim.clock import SimClock
from callcenter.sim.dialplan import DEFAULT_DIALPLAN, Dialplan, expand, get_value, split_args

TRACES = Path(__file__).resolve().parents[2].parent / "shared" / "asterisk-traces"


def _chan() -> Channel:
    chan = Channel("PJSIP/trunk-00000001", "1.1", "1.1", "from-pstn", "0800507506", cid_num="380501234567")
    chan.variables["AGISTATUS"] = "SUCCESS"
    return chan


def test_traced_dialplan_parses_with_labels_and_patterns() -> None:
    """The traces' extensions.conf gives numbered steps, the ``done`` label and the _2XX pattern."""
    plan = Dialplan.parse((TRACES / "asterisk-etc" / "extensions.conf").read_text())
    _, steps = plan.find("from-pstn", "0800507506") or ("", [])
    assert [s.app for s in steps] == ["NoOp", "Set", "AGI", "NoOp", "GotoIf", "Queue", "Hangup"]
    assert steps[-1].label == "done" and steps[-1].priority == 7
    assert steps[2].data == "agi://127.0.0.1:4573/inbound,arg1,arg two"
    assert plan.find("agents", "201") is not None and plan.find("agents", "201")[0] == "_2XX"  # type: ignore[index]
    assert plan.find("agents", "299")[0] == "299"  # type: ignore[index]
    assert plan.find("agents", "2001") is None and not plan.exists("nowhere", "999")


def test_default_dialplan_matches_any_did() -> None:
    """The shipped default dialplan sends any DID to FastAGI and then to the survival queue."""
    plan = Dialplan.parse(DEFAULT_DIALPLAN)
    _, steps = plan.find("from-pstn", "0800505600") or ("", [])
    assert [s.app for s in steps][2:7] == ["AGI", "NoOp", "GotoIf", "Answer", "Queue"]


def test_expansion_of_variables_functions_and_expressions() -> None:
    """${VAR}, nested functions and $[...] comparisons expand as Asterisk does for these forms."""
    chan = _chan()
    assert expand('$["${AGISTATUS}" = "SUCCESS"]?done', chan) == "1?done"
    assert expand("${IF($[${LEN(${TALK})} > 0]?${TALK}:3)}", chan) == "3"
    chan.variables["TALK"] = "7"
    assert expand("${IF($[${LEN(${TALK})} > 0]?${TALK}:3)}", chan) == "7"
    assert expand("${CHANNEL}-${CALLERID(num)}", chan) == "PJSIP/trunk-00000001-380501234567"
    assert get_value(chan, "NOPE") is None
    assert get_value(chan, "CHANNEL(language)") == "en"


def test_split_args_respects_brackets_and_quotes() -> None:
    """Commas inside brackets or quotes do not split application arguments."""
    assert split_args("survival,,,,60") == ["survival", "", "", "", "60"]
    assert split_args('a,"b,c",IF($[1=1]?x:y)') == ["a", '"b,c"', "IF($[1=1]?x:y)"]


def test_agi_parse_args_quotes_and_escapes() -> None:
    """AGI command lines split on blanks, keep quoted text, allow "" and backslash escapes."""
    assert parse_args('STREAM FILE welcome ""') == ["STREAM", "FILE", "welcome", ""]
    assert parse_args('EXEC Dial "PJSIP/201,20,g"') == ["EXEC", "Dial", "PJSIP/201,20,g"]
    assert parse_args(r"SET VARIABLE X a\ b") == ["SET", "VARIABLE", "X", "a b"]


def test_usage_block_and_say_word_counts() -> None:
    """Known commands get the 520 block, others the one-line 520; SAY NUMBER counts sound files."""
    assert usage_block("GET DATA").endswith("520 End of proper usage.\n")
    assert usage_block("GOSUB") == "520 Invalid command syntax.  Proper usage not available.\n"
    assert _say_words(123) == 4 and _say_words(7) == 1 and _say_words(45) == 2


def test_ami_helpers() -> None:
    """Messages end with a blank line, masks read words and lists, caller ids split."""
    assert (
        format_message([("Response", "Success"), ("AccountCode", "")])
        == b"Response: Success\r\nAccountCode: \r\n\r\n"
    )
    assert parse_mask("off") == frozenset() and "dialplan" in parse_mask("on")
    assert parse_mask("call,agent") == frozenset({"call", "agent"})
    assert parse_callerid('"Citizen One" <380501234567>') == ("380501234567", "Citizen One")
    assert parse_callerid("Supervisor <100>") == ("100", "Supervisor")
    assert parse_callerid("380671112233") == ("380671112233", "")


def test_snapshot_block_order_and_unknowns() -> None:
    """The snapshot has the fixed field order, <unknown> for missing ids and an empty AccountCode."""
    chan = _chan()
    names = [k for k, _ in chan.snapshot("Dest")]
    assert names[0] == "DestChannel" and names[-1] == "DestLinkedid" and len(names) == 14
    values = dict(chan.snapshot())
    assert values["CallerIDName"] == "<unknown>" and values["AccountCode"] == ""


async def test_clock_scales_sleep_and_time() -> None:
    """With scale 100 a simulated second takes about 10 ms and now() advances 100 times faster."""
    clock = SimClock(100)
    before, real = clock.now(), time.monotonic()
    await clock.sleep(1.0)
    assert 0.009 <= time.monotonic() - real < 0.5
    assert clock.now() - before >= 0.9
    with pytest.raises(ValueError):
        SimClock(0)
    assert clock.real(-5) == 0.0
    done = asyncio.get_running_loop().create_future()
    assert await clock.wait_for(done, 0.5) is False
