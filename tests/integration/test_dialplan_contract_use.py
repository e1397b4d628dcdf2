"""The backend's modules speak the rendered dialplan's names: spy options, transfer and callback contexts."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from callcenter.services import acd as acd_service
from callcenter.telephony import dialplan_contract as contract
from callcenter.telephony.ivr_driver import IvrServices
from callcenter.web import wallboard
from tests.integration.test_asterisk_conf_support import render


def spy_context_options(extensions_conf: str) -> dict[str, str]:
    """ChanSpy options per mode as the rendered spy context sets them (default: listen)."""
    start = extensions_conf.index(f"[{contract.SPY_CONTEXT}]")
    end = extensions_conf.find("\n[", start + 1)
    section = extensions_conf[start : end if end != -1 else None]
    default = re.search(r"exten => spy,1,Set\(CC_SPY_OPTIONS=(\w+)\)", section)
    assert default is not None
    options = {"listen": default.group(1)}
    for mode, value in re.findall(
        r'ExecIf\(\$\["\$\{CC_SPY_MODE\}" = "(\w+)"\]\?Set\(CC_SPY_OPTIONS=(\w+)\)\)', section
    ):
        options[mode] = value
    return options


def test_wallboard_chanspy_options_are_the_dialplans(tmp_path: Path) -> None:
    """The wallboard's Originate runs ChanSpy with the spy context's options, exit-on-hangup included."""
    assert render(tmp_path) == 0
    rendered = (tmp_path / "out" / "extensions.conf").read_text(encoding="utf-8")
    assert spy_context_options(rendered) == wallboard.CHANSPY_OPTIONS
    assert all("E" in options for options in wallboard.CHANSPY_OPTIONS.values())


def test_ivr_transfer_and_acd_callback_use_the_contract() -> None:
    """The IVR's transfer Dial string and the ACD's callback context come from dialplan_contract."""
    (default,) = [f.default for f in dataclasses.fields(IvrServices) if f.name == "transfer_channel"]
    assert isinstance(default, str)
    assert default.format(number="1545") == contract.transfer_channel("1545")
    assert acd_service.AcdSettings().callback_context == contract.CALLBACK_CONTEXT
    # The dialplan text lives in the shipped template only, not in a second copy in the ACD.
    assert not hasattr(acd_service, "CALLBACK_DIALPLAN")
