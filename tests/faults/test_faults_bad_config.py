"""Promise: a bad flow or queue file is refused with its errors and the running version keeps serving.

The backend's services run in the test process against the simulated PBX. Broken files are
published both ways an admin can: dropped into the watched folder and sent through the
services the editor and the API call (``FlowService.publish``, ``QueueConfigStore.put``). Each is
refused with errors that name the file, line and column; the active flow and queue
configuration are the same objects as before, and a call waiting meanwhile and a new call are
served as usual.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from callcenter.errors import ConfigError
from callcenter.ivr.model import FlowInvalid
from tests.faults.faults_support import FaultRig, make_rig, queue_caller, running_line, until

#: A flow whose menu points at a node that does not exist and whose queue is unknown.
BAD_FLOW = """\
description: Broken on purpose.
languages: [uk]
start: welcome
prompts:
  welcome: {language: uk, text: "Вітаємо."}
nodes:
  welcome: {type: play, prompt: welcome, next: nowhere}
  operator: {type: queue, queue: no_such_queue, skills: [general]}
"""


@pytest.fixture
def rig(tmp_path: Path) -> FaultRig:
    """Rendered files, the fault-test flow and short wrap-ups in ``tmp_path``."""
    return make_rig(tmp_path)


async def test_bad_flow_and_queue_files_are_refused_and_calls_keep_being_served(
    rig: FaultRig, db_pool: Any
) -> None:
    """Broken flow and queue files (folder and publish) are refused with file:line errors; calls go on."""
    async with running_line(rig, db_pool) as line:
        flows, queues, acd = line.handling.flows, line.handling.queue_config, line.handling.acd
        flow_before, config_before = flows.get("hotline"), acd.state.config
        assert flow_before is not None
        # A caller already waiting (both agents busy with a first pair of calls) while files break.
        first = [asyncio.ensure_future(line.pbx.call(queue_caller(i))) for i in range(3)]
        await until(lambda: acd.state.queue_stats("general", acd.clock()).waiting == 1, "a caller waiting")

        (rig.flows / "hotline.yaml").write_text(BAD_FLOW, encoding="utf-8")
        errors = await flows.poll_once()
        texts = [str(e) for e in errors]
        assert any("hotline.yaml:7:" in t and "nowhere" in t for t in texts), texts
        assert any("no_such_queue" in t for t in texts), texts
        with pytest.raises(FlowInvalid) as refused:
            await flows.publish("hotline", BAD_FLOW, author="admin")
        assert any("nowhere" in str(e) for e in refused.value.errors)
        assert flows.get("hotline") is flow_before

        queues_yaml = rig.queues / "queues.yaml"
        good_queues = queues_yaml.read_text(encoding="utf-8")
        bad_queues = good_queues.replace("strategy: longest_idle", "strategy: fastest_finger", 1)
        with pytest.raises(ConfigError) as config_refused:
            queues.put("queues.yaml", bad_queues)
        assert any("queues.yaml:" in p and "fastest_finger" in p for p in config_refused.value.problems)
        assert queues_yaml.read_text(encoding="utf-8") == good_queues  # a refused put writes nothing
        queues_yaml.write_text(bad_queues, encoding="utf-8")
        assert queues.check() is False
        assert any("fastest_finger" in p for p in queues.last_errors), queues.last_errors
        assert acd.state.config is config_before

        outcomes = await asyncio.wait_for(asyncio.gather(*first), 40)
        later = await asyncio.wait_for(line.pbx.call(queue_caller(9)), 30)
    for outcome in [*outcomes, later]:
        assert outcome.talked and outcome.variables.get("CC_IVR_RESULT") == "answered", outcome.variables
