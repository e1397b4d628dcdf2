#!/usr/bin/env python3
"""Survival-path AGI script: spool the caller's number and time when the backend did not take a call.

Asterisk runs it as a classic AGI process (stdin/stdout) on the PBX, with the system Python and
pyst2, from the dialplan's survival branch (see agi/README.md):

    same => n,AGI(/usr/local/share/callcenter/agi/survival_spool.py,${AGISTATUS})

It writes one JSON line per call into one file of the spool directory, atomically (a temporary
file in the same directory, fsync, rename), which the backend turns into appeal records when it
starts (``callcenter.telephony.spool``). Whatever happens, it exits 0 and never raises: the caller
must go on to the survival queue even if the disk is full or Asterisk sent something odd.

Spool directory, first found: the second AGI argument, ``$CALLCENTER_SPOOL_DIR``,
``/var/spool/callcenter/survival``.

Why pyst2 here and not in the backend: a classic AGI script is one short process per call where
blocking stdin/stdout is exactly right, and pyst2 is packaged for the PBX's Python. Its verified
problems (PROTOCOL.md B5) are handled here:

* it echoes every line, caller number included, to stderr, which Asterisk copies to its console
  log: stderr is given /dev/null, so no personal data leaks into the PBX logs;
* its SIGHUP handler makes every later command raise ``AGISIGHUPHangup``, although the commands
  this script needs (GET/SET VARIABLE) are allowed on a dead channel: SIGHUP is ignored instead,
  so a caller who hangs up while we work still gets spooled in full;
* ``HANGUP``/EOF raise a bare ``ValueError`` and 511 ``AGIUnknownError``: every command is wrapped
  and a failure only loses that one optional value;
* ``_quote`` does not escape ``"``: only fixed variable names and values this script builds are
  ever sent.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from typing import Any

DEFAULT_SPOOL_DIR = "/var/spool/callcenter/survival"
SPOOL_ENV = "CALLCENTER_SPOOL_DIR"
FORMAT_VERSION = 1
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def _known(value: str | None) -> str | None:
    """Asterisk writes 'unknown' (or nothing) where it has no value."""
    if value is None:
        return None
    value = value.strip()
    return None if value in ("", "unknown") else value


def _iso(epoch: float) -> str:
    # timezone.utc rather than datetime.UTC: the PBX's system Python may be older than 3.11.
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat(timespec="seconds")  # noqa: UP017


def spool_dir_from(argv: list[str], env: dict[str, str]) -> str:
    """The spool directory: AGI argument 2, then the environment variable, then the default."""
    if len(argv) > 2 and argv[2].strip():
        return argv[2].strip()
    return os.environ.get(SPOOL_ENV) or env.get("agi_arg_2") or DEFAULT_SPOOL_DIR


def build_record(
    env: dict[str, str], reason: str, variables: dict[str, str | None], now: float
) -> dict[str, Any]:
    """The spool line for one call, from the AGI environment and the variables read."""
    arrived = now
    raw_arrived = variables.get("CC_ARRIVED")
    if raw_arrived and raw_arrived.strip().isdigit():
        # Set by the dialplan at the call's first priority, so it is the real arrival time.
        arrived = float(raw_arrived.strip())
    uniqueid = _known(env.get("agi_uniqueid")) or f"unknown-{uuid.uuid4().hex}"
    return {
        "v": FORMAT_VERSION,
        "uniqueid": uniqueid,
        "linkedid": _known(variables.get("CHANNEL(linkedid)")),
        "caller": _known(env.get("agi_callerid")),
        "caller_name": _known(env.get("agi_calleridname")),
        # Local and some trunk channels report no DNID; the extension dialled is the hotline then.
        "dnid": _known(env.get("agi_dnid")) or _known(env.get("agi_extension")),
        "channel": env.get("agi_channel", ""),
        "arrived_at": _iso(arrived),
        "spooled_at": _iso(now),
        "reason": (reason or "UNKNOWN").strip().upper()[:32] or "UNKNOWN",
    }


def write_spool_file(directory: str, record: dict[str, Any]) -> str:
    """Write ``record`` as one JSON line into its own file, atomically; return the final path."""
    os.makedirs(directory, exist_ok=True)
    stamp = record["arrived_at"].replace(":", "").replace("-", "")[:15]
    name = f"{stamp}-{_SAFE_NAME.sub('_', record['uniqueid'])}.json"
    final = os.path.join(directory, name)
    fd, tmp = tempfile.mkstemp(prefix=".spool-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o640)
        # The backend only reads *.json, so it never sees a half-written file.
        os.replace(tmp, final)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return final


def read_env_without_pyst2(stream: Any) -> dict[str, str]:
    """Read the ``agi_*`` header up to the blank line (only used when pyst2 is missing)."""
    env: dict[str, str] = {}
    for line in stream:
        line = line.rstrip("\n")
        if not line:
            break
        key, _, value = line.partition(":")
        env[key.strip()] = value.strip()
    return env


def main(argv: list[str]) -> int:
    """Run as Asterisk's AGI process; always returns 0."""
    try:
        from asterisk.agi import AGI  # pyst2
    except Exception:
        # Without pyst2 the header can still be read by hand: a record without the variables
        # is far better than none.
        env = read_env_without_pyst2(sys.stdin)
        reason = argv[1] if len(argv) > 1 else env.get("agi_arg_1", "")
        try:
            write_spool_file(spool_dir_from(argv, env), build_record(env, reason, {}, time.time()))
        except Exception:
            pass
        return 0
    try:
        agi = AGI(stdin=sys.stdin, stdout=sys.stdout, stderr=open(os.devnull, "w"))
        # Replace pyst2's SIGHUP handler (see the module docstring).
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    except Exception:
        return 0
    env = {str(k): str(v) for k, v in agi.env.items()}
    variables: dict[str, str | None] = {}
    for name in ("CC_ARRIVED", "CHANNEL(linkedid)"):
        try:
            variables[name] = agi.get_variable(name)
        except Exception:
            variables[name] = None
    reason = argv[1] if len(argv) > 1 else env.get("agi_arg_1", "")
    spooled = "1"
    try:
        write_spool_file(spool_dir_from(argv, env), build_record(env, reason, variables, time.time()))
    except Exception:
        # Losing the record is bad; failing the call is worse. Tell the dialplan and go on.
        spooled = "0"
    try:
        agi.set_variable("CC_SPOOLED", spooled)
    except Exception:
        pass
    return 0


if __name__ == "__main__":
    try:
        code = main(sys.argv)
    except BaseException:
        code = 0
    sys.exit(code)
