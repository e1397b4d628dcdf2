"""``callcenter asterisk-conf render``: every rendered file parses (pyst2) and holds what the backend needs.

The files are rendered from the repository's templates and ``queue/`` with a two-host test
deployment (AMI on 10.20.0.2, the backend on 10.20.0.5), then read back with pyst2's Asterisk
config parser (see ``test_asterisk_conf_support`` for its work-arounds) and checked against the
backend's contract: the AMI user's classes, the DID → FastAGI → survival path, the contexts the
backend sends channels into, and one phone, extension and survival member per agent.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from pathlib import Path

import asterisk.config
import pytest
import yaml

from callcenter.acd.model import AgentConfig
from callcenter.config import AmiSettings, Settings
from callcenter.errors import ConfigError
from callcenter.services import acd as acd_service
from callcenter.services.queue_config import read_acd_folder
from callcenter.sim.dialplan import Dialplan, Step
from callcenter.telephony import dialplan_contract as contract
from callcenter.telephony.asterisk_conf import (
    AMI_READ,
    AMI_WRITE,
    CONF_FILES,
    RenderOptions,
    load_phone_passwords,
    render_asterisk_conf,
)
from callcenter.telephony.ivr_driver import IvrServices
from callcenter.web import wallboard
from tests.integration.test_asterisk_conf_support import (
    AMI_HOST,
    BACKEND,
    REPO_ROOT,
    Section,
    TextConfig,
    effective,
    make_settings,
    parse_conf,
    render,
)

#: Write classes of every AMI action the backend's client can send (Asterisk 20-22 sources:
#: main/manager.c, main/devicestate.c, apps/app_queue.c, apps/app_mixmonitor.c). An action is
#: allowed when the user has any one of them; an empty set needs no class.
ACTION_CLASSES: dict[str, set[str]] = {
    "Login": set(),
    "Logoff": set(),
    "Challenge": set(),
    "Ping": set(),
    "QueueStatus": set(),
    "Originate": {"originate"},
    "Hangup": {"system", "call"},
    "Redirect": {"call"},
    "Setvar": {"call"},
    "Getvar": {"call", "reporting"},
    "DeviceStateList": {"call", "reporting"},
    "CoreShowChannels": {"system", "reporting"},
    "StopMixMonitor": {"system", "call"},
    "MixMonitor": {"system"},
    "Command": {"command"},
}
#: Actions the AMI facade offers but the shipped user may not run (nothing in the backend calls them).
DENIED = {"MixMonitor": "mixmonitor", "Command": "command"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five files rendered once by the CLI into a temporary folder."""
    root = tmp_path_factory.mktemp("asterisk")
    assert render(root) == 0
    return root


def sections(rendered: Path, name: str) -> list[Section]:
    return parse_conf(rendered / "out" / name)


def one(found: list[Section], name: str) -> Section:
    matches = [s for s in found if s.name == name]
    assert len(matches) == 1, f"expected one [{name}], found {len(matches)}"
    return matches[0]


def agents() -> list[AgentConfig]:
    return list(read_acd_folder(REPO_ROOT / "queue").config.agents.values())


def dialplan(rendered: Path) -> Dialplan:
    return Dialplan.parse((rendered / "out" / "extensions.conf").read_text(encoding="utf-8"))


def steps_of(plan: Dialplan, context: str, exten: str) -> list[Step]:
    found = plan.find(context, exten)
    assert found is not None, f"{exten}@{context} is not in the dialplan"
    return found[1]


def test_every_file_is_rendered_and_parses(rendered: Path) -> None:
    """All five files are written, fully filled in, and pyst2 parses each into sections."""
    out = rendered / "out"
    assert sorted(p.name for p in out.iterdir()) == sorted(CONF_FILES)
    for name in CONF_FILES:
        text = (out / name).read_text(encoding="utf-8")
        assert "{{" not in text and "}}" not in text, name
        assert sections(rendered, name), name
        assert (out / name).stat().st_mode & 0o777 == 0o640


def test_manager_user_has_exactly_the_classes_the_backend_needs(rendered: Path) -> None:
    """The AMI user reads system,call,agent and writes call,originate,reporting; never 'all'."""
    found = sections(rendered, "manager.conf")
    user = one(found, "callcenter")
    assert set(user.get("read").split(",")) == {"system", "call", "agent"}  # type: ignore[union-attr]
    assert set(user.get("write").split(",")) == {"call", "originate", "reporting"}  # type: ignore[union-attr]
    assert list(AMI_READ) == user.get("read").split(",")  # type: ignore[union-attr]
    assert list(AMI_WRITE) == user.get("write").split(",")  # type: ignore[union-attr]
    assert user.get("secret") == "Ami-Secret-1"
    assert [s.name for s in found] == ["general", "callcenter"], "no other AMI user is shipped"


