"""``callcenter asterisk-conf render --out DIR``: write the Asterisk configuration for this backend.

Fills ``asterisk-conf/*.conf.tmpl`` (or ``--templates DIR``) from the settings (AMI host, port,
user and secret; the FastAGI port), the agents of ``paths.queue_dir`` and the flags below, and
writes ``manager.conf``, ``extensions.conf``, ``pjsip.conf``, ``queues.conf`` and
``musiconhold.conf`` into ``--out``. Existing files are never overwritten without ``--force``,
and nothing at all is written when any value is unusable: every problem is printed, the exit
status is 1. Phone passwords live in ``--phone-passwords`` (created on the first render, then
reused), so rendering again after adding an agent keeps every other phone registered.

The lead wires it into ``cli.py`` with ``add_asterisk_conf_parser(sub)`` and, in ``_dispatch``,
``if args.command == "asterisk-conf": return asterisk_conf_command(settings, args)``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from callcenter.config import Settings
from callcenter.errors import ConfigError
from callcenter.services.queue_config import read_acd_folder
from callcenter.telephony.asterisk_conf import (
    RenderOptions,
    load_phone_passwords,
    phone_names,
    render_asterisk_conf,
    write_rendered,
)

__all__ = ["add_asterisk_conf_parser", "asterisk_conf_command"]

DEFAULT_TEMPLATES = Path("asterisk-conf")
DEFAULT_PASSWORDS = Path("var/asterisk/phone-passwords")


def _did(text: str) -> tuple[str, str]:
    number, _, flow = text.partition("=")
    return number.strip(), (flow.strip() or "hotline")


def add_asterisk_conf_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``asterisk-conf render`` to the ``callcenter`` command's subparsers; returns its parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "asterisk-conf", help="render the Asterisk configuration (manager, dialplan, PJSIP, queues, MOH)"
    )
    sub = parser.add_subparsers(dest="asterisk_conf_command", metavar="ASTERISK_CONF_COMMAND", required=True)
    render = sub.add_parser("render", help="fill asterisk-conf/*.conf.tmpl into --out DIR")
    render.add_argument("--out", type=Path, required=True, help="folder to write the .conf files into")
    render.add_argument("--force", action="store_true", help="overwrite files that exist in --out")
    render.add_argument(
        "--templates", type=Path, default=DEFAULT_TEMPLATES, help="template folder (default: asterisk-conf)"
    )
    render.add_argument(
        "--phone-passwords",
        type=Path,
        default=DEFAULT_PASSWORDS,
        help=f"SIP password file of the phones, created and extended as needed (default: {DEFAULT_PASSWORDS})",
    )
    render.add_argument("--trunk-host", required=True, help="address of the operator's SIP trunk")
    render.add_argument("--trunk-port", type=int, default=5060, help="SIP port of the trunk")
    render.add_argument("--trunk-username", help="register to the trunk as this user (with --trunk-secret)")
    render.add_argument("--trunk-secret", help="password of the trunk registration")
    render.add_argument(
        "--did",
        dest="dids",
        action="append",
        type=_did,
        metavar="NUMBER[=FLOW]",
        help="a hotline number and the IVR flow answering it (repeatable; default 0800507506=hotline)",
    )
    render.add_argument(
        "--backend-address",
        help="where Asterisk reaches the backend, the only host AMI admits (default: agi.host)",
    )
    render.add_argument("--standby-address", help="the standby backend of an active/standby pair")
    render.add_argument(
        "--supervisor-phone",
        dest="supervisors",
        action="append",
        default=[],
        metavar="NAME",
        help="a supervisor's PJSIP phone with the listen-in feature codes (repeatable)",
    )
    render.add_argument("--sip-bind", default="0.0.0.0", help="address PJSIP listens on")
    render.add_argument("--external-address", help="the PBX's public address when it is behind NAT")
    render.add_argument("--language", default="uk", help="channel language of hotline calls")
    return parser


def asterisk_conf_command(settings: Settings, args: argparse.Namespace) -> int:
    """Render into ``args.out``; the exit status (1 with every problem on stderr)."""
    options = RenderOptions(
        trunk_host=args.trunk_host,
        trunk_port=args.trunk_port,
        trunk_username=args.trunk_username,
        trunk_secret=args.trunk_secret,
        dids=tuple(args.dids) if args.dids else RenderOptions.dids,
        backend_address=args.backend_address,
        standby_address=args.standby_address,
        supervisors=tuple(args.supervisors),
        sip_bind=args.sip_bind,
        external_address=args.external_address,
        language=args.language,
        pbx_spool_dir=_pbx_path(settings.paths.spool_dir, RenderOptions.pbx_spool_dir),
        pbx_recordings_dir=_pbx_path(settings.paths.recordings_dir, RenderOptions.pbx_recordings_dir),
    )
    try:
        agents = list(read_acd_folder(settings.paths.queue_dir).config.agents.values())
        passwords = load_phone_passwords(args.phone_passwords, phone_names(agents, options))
        files = render_asterisk_conf(settings, options, agents, passwords, args.templates)
        written = write_rendered(files, args.out, force=args.force)
    except (ConfigError, OSError) as exc:
        print("callcenter asterisk-conf render: nothing written:", file=sys.stderr)
        for problem in exc.problems if isinstance(exc, ConfigError) else [str(exc)]:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    print(
        f"{len(written)} file(s) written for {len(agents)} agent(s); copy them to /etc/asterisk and run "
        "`asterisk -rx 'core reload'`",
        file=sys.stderr,
    )
    return 0


def _pbx_path(setting: Path, default: str) -> str:
    """A folder the PBX writes and the backend reads: the setting when absolute (one shared path
    on both hosts), else the PBX-side default (a relative path means a development checkout)."""
    return str(setting) if setting.is_absolute() else default
