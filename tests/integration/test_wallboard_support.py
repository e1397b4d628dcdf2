"""Helpers for the wallboard tests: the real app with the ACD runtime, live stats and a recording AMI port.

No tests here; ``test_wallboard*.py`` and the browser test import these.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from callcenter.bus import EventBus
from callcenter.services.acd import AcdService
from callcenter.services.live_stats import LiveStats, LiveStatsSettings
from callcenter.storage.users import Role
from callcenter.web import wallboard
from tests.integration.test_auth_support import add_user, make_app
from tests.unit.test_services_acd_support import loaded

SUPERVISOR_PHONE = "sup101"
SPARE_PHONE = "sup-spare"


@dataclass
class RecordingSpy:
    """An AMI port that records the Originates it is asked for."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    async def originate(
        self,
        channel: str,
        *,
        application: str | None = None,
        data: str | None = None,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        ring_timeout_ms: int = 30_000,
    ) -> str:
        self.calls.append({"channel": channel, "application": application, "data": data})
        return f"spy-{len(self.calls)}"


@dataclass
class WallboardApp:
    """The app under test and what the test reaches into."""

    app: web.Application
    bus: EventBus
    acd: AcdService
    live: LiveStats
    spy: RecordingSpy


def make_wallboard_app(
    pool: Any, *, spy: Any = None, channel_of: Any = None, live_from_events: bool = False
) -> WallboardApp:
    """The real app (``create_web_app``) with the ACD runtime, live stats and the wallboard routes.

    ``live_from_events``: the live stats read nothing from the ACD, only the bus events (as when
    the test itself publishes what the ACD runtime and the call pipeline publish).
    """
    app = make_app(pool)
    bus = EventBus()
    acd = AcdService(loaded(), bus, clock=time.time)
    live = LiveStats(
        bus, None if live_from_events else acd, settings=LiveStatsSettings(longest_wait_alert_s=60)
    )
    recording = RecordingSpy()
    wallboard.setup(
        app,
        live,
        acd=acd,
        ami=spy if spy is not None else recording,
        supervise=wallboard.SuperviseSettings(
            phones={"u-supervisor": SUPERVISOR_PHONE}, allowed_phones=frozenset({SPARE_PHONE})
        ),
        channel_of=channel_of,
    )
    return WallboardApp(app, bus, acd, live, recording)


async def add_people(pool: Any) -> None:
    """One user per role, named ``u-<role>``."""
    await pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    for role in Role:
        authority = "oda-kyiv" if role is Role.AUTHORITY else None
        await add_user(pool, f"u-{role.value}", role, authority_id=authority)