def test_every_action_the_client_sends_is_allowed_or_deliberately_denied() -> None:
    """Each AMI action in the client is classified; the granted classes allow all but the denied ones."""
    sources = [
        REPO_ROOT / "callcenter/telephony/ami_commands.py",
        REPO_ROOT / "callcenter/telephony/ami_client.py",
    ]
    sent: set[str] = set()
    for path in sources:
        text = path.read_text(encoding="utf-8")
        sent |= set(re.findall(r'send_action\(\s*"(\w+)"', text))
        sent |= set(re.findall(r'_request\(\s*protocol,\s*"(\w+)"', text))
        sent |= set(re.findall(r'"Action":\s*"(\w+)"', text))
    assert {"Originate", "CoreShowChannels", "DeviceStateList", "Login"} <= sent
    unknown = sent - set(ACTION_CLASSES)
    assert not unknown, f"classify these AMI actions and revisit manager.conf: {sorted(unknown)}"
    granted = set(AMI_WRITE)
    for action in sent:
        needed = ACTION_CLASSES[action]
        allowed = not needed or bool(needed & granted)
        assert allowed == (action not in DENIED), action


def test_denied_actions_are_not_used_by_the_backend() -> None:
    """Nothing outside the AMI facade calls MixMonitor or Command, which the shipped user may not run."""
    for path in (REPO_ROOT / "callcenter").rglob("*.py"):
        if path.name == "ami_commands.py" or "sim" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        for method in DENIED.values():
            assert f".{method}(" not in text, f"{path} calls AMI {method}: grant its class in manager.conf"


def test_ami_listens_privately_and_admits_only_the_backend(rendered: Path) -> None:
    """bindaddr is the private AMI host; the user denies everyone and permits the backend's /32 only."""
    found = sections(rendered, "manager.conf")
    general = one(found, "general")
    bind = ipaddress.ip_address(general.get("bindaddr") or "")
    assert bind.is_private and not bind.is_unspecified and str(bind) == AMI_HOST
    assert general.get("webenabled") == "no"
    user = one(found, "callcenter")
    assert user.all("deny") == ["0.0.0.0/0.0.0.0", "::/0"]
    assert user.all("permit") == [f"{BACKEND}/255.255.255.255"]
    # Asterisk applies deny/permit in order: the permit must come after the denies.
    keys = [key for key, _ in user.items if key in ("deny", "permit")]
    assert keys == ["deny", "deny", "permit"]


@pytest.mark.parametrize("host", ["8.8.8.8", "0.0.0.0", "asterisk.example.org"])
def test_a_public_or_unspecified_ami_address_is_refused(tmp_path: Path, host: str) -> None:
    """Rendering refuses an AMI bindaddr that is public, every interface, or not an IP address."""
    settings = make_settings(tmp_path)
    public = Settings(ami=AmiSettings(host=host, secret="x1"), agi=settings.agi, paths=settings.paths)
    with pytest.raises(ConfigError) as caught:
        render_asterisk_conf(
            public, RenderOptions(trunk_host="203.0.113.7"), [], {}, REPO_ROOT / "asterisk-conf"
        )
    assert any("ami.host" in problem for problem in caught.value.problems)


