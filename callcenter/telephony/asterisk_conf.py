"""Render the Asterisk configuration we ship (``asterisk-conf/*.conf.tmpl``) from our settings.

``render_asterisk_conf(settings, options, agents, passwords, templates_dir)`` returns the text
of ``manager.conf``, ``extensions.conf``, ``pjsip.conf``, ``queues.conf`` and
``musiconhold.conf``: hosts and ports from the settings, the AMI user's classes from
:data:`AMI_READ` / :data:`AMI_WRITE`, context names from :mod:`dialplan_contract`, and one phone,
one agent extension and one survival-queue member per agent of ``queue/agents.yaml``.

The templates are read from a folder (``asterisk-conf/`` of the release by default), not from
package data: they are deployer-edited files like ``queue/`` and ``ivr_flows/``, which a
deployment already carries beside the wheel, and the wheel's package-data list does not include
them. Every value is checked before it is written into a file where a newline, a ``;`` (comment)
or a ``,`` (argument separator) would change the meaning; all problems are raised together as
one ``ConfigError``. Nothing here touches the network or the running PBX.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from callcenter.acd.model import AgentConfig
from callcenter.config import Settings
from callcenter.errors import ConfigError

from . import dialplan_contract as contract
from .asterisk_templates import TemplateValue, render_template

__all__ = [
    "AMI_READ",
    "AMI_WRITE",
    "CONF_FILES",
    "RenderOptions",
    "load_phone_passwords",
    "phone_names",
    "render_asterisk_conf",
    "write_rendered",
]

#: The files rendered, each from ``<name>.tmpl`` in the templates folder.
CONF_FILES = ("manager.conf", "extensions.conf", "pjsip.conf", "queues.conf", "musiconhold.conf")

#: AMI read classes of the backend's user, with the events that need each.
AMI_READ: Mapping[str, str] = {
    "system": "FullyBooted and Shutdown: resync after an Asterisk restart, drop the session on shutdown",
    "call": "Newchannel/Newstate/Hangup, Dial*, Bridge*, DeviceStateChange, OriginateResponse, "
    "MusicOnHold*, MixMonitor*: the call tracker, agent phones and callbacks",
    "agent": "Queue*/Agent* events of app_queue: the survival queue, the only calls the backend does not hold",
}
#: AMI write classes, with the actions that need each (an action is allowed by any one of its classes).
AMI_WRITE: Mapping[str, str] = {
    "call": "Hangup, Redirect, Setvar, Getvar, DeviceStateList",
    "originate": "Originate: callbacks and supervisors' listen-in (Application=ChanSpy)",
    "reporting": "CoreShowChannels: the channel resync after every (re)connect",
}

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_DEVICE = re.compile(r"[A-Za-z]+/[A-Za-z0-9_.@/-]+")
_NUMBER = re.compile(r"\+?[0-9]{3,20}")
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:-]*")
_SECRET_FORBIDDEN = re.compile(r"[\s;,\"]")
_UNSPECIFIED = {"0.0.0.0", "::", ""}


@dataclass(frozen=True)
class RenderOptions:
    """What the settings do not say about the PBX (candidates for an ``[asterisk]`` settings section).

    ``backend_address`` is where Asterisk reaches the backend (the FastAGI URL) and the only
    address AMI admits; None means ``agi.host``, which must then be a concrete address.
    ``dids`` maps each hotline number to the IVR flow (FastAGI route) that answers it; the first
    one also takes calls with an unexpected number format and is the outbound caller ID.
    """

    trunk_host: str
    dids: tuple[tuple[str, str], ...] = (("0800507506", "hotline"),)
    backend_address: str | None = None
    standby_address: str | None = None
    trunk_port: int = 5060
    trunk_username: str | None = None
    trunk_secret: str | None = None
    sip_bind: str = "0.0.0.0"
    #: the PBX's public address when it is behind NAT (PJSIP's external_*_address)
    external_address: str | None = None
    language: str = "uk"
    supervisors: tuple[str, ...] = ()
    spool_script: str = "/usr/local/share/callcenter/agi/survival_spool.py"
    pbx_spool_dir: str = "/var/spool/callcenter/survival"
    pbx_recordings_dir: str = "/var/spool/asterisk/callcenter"
    moh_dir: str = "/var/lib/asterisk/moh"
    survival_wait_s: int = 300
    voice_message_s: int = 180
    callback_ring_s: int = 60


def render_asterisk_conf(
    settings: Settings,
    options: RenderOptions,
    agents: Iterable[AgentConfig],
    passwords: Mapping[str, str],
    templates_dir: Path,
) -> dict[str, str]:
    """The rendered files by name; ``ConfigError`` lists every bad value or template problem."""
    problems: list[str] = []
    values = _values(settings, options, list(agents), passwords, problems)
    texts: dict[str, str] = {}
    for name in CONF_FILES:
        path = templates_dir / f"{name}.tmpl"
        try:
            texts[name] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot read the template: {exc}")
    if problems:
        raise ConfigError(problems)
    rendered: dict[str, str] = {}
    for name, text in texts.items():
        try:
            rendered[name] = render_template(text, values, source=str(templates_dir / f"{name}.tmpl"))
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return rendered


def phone_names(agents: Iterable[AgentConfig], options: RenderOptions) -> list[str]:
    """The PJSIP endpoints the renderer creates: agents dialled as ``PJSIP/<name>``, then supervisors."""
    names = [_pjsip_endpoint(a) for a in agents]
    return [n for n in names if n is not None] + list(options.supervisors)


def _pjsip_endpoint(agent: AgentConfig) -> str | None:
    device = agent.device or f"PJSIP/{agent.id}"
    tech, _, resource = device.partition("/")
    # PJSIP/<number>@<endpoint> dials through another endpoint; only a bare name is a phone of ours.
    return resource if tech == "PJSIP" and "@" not in resource and "/" not in resource else None


def _values(
    settings: Settings,
    options: RenderOptions,
    agents: list[AgentConfig],
    passwords: Mapping[str, str],
    problems: list[str],
) -> dict[str, TemplateValue]:
    """Every template value, each checked; problems are appended to ``problems``."""
    backend = options.backend_address or settings.agi.host
    if backend in _UNSPECIFIED:
        problems.append(
            f"agi.host is {settings.agi.host!r} (every interface): give the address Asterisk reaches "
            "the backend at (--backend-address)"
        )
    _check(problems, _HOST, backend, "backend address")
    permits = _ami_permits(backend, options.standby_address, problems)
    _check_ami(settings, problems)
    _check_options(options, problems)
    external: list[Mapping[str, TemplateValue]] = []
    if options.external_address:
        external.append({"address": options.external_address})
    trunk_auth: list[Mapping[str, TemplateValue]] = []
    if options.trunk_username and options.trunk_secret:
        trunk_auth.append({"username": options.trunk_username, "password": options.trunk_secret})
    main_did = options.dids[0][0] if options.dids else ""
    dids: list[Mapping[str, TemplateValue]] = [
        {
            "did": did,
            "flow": flow,
            "agi_url": _agi_url(backend, settings, flow),
            # A one-item list renders the standby attempt, an empty one leaves it out.
            "standby": (
                [{"standby_url": _agi_url(options.standby_address, settings, flow)}]
                if options.standby_address
                else []
            ),
        }
        for did, flow in options.dids
    ]
    agent_items = _agent_items(agents, problems)
    phones = _phone_items(agents, options, passwords, problems)
    return {
        "ami_port": settings.ami.port,
        "ami_bindaddr": settings.ami.host,
        "ami_username": settings.ami.username,
        "ami_secret": settings.ami.secret,
        "ami_permits": permits,
        "ami_read": ",".join(AMI_READ),
        "ami_write": ",".join(AMI_WRITE),
        "dids": dids,
        "main_did": main_did,
        "outbound_cid": main_did,
        "language": options.language,
        "agents": agent_items,
        "phones": phones,
        "trunk_auth": trunk_auth,
        "trunk_host": options.trunk_host,
        "trunk_port": options.trunk_port,
        "sip_bind": options.sip_bind,
        "external": external,
        "spool_script": options.spool_script,
        "spool_dir": options.pbx_spool_dir,
        "pbx_recordings_dir": options.pbx_recordings_dir,
        "moh_dir": options.moh_dir,
        "survival_wait_s": options.survival_wait_s,
        "voice_message_s": options.voice_message_s,
        "callback_ring_s": options.callback_ring_s,
        "inbound_context": contract.INBOUND_CONTEXT,
        "callback_context": contract.CALLBACK_CONTEXT,
        "transfer_context": contract.TRANSFER_CONTEXT,
        "spy_context": contract.SPY_CONTEXT,
        "agent_phones_context": contract.AGENT_PHONES_CONTEXT,
        "supervisor_phones_context": contract.SUPERVISOR_PHONES_CONTEXT,
        "survival_queue": contract.SURVIVAL_QUEUE,
        "trunk_endpoint": contract.TRUNK_ENDPOINT,
    }


def _check_ami(settings: Settings, problems: list[str]) -> None:
    _check_private(problems, settings.ami.host)
    _check(problems, _NAME, settings.ami.username, "ami.username")
    if not settings.ami.secret:
        problems.append("ami.secret is empty: set the AMI secret the backend logs in with")
    elif _SECRET_FORBIDDEN.search(settings.ami.secret):
        problems.append("ami.secret must not contain spaces, ';', ',' or '\"' (manager.conf syntax)")


def _check_options(options: RenderOptions, problems: list[str]) -> None:
    if not options.dids:
        problems.append("no hotline number (--did)")
    for did, flow in options.dids:
        _check(problems, _NUMBER, did, "hotline number")
        _check(problems, _NAME, flow, f"flow of {did}")
    _check(problems, _HOST, options.trunk_host, "trunk host")
    _check(problems, _HOST, options.sip_bind, "SIP bind address")
    for address, what in ((options.external_address, "external"), (options.standby_address, "standby")):
        if address:
            _check(problems, _HOST, address, f"{what} address")
    for value in (options.trunk_username, options.trunk_secret):
        if value is not None and (not value or _SECRET_FORBIDDEN.search(value)):
            problems.append("trunk username and secret must be non-empty, without spaces, ';', ',' or '\"'")
    if bool(options.trunk_username) != bool(options.trunk_secret):
        problems.append("trunk registration needs both a username and a secret")
    _check(problems, _NAME, options.language, "language")


def _agent_items(agents: list[AgentConfig], problems: list[str]) -> list[Mapping[str, TemplateValue]]:
    """One item per agent for the dialplan and the survival queue (id, device, name)."""
    seen: set[str] = set()
    items: list[Mapping[str, TemplateValue]] = []
    for agent in agents:
        device = agent.device or f"PJSIP/{agent.id}"
        _check(problems, _NAME, agent.id, "agent id")
        _check(problems, _DEVICE, device, f"device of agent {agent.id}")
        if any(ch in agent.name for ch in '";\n\r<>'):
            problems.append(f"name of agent {agent.id} must not contain '\"', ';', '<', '>' or a line break")
        if agent.id in seen:
            problems.append(f"agent {agent.id} is listed twice")
        seen.add(agent.id)
        items.append({"id": agent.id, "device": device, "name": agent.name or agent.id})
    return items


def _phone_items(
    agents: list[AgentConfig], options: RenderOptions, passwords: Mapping[str, str], problems: list[str]
) -> list[Mapping[str, TemplateValue]]:
    """One item per PJSIP phone (agents' and supervisors'), with its password and context."""
    owners = {_pjsip_endpoint(a): a for a in agents}
    names = phone_names(agents, options)
    for name in {n for n in names if names.count(n) > 1}:
        problems.append(f"phone {name} is listed twice (an agent's device and a supervisor phone?)")
    phones: list[Mapping[str, TemplateValue]] = []
    for endpoint in dict.fromkeys(names):
        _check(problems, _NAME, endpoint, "phone name")
        password = passwords.get(endpoint, "")
        if not password or _SECRET_FORBIDDEN.search(password):
            problems.append(f"phone {endpoint}: no usable password in the password file")
        owner = owners.get(endpoint)
        supervisor = endpoint in options.supervisors
        phones.append(
            {
                "id": endpoint,
                "name": (owner.name or owner.id) if owner is not None else endpoint,
                "password": password,
                "context": contract.SUPERVISOR_PHONES_CONTEXT
                if supervisor
                else contract.AGENT_PHONES_CONTEXT,
            }
        )
    return phones


def _agi_url(host: str, settings: Settings, flow: str) -> str:
    # An IPv6 literal needs brackets in a URL.
    shown = f"[{host}]" if ":" in host else host
    return f"agi://{shown}:{settings.agi.port}/{flow}"


def _check(problems: list[str], pattern: re.Pattern[str], value: str, what: str) -> None:
    if not pattern.fullmatch(value):
        problems.append(f"{what} {value!r} has characters that are not allowed there")


def _check_private(problems: list[str], host: str) -> None:
    """AMI must listen on a loopback or private address: it is plain text with a shared secret."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        problems.append(f"ami.host {host!r} must be an IP address (it becomes AMI's bindaddr)")
        return
    if not (address.is_loopback or address.is_private) or address.is_unspecified:
        problems.append(
            f"ami.host {host} is not a loopback or private address: AMI must never listen publicly"
        )


def _ami_permits(backend: str, standby: str | None, problems: list[str]) -> list[Mapping[str, TemplateValue]]:
    """The AMI user's permit lines: the backend (and its standby) only, as host networks."""
    permits: list[Mapping[str, TemplateValue]] = []
    for host in (backend, standby):
        if not host or host in _UNSPECIFIED:
            continue
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            problems.append(f"{host!r}: AMI's permit needs the backend's IP address, not a name")
            continue
        network = ipaddress.ip_network(f"{address}/{address.max_prefixlen}")
        # manager.conf writes masks in dotted form for IPv4.
        shown = f"{address}/{network.netmask}" if address.version == 4 else str(network)
        permits.append({"network": shown})
    return permits


def load_phone_passwords(path: Path, names: Iterable[str]) -> dict[str, str]:
    """Phone passwords from ``path`` (``name = password`` lines), adding a fresh one per new phone.

    The file is created (mode 0600) on first use and only ever extended, so rendering again keeps
    every registered phone working; an admin may also write passwords into it by hand.
    """
    passwords: dict[str, str] = {}
    lines: list[str] = []
    if path.exists():
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            name, sep, password = (part.strip() for part in text.partition("="))
            if not sep or not name or not password:
                raise ConfigError([f"{path}:{number}: expected 'name = password'"])
            passwords[name] = password
    added = [name for name in dict.fromkeys(names) if name not in passwords]
    if not added:
        return passwords
    if not lines:
        lines = ["# SIP passwords of the phones in pjsip.conf; kept between renders. Secret."]
    for name in added:
        passwords[name] = secrets.token_urlsafe(18)
        lines.append(f"{name} = {passwords[name]}")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    temporary.replace(path)
    return passwords


def write_rendered(files: Mapping[str, str], out: Path, *, force: bool = False) -> list[Path]:
    """Write the files into ``out``; ``ConfigError`` (and nothing written) if one exists without ``force``.

    Files are mode 0640: manager.conf and pjsip.conf hold secrets, and Asterisk reads them as
    its own user or group.
    """
    targets = [out / name for name in files]
    existing = [str(path) for path in targets if path.exists()]
    if existing and not force:
        raise ConfigError([f"{path} exists; use --force to overwrite" for path in existing])
    out.mkdir(parents=True, exist_ok=True)
    for path in targets:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(files[path.name])
        os.chmod(path, 0o640)
    return targets
