"""The AMI actions of the simulated Asterisk, with the exact reply texts of Asterisk 22.

Kept apart from the transport in :mod:`callcenter.sim.ami_server`: each handler reads the
request headers and writes replies through its session.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from callcenter.sim.apps import start_mixmonitor, stop_mixmonitor
from callcenter.sim.dialplan import get_value

if TYPE_CHECKING:
    from callcenter.sim.ami_server import AmiSession
    from callcenter.sim.asterisk import OriginateResult

__all__ = ["ActionHandler"]

Headers = list[tuple[str, str]]


class Request:
    """Case-insensitive access to one action's headers (the first of a repeated header wins)."""

    def __init__(self, fields: Headers) -> None:
        self.fields = fields
        self.first: dict[str, str] = {}
        for name, value in fields:
            self.first.setdefault(name.lower(), value)

    def get(self, name: str, default: str = "") -> str:
        """The first value of ``name``."""
        return self.first.get(name.lower(), default)

    def all(self, name: str) -> list[str]:
        """Every value of a repeatable header (``Variable``)."""
        return [v for k, v in self.fields if k.lower() == name.lower()]


class ActionHandler:
    """Runs actions for one session."""

    def __init__(self, session: AmiSession) -> None:
        self.session = session
        self.ast = session.server.ast
        self._handlers: dict[str, Callable[[Request], Awaitable[bool]]] = {
            "login": self.login,
            "challenge": self.challenge,
            "logoff": self.logoff,
            "ping": self.ping,
            "events": self.events,
            "originate": self.originate,
            "redirect": self.redirect,
            "hangup": self.hangup,
            "setvar": self.setvar,
            "getvar": self.getvar,
            "coreshowchannels": self.core_show_channels,
            "devicestatelist": self.device_state_list,
            "queuestatus": self.queue_status,
            "queuesummary": self.queue_summary,
            "queueadd": self.queue_add,
            "queueremove": self.queue_remove,
            "queuepause": self.queue_pause,
            "mixmonitor": self.mixmonitor,
            "stopmixmonitor": self.stop_mixmonitor,
            "command": self.command,
            "filter": self.filter,
        }

    # -- replies ----------------------------------------------------------------------------

    def reply(self, req: Request, response: str, *extra: tuple[str, str], message: str | None = None) -> None:
        """``Response:``, ActionID (only if sent), then ``Message`` or the action's own headers."""
        fields: Headers = [("Response", response)]
        if req.get("ActionID"):
            fields.append(("ActionID", req.get("ActionID")))
        fields.extend(extra)
        if message is not None:
            fields.append(("Message", message))
        self.session.send(fields)

    def ok(self, req: Request, message: str | None = None) -> bool:
        self.reply(req, "Success", message=message)
        return True

    def error(self, req: Request, message: str) -> bool:
        self.reply(req, "Error", message=message)
        return True

    def send_list(
        self,
        req: Request,
        ack: str,
        items: list[tuple[str, Headers]],
        complete: str,
        action_id_last: bool = False,
    ) -> bool:
        """Ack, items carrying the ActionID, then the Complete event with ListItems."""
        self.reply(req, "Success", ("EventList", "start"), message=ack)
        aid = [("ActionID", req.get("ActionID"))] if req.get("ActionID") else []
        for name, body in items:
            fields = [("Event", name), *body, *aid] if action_id_last else [("Event", name), *aid, *body]
            self.session.send(fields)
        self.session.send(
            [("Event", complete), *aid, ("EventList", "Complete"), ("ListItems", str(len(items)))]
        )
        return True

    # -- dispatch ---------------------------------------------------------------------------

    async def handle(self, fields: Headers) -> bool:
        """Run one action; False when the session must close."""
        req = Request(fields)
        name = req.get("Action")
        if not name:
            return self.error(req, "Missing action in request")
        key = name.lower()
        if self.session.user is None and key not in ("login", "challenge", "logoff"):
            return self.error(req, "Permission denied")
        handler = self._handlers.get(key)
        if handler is None:
            self.error(
                req, f"Invalid/unknown command: {name}. Use Action: ListCommands to show available commands."
            )
            self.session.security_event("RequestBadFormat", "Error", ("RequestType", f"Action: {name}"))
            return True
        return await handler(req)

    # -- session ----------------------------------------------------------------------------

    async def challenge(self, req: Request) -> bool:
        if req.get("AuthType").lower() != "md5":
            return self.error(req, "Must specify AuthType")
        self.session.challenge = str(self.ast.rng.randrange(100_000_000, 2_000_000_000))
        self.reply(req, "Success", ("Challenge", self.session.challenge))
        return True

    async def login(self, req: Request) -> bool:
        session = self.session
        user = session.server.users.get(req.get("Username"))
        if req.get("AuthType").lower() == "md5":
            good = user is not None and session.check_key(req.get("Key"), user.secret)
        else:
            good = user is not None and req.get("Secret") == user.secret
        if not good or user is None:
            await self.ast.clock.sleep(1.0)
            self.error(req, "Authentication failed")
            return False
        session.user, session.username = user, req.get("Username")
        if req.get("Events"):
            from callcenter.sim.ami_server import parse_mask

            session.mask = parse_mask(req.get("Events"))
        self.ok(req, "Authentication accepted")
        uptime = str(int(self.ast.clock.now() - self.ast.pbx.booted_at))
        session.event(
            "FullyBooted",
            "system,all",
            [("Uptime", uptime), ("LastReload", uptime), ("Status", "Fully Booted")],
        )
        session.security_event("SuccessfulAuth", "Informational")
        return True

    async def logoff(self, req: Request) -> bool:
        self.reply(req, "Goodbye", message="Thanks for all the fish.")
        return False

    async def ping(self, req: Request) -> bool:
        self.reply(req, "Success", ("Ping", "Pong"), ("Timestamp", f"{self.ast.clock.now():.6f}"))
        return True

    async def events(self, req: Request) -> bool:
        from callcenter.sim.ami_server import parse_mask

        self.session.mask = parse_mask(req.get("EventMask"))
        self.reply(req, "Success", ("Events", "On" if self.session.mask else "Off"))
        return True

    # -- calls ------------------------------------------------------------------------------

    async def originate(self, req: Request) -> bool:
        from callcenter.sim.ami_server import parse_callerid

        target = req.get("Channel")
        if not target:
            return self.error(req, "Channel not specified")
        app, context, exten, priority = (
            req.get("Application"),
            req.get("Context"),
            req.get("Exten"),
            req.get("Priority"),
        )
        if not app and not (context and exten and priority):
            return self.error(req, "Originate with 'Exten' requires 'Context' and 'Priority'")
        variables: list[tuple[str, str]] = []
        for value in req.all("Variable"):
            for part in value.split(","):
                name, _, val = part.partition("=")
                variables.append((name.strip(), val))
        timeout = float(req.get("Timeout") or 30000) / 1000
        callerid = parse_callerid(req.get("CallerID")) if req.get("CallerID") else ("", "")
        call = self.ast.originate(
            target,
            context=context,
            exten=exten,
            priority=priority or "1",
            application=app,
            data=req.get("Data"),
            ring_timeout=timeout,
            callerid=callerid,
            variables=variables,
            channel_id=req.get("ChannelId") or None,
        )
        if req.get("Async").lower() not in ("true", "yes", "1", "on"):
            result = await call
            if result.success:
                return self.ok(req, "Originate successfully queued")
            return self.error(req, "Originate failed")
        self.ok(req, "Originate successfully queued")
        task = self.ast.spawn(call)
        task.add_done_callback(lambda t: self._originate_response(req, app, context, exten, t))
        return True

    def _originate_response(
        self, req: Request, app: str, context: str, exten: str, task: asyncio.Task[OriginateResult]
    ) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        result = task.result()
        fields: Headers = [("Event", "OriginateResponse"), ("Privilege", "call,all")]
        if req.get("ActionID"):
            fields.append(("ActionID", req.get("ActionID")))
        fields += [("Response", "Success" if result.success else "Failure"), ("Channel", result.channel)]
        fields += (
            [("Application", app), ("Data", req.get("Data"))]
            if app
            else [("Context", context), ("Exten", exten)]
        )
        fields += [
            ("Reason", str(result.reason)),
            ("Uniqueid", result.uniqueid),
            ("CallerIDNum", result.cid_num or "<unknown>"),
            ("CallerIDName", result.cid_name or "<unknown>"),
        ]
        if self.session.busy:
            from callcenter.sim.ami_server import format_message

            self.session.held.append(format_message(fields))
        else:
            self.session.send(fields)

    async def redirect(self, req: Request) -> bool:
        chan = self.ast.pbx.find(req.get("Channel"))
        if chan is None:
            return self.error(req, f"Channel does not exist: {req.get('Channel')}")
        context, exten = req.get("Context"), req.get("Exten")
        priority = self.ast._resolve(context, exten, req.get("Priority") or "1")
        if chan.in_pbx:
            chan.redirect = (context, exten, priority)
            chan.kick.set()
        else:
            chan.context, chan.exten = context, exten
            self.ast.start_pbx(chan, context, exten, priority)
        return self.ok(req, "Redirect successful")

    async def hangup(self, req: Request) -> bool:
        pattern = req.get("Channel")
        cause = int(req.get("Cause") or 16)
        pbx = self.ast.pbx
        if len(pattern) > 1 and pattern.startswith("/") and pattern.endswith("/"):
            regex = re.compile(pattern[1:-1])
            hit = [c for c in list(pbx.channels.values()) if regex.search(c.name)]
            for each in hit:
                self._hangup_one(each, cause)
            items = [("ChannelHungup", [("Channel", c.name), ("Uniqueid", c.uniqueid)]) for c in hit]
            return self.send_list(req, "Channels hung up will follow", items, "ChannelsHungupListComplete")
        chan = pbx.find(pattern)
        if chan is None:
            return self.error(req, "No such channel")
        self._hangup_one(chan, cause)
        return self.ok(req, "Channel Hungup")

    def _hangup_one(self, chan: object, cause: int) -> None:
        from callcenter.sim.channels import Channel

        assert isinstance(chan, Channel)
        # The AMI Hangup action raises neither HangupRequest nor SoftHangupRequest.
        chan.soft_hangup_sent = True
        chan.hangup_cause = cause
        chan.hangup_requested.set()
        if not chan.in_pbx and chan.bridge is None:
            self.ast.pbx.hangup(chan)

    async def setvar(self, req: Request) -> bool:
        name, value = req.get("Variable"), req.get("Value")
        if not name:
            return self.error(req, "No variable specified")
        if not req.get("Channel"):
            self.ast.pbx.global_vars[name] = value
            return self.ok(req, "Variable Set")
        chan = self.ast.pbx.find(req.get("Channel"))
        if chan is None:
            return self.error(req, "No such channel")
        self.ast.pbx.set_var(chan, name, value)
        return self.ok(req, "Variable Set")

    async def getvar(self, req: Request) -> bool:
        name = req.get("Variable")
        if not name:
            return self.error(req, "No variable specified")
        if req.get("Channel"):
            chan = self.ast.pbx.find(req.get("Channel"))
            if chan is None:
                return self.error(req, "No such channel")
            value = get_value(chan, name, self.ast.pbx.global_vars) or ""
        else:
            value = self.ast.pbx.global_vars.get(name, "")
        self.reply(req, "Success", ("Variable", name), ("Value", value))
        return True

    async def mixmonitor(self, req: Request) -> bool:
        chan = self.ast.pbx.find(req.get("Channel"))
        if chan is None or not req.get("File"):
            return self.error(req, "Could not start monitoring channel")
        start_mixmonitor(self.ast, chan, req.get("File"))
        self.reply(req, "Success")
        return True

    async def stop_mixmonitor(self, req: Request) -> bool:
        chan = self.ast.pbx.find(req.get("Channel"))
        if chan is None or not stop_mixmonitor(self.ast, chan):
            return self.error(req, "Could not stop monitoring channel")
        self.reply(req, "Success")
        return True

    # -- lists ------------------------------------------------------------------------------

    async def core_show_channels(self, req: Request) -> bool:
        now = self.ast.clock.now()
        items = []
        for chan in self.ast.pbx.channels.values():
            secs = int(now - chan.created)
            items.append(
                (
                    "CoreShowChannel",
                    [
                        *chan.snapshot(),
                        ("Application", chan.application),
                        ("ApplicationData", chan.appdata),
                        ("Duration", f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"),
                        ("BridgeId", chan.bridge.uniqueid if chan.bridge else ""),
                    ],
                )
            )
        return self.send_list(req, "Channels will follow", items, "CoreShowChannelsComplete")

    async def device_state_list(self, req: Request) -> bool:
        items = [
            ("DeviceStateChange", [("Device", d), ("State", s)])
            for d, s in self.ast.pbx.device_states.items()
        ]
        return self.send_list(req, "Device State Changes will follow", items, "DeviceStateListComplete")

    async def queue_status(self, req: Request) -> bool:
        items = self.ast.queues.status_items(req.get("Queue"))
        return self.send_list(
            req, "Queue status will follow", items, "QueueStatusComplete", action_id_last=True
        )

    async def queue_summary(self, req: Request) -> bool:
        items = self.ast.queues.summary_items(req.get("Queue"))
        return self.send_list(
            req, "Queue summary will follow", items, "QueueSummaryComplete", action_id_last=True
        )

    async def queue_add(self, req: Request) -> bool:
        paused = req.get("Paused").lower() in ("true", "yes", "1")
        err = self.ast.queues.add(
            req.get("Queue"),
            req.get("Interface"),
            req.get("MemberName"),
            int(req.get("Penalty") or 0),
            paused,
        )
        return self.error(req, err) if err else self.ok(req, "Added interface to queue")

    async def queue_remove(self, req: Request) -> bool:
        err = self.ast.queues.remove(req.get("Queue"), req.get("Interface"))
        return self.error(req, err) if err else self.ok(req, "Removed interface from queue")

    async def queue_pause(self, req: Request) -> bool:
        paused = req.get("Paused").lower() in ("true", "yes", "1")
        if not self.ast.queues.pause(req.get("Interface"), paused, req.get("Queue"), req.get("Reason")):
            return self.error(req, "Interface not found")
        return self.ok(req, "Interface paused successfully" if paused else "Interface unpaused successfully")

    async def filter(self, req: Request) -> bool:
        from callcenter.sim.ami_server import parse_filter

        if self.session.user is None or "system" not in self.session.user.write:
            return self.error(req, "Permission denied")
        if req.get("Operation").lower() != "add":
            return self.error(req, "Unknown operation")
        try:
            entry = parse_filter(req.get("Filter"), req.get("MatchCriteria"))
            re.compile(entry.pattern if entry.method == "regex" else "")
        except re.error:
            return self.error(req, "Filter Not Added")
        self.session.filters.append(entry)
        return self.ok(req, "Success")

    async def command(self, req: Request) -> bool:
        cmd = req.get("Command").strip().lower()
        if cmd == "core show version":
            out = ["Asterisk 22.10.1 built by sim @ callcenter on a x86_64 running Linux"]
        elif cmd == "core show channels count":
            n = len(self.ast.pbx.channels)
            out = [f"{n} active channels", f"{n // 2} active calls"]
        else:
            self.reply(req, "Error", message="Command output follows")
            return True
        self.reply(req, "Success", ("Message", "Command output follows"), *(("Output", line) for line in out))
        return True