def test_did_goes_to_fastagi_then_spool_then_survival_queue(rendered: Path) -> None:
    """The DID stamps arrival, calls the backend, checks CC_HANDLED, spools, then Queue(survival)."""
    steps = steps_of(dialplan(rendered), contract.INBOUND_CONTEXT, "0800507506")
    apps = [(s.app, s.data) for s in steps]
    index = {app: i for i, (app, _) in reversed(list(enumerate(apps)))}
    assert ("Set", "CC_ARRIVED=${EPOCH}") in apps
    assert apps[index["AGI"]] == ("AGI", f"agi://{BACKEND}:4573/hotline")
    handled = next(i for i, (app, data) in enumerate(apps) if app == "GotoIf" and "${CC_HANDLED}" in data)
    spool = next(i for i, (app, data) in enumerate(apps) if app == "AGI" and "survival_spool.py" in data)
    queue = next(i for i, (app, data) in enumerate(apps) if app == "Queue")
    assert index["Set"] < index["AGI"] < handled < spool < queue
    assert apps[handled][1] == '$["${CC_HANDLED}" = "1"]?done'
    assert apps[spool][1].split(",")[1] == "${AGISTATUS}"
    assert apps[queue][1].split(",")[0] == contract.SURVIVAL_QUEUE
    assert steps[-1].label == "done" and steps[-1].app == "Hangup"
    # Whoever Queue gives back was not answered: a voice message, keyed by Uniqueid like the spool.
    assert [app for app, _ in apps[queue + 1 :]] == ["Playback", "Record", "Hangup"]
    assert "${UNIQUEID}.wav" in apps[queue + 2][1]
    # The contract's variable names are the ones the dialplan uses.
    text = (rendered / "out" / "extensions.conf").read_text(encoding="utf-8")
    for variable in (contract.HANDLED_VARIABLE, contract.ARRIVED_VARIABLE, contract.SPY_MODE_VARIABLE):
        assert variable in text
    assert (
        f"${{{contract.CALLBACK_ID_VARIABLE}}}" in text and f"${{{contract.CALLBACK_AGENT_VARIABLE}}}" in text
    )


def test_pyst2_sees_the_same_dialplan(rendered: Path) -> None:
    """pyst2 reads the hotline context's exten/same lines with the FastAGI URL as the sim parser does."""
    inbound = one(sections(rendered, "extensions.conf"), contract.INBOUND_CONTEXT)
    lines = [value for key, value in inbound.items if key in ("exten", "same")]
    assert f"n,AGI(agi://{BACKEND}:4573/hotline)" in lines
    assert any(line.startswith("n,Queue(survival,") for line in lines)


def test_unexpected_number_formats_still_reach_the_hotline(rendered: Path) -> None:
    """+380…, 380… and a missing DID go to the main hotline number, never to a hang-up."""
    plan = dialplan(rendered)
    for exten in ("+380800507506", "380800507506", "s"):
        steps = steps_of(plan, contract.INBOUND_CONTEXT, exten)
        assert steps[-1].app == "Goto" and steps[-1].data == "0800507506,1"


def test_every_context_the_backend_names_exists(rendered: Path) -> None:
    """Callback, transfer and spy contexts exist, and the ACD, IVR and wallboard use the contract's names."""
    plan = dialplan(rendered)
    for context in (
        *contract.BACKEND_CONTEXTS,
        contract.SPY_CONTEXT,
        contract.AGENT_PHONES_CONTEXT,
        contract.SUPERVISOR_PHONES_CONTEXT,
    ):
        assert context in plan.contexts, context
    # The wallboard's listen-in modes are the contract's (it sets CC_SPY_MODE to one of them).
    assert tuple(wallboard.CHANSPY_OPTIONS) == contract.SPY_MODES
    assert acd_service.CALLBACK_CONTEXT == contract.CALLBACK_CONTEXT
    assert acd_service.AcdSettings().callback_context == contract.CALLBACK_CONTEXT
    default_transfer = next(
        f.default for f in dataclasses.fields(IvrServices) if f.name == "transfer_channel"
    )
    assert isinstance(default_transfer, str)
    assert default_transfer.format(number="7333") == contract.transfer_channel("7333")


def test_callbacks_dial_ukrainian_numbers_on_the_trunk_only(rendered: Path) -> None:
    """A callback to 0XXXXXXXXX or 380XXXXXXXXX dials PJSIP/<number>@trunk; a foreign number hangs up."""
    plan = dialplan(rendered)
    for number in ("0501234567", "380501234567", "+380501234567"):
        first = steps_of(plan, contract.CALLBACK_CONTEXT, number)[0]
        assert (first.app, first.data) == ("Set", "CC_NUMBER=${EXTEN}")
    dial = [s for s in steps_of(plan, contract.CALLBACK_CONTEXT, "dial") if s.app == "Dial"]
    assert dial[0].data.startswith(f"PJSIP/${{CC_NUMBER}}@{contract.TRUNK_ENDPOINT},")
    foreign = steps_of(plan, contract.CALLBACK_CONTEXT, "0037122334455")
    assert [s.app for s in foreign] == ["NoOp", "Hangup"]


def test_every_transfer_number_of_the_shipped_flows_is_dialable(rendered: Path) -> None:
    """Each transfer node's number in ivr_flows/*.yaml has an extension in hotline-transfer."""
    plan = dialplan(rendered)
    numbers = []
    for path in (REPO_ROOT / "ivr_flows").glob("*.yaml"):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for node in (document.get("nodes") or {}).values():
            if isinstance(node, dict) and node.get("type") == "transfer":
                numbers.append(str(node["number"]))
    assert "7333" in numbers
    for number in numbers:
        assert plan.exists(contract.TRANSFER_CONTEXT, number), number


def test_every_agent_has_an_extension_a_spy_target_and_a_survival_seat(rendered: Path) -> None:
    """Each agent of queue/ is dialable from phones, spied on by id, and a survival queue member."""
    plan = dialplan(rendered)
    members = one(sections(rendered, "queues.conf"), contract.SURVIVAL_QUEUE).all("member")
    assert len(members) == len(agents()) > 0
    for agent in agents():
        device = agent.device or f"PJSIP/{agent.id}"
        dial = steps_of(plan, contract.AGENT_PHONES_CONTEXT, agent.id)[0]
        assert (dial.app, dial.data) == ("Dial", f"{device},30")
        spy = steps_of(plan, contract.SPY_CONTEXT, agent.id)[0]
        assert spy.data == f"CC_SPY_DEVICE={device}"
        assert f"{device},0,{agent.id},{device}" in members
    chanspy = [s for s in steps_of(plan, contract.SPY_CONTEXT, "spy") if s.app == "ChanSpy"]
    assert chanspy[0].data == "${CC_SPY_DEVICE}-,${CC_SPY_OPTIONS}"


def test_every_agent_and_supervisor_has_an_endpoint_aor_and_auth(rendered: Path) -> None:
    """pjsip.conf has a phone (endpoint, AOR, auth with the file's password) per agent and supervisor."""
    found = sections(rendered, "pjsip.conf")
    passwords = load_phone_passwords(rendered / "phone-passwords", [])
    expected = {a.id: contract.AGENT_PHONES_CONTEXT for a in agents()} | {
        "sup1": contract.SUPERVISOR_PHONES_CONTEXT
    }
    for name, context in expected.items():
        kinds = {effective(found, s)["type"][0]: effective(found, s) for s in found if s.name == name}
        assert set(kinds) == {"endpoint", "aor"}, name
        endpoint, aor = kinds["endpoint"], kinds["aor"]
        assert endpoint["context"] == [context]
        assert endpoint["aors"] == [name] and endpoint["auth"] == [f"{name}-auth"]
        assert endpoint["direct_media"] == ["no"]
        assert aor["max_contacts"] == ["1"]
        auth = effective(found, one(found, f"{name}-auth"))
        assert auth["type"] == ["auth"] and auth["username"] == [name]
        assert auth["password"] == [passwords[name]] and len(passwords[name]) >= 20
    trunk = {
        effective(found, s)["type"][0]: effective(found, s)
        for s in found
        if s.name == contract.TRUNK_ENDPOINT
    }
    assert trunk["endpoint"]["context"] == [contract.INBOUND_CONTEXT]
    assert one(found, f"{contract.TRUNK_ENDPOINT}-identify").get("match") == "203.0.113.7"


def test_music_on_hold_has_the_default_class(rendered: Path) -> None:
    """musiconhold.conf defines the 'default' class the backend and the survival queue play."""
    moh = one(sections(rendered, "musiconhold.conf"), "default")
    assert moh.get("mode") == "files" and moh.get("directory")
    assert one(sections(rendered, "queues.conf"), contract.SURVIVAL_QUEUE).get("musicclass") == "default"


def test_existing_files_are_kept_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A second render refuses to overwrite (nothing written, exit 1); --force overwrites."""
    assert render(tmp_path) == 0
    target = tmp_path / "out" / "extensions.conf"
    target.write_text("; edited by hand\n", encoding="utf-8")
    assert render(tmp_path) == 1
    assert "--force" in capsys.readouterr().err
    assert target.read_text(encoding="utf-8") == "; edited by hand\n"
    assert render(tmp_path, "--force") == 0
    assert "[from-pstn]" in target.read_text(encoding="utf-8")


def test_phone_passwords_survive_a_new_render(tmp_path: Path) -> None:
    """Rendering again keeps every phone's password; a new phone gets a new one; the file is 0600."""
    assert render(tmp_path) == 0
    first = load_phone_passwords(tmp_path / "phone-passwords", [])
    assert render(tmp_path, "--force", "--supervisor-phone", "sup2") == 0
    second = load_phone_passwords(tmp_path / "phone-passwords", [])
    assert {k: second[k] for k in first} == first
    assert set(second) - set(first) == {"sup2"}
    assert (tmp_path / "phone-passwords").stat().st_mode & 0o777 == 0o600


def test_standby_backend_is_tried_before_the_survival_path(tmp_path: Path) -> None:
    """With --standby-address the DID calls the standby when the active did not take the call."""
    assert render(tmp_path, "--standby-address", "10.20.0.6", "--did", "0800505600=hotline") == 0
    plan = Dialplan.parse((tmp_path / "out" / "extensions.conf").read_text(encoding="utf-8"))
    apps = [(s.app, s.data) for s in steps_of(plan, contract.INBOUND_CONTEXT, "0800505600")]
    agis = [data for app, data in apps if app == "AGI"]
    assert agis[:2] == [f"agi://{BACKEND}:4573/hotline", "agi://10.20.0.6:4573/hotline"]
    manager = parse_conf(tmp_path / "out" / "manager.conf")
    assert one(manager, "callcenter").all("permit") == [
        f"{BACKEND}/255.255.255.255",
        "10.20.0.6/255.255.255.255",
    ]


def test_bad_values_are_all_reported_and_nothing_is_written(tmp_path: Path) -> None:
    """A secret with ';', a DID with letters and an agent with a comma in its device fail together."""
    settings = make_settings(tmp_path)
    bad = Settings(ami=AmiSettings(host=AMI_HOST, secret="a;b"), agi=settings.agi, paths=settings.paths)
    options = RenderOptions(trunk_host="203.0.113.7", dids=(("0800abc", "hotline"),))
    agent = AgentConfig(id="op1", device="PJSIP/op1,evil")
    with pytest.raises(ConfigError) as caught:
        render_asterisk_conf(bad, options, [agent], {"op1": "x" * 24}, REPO_ROOT / "asterisk-conf")
    text = "\n".join(caught.value.problems)
    assert "ami.secret" in text and "0800abc" in text and "device of agent op1" in text


def test_nat_address_is_given_to_the_transport_only_when_asked(rendered: Path, tmp_path: Path) -> None:
    """--external-address adds PJSIP's external addresses and the private networks; by default none."""
    plain = one(sections(rendered, "pjsip.conf"), "transport-udp")
    assert plain.get("external_media_address") is None
    assert render(tmp_path, "--external-address", "192.0.2.50") == 0
    transport = one(parse_conf(tmp_path / "out" / "pjsip.conf"), "transport-udp")
    assert (
        transport.get("external_media_address") == transport.get("external_signaling_address") == "192.0.2.50"
    )
    assert "10.0.0.0/8" in transport.all("local_net") and "192.168.0.0/16" in transport.all("local_net")


def test_voice_messages_go_to_the_absolute_recordings_folder_of_the_settings(tmp_path: Path) -> None:
    """An absolute paths.recordings_dir is where the survival voice message is recorded."""
    base = make_settings(tmp_path)
    settings = Settings(
        ami=base.ami, agi=base.agi, paths=dataclasses.replace(base.paths, recordings_dir=Path("/srv/rec"))
    )
    assert render(tmp_path, settings=settings) == 0
    plan = Dialplan.parse((tmp_path / "out" / "extensions.conf").read_text(encoding="utf-8"))
    record = [s for s in steps_of(plan, contract.INBOUND_CONTEXT, "0800507506") if s.app == "Record"]
    assert record[0].data.startswith("/srv/rec/survival/${UNIQUEID}.wav,")


def test_a_supervisor_phone_named_like_an_agent_phone_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two phones with one name would be one PJSIP endpoint: the render fails and writes nothing."""
    assert render(tmp_path, "--supervisor-phone", "op101") == 1
    assert "phone op101 is listed twice" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_parser_helper_reads_what_pyst2_alone_cannot(tmp_path: Path) -> None:
    """pyst2 rejects '[name](template)' headers and keeps the blank after '='; the helper handles both."""
    lines = ["[base](!)\n", "type = aor\n", "[op1](base)\n", "max_contacts = 1\n"]
    with pytest.raises(asterisk.config.ParseError):
        TextConfig("x.conf", list(lines))
    path = tmp_path / "x.conf"
    path.write_text("".join(lines), encoding="utf-8")
    base, phone = parse_conf(path)
    assert base.is_template and not phone.is_template and phone.templates == ("base",)
    assert effective([base, phone], phone) == {"type": ["aor"], "max_contacts": ["1"]}
