"""``callcenter demo``: the backend, the simulated PBX and the embedded PostgreSQL on one machine.

The demo runs the same ``app.run`` as production and adds, as an extra service, the simulated
PBX (``callcenter.sim``), which talks to the backend only over the real AMI and FastAGI wire
protocols. On top of it:

* demo users, one per role (and one per operator, whose login is the operator's ACD id so the
  agent desk knows whose phone rings), with passwords made on the first start and kept in
  ``var/demo/credentials.txt`` (mode 600) so a restart prints the same ones;
* the operators logged in to the ACD, two of them paused, so the wallboard has every state;
* callers arriving on a day-shaped curve compressed into ``DAY_MINUTES`` real minutes, who
  choose a topic, ask for an operator or a status, and sometimes give up waiting;
* the working hours of ``queue/`` copied to ``var/demo/queue/`` with the office schedule open
  around the clock, so calls reach agents whatever the hour the demo is started (said at start).

Data lives in ``var/`` so stopping (Ctrl-C) and starting again keeps it. The demo's own folder
(``var/demo``) sits next to the embedded database's folder (``database.data_dir``, ``var/pg`` by
default), so a run with another data folder (a test's) leaves a developer's ``var/demo`` alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import re
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from callcenter.app import Runtime, run
from callcenter.config import Settings
from callcenter.errors import ValidationError
from callcenter.logs import get_logger
from callcenter.sim.ami_server import AmiUser
from callcenter.sim.clock import SimClock
from callcenter.sim.load import SimulatedPbx, day_curve, run_load
from callcenter.sim.models import AgentPhone, CallerModel, Distribution
from callcenter.storage.users import Role, create_user, get_user_by_login
from callcenter.web.auth_passwords import PasswordHasher

__all__ = ["DAY_MINUTES", "demo_dir", "run_demo"]

log = get_logger(__name__)

#: One working day of the arrival curve is replayed every this many real minutes.
DAY_MINUTES = 12.0
#: Calls per hour at the peak of the (compressed) day.
PEAK_PER_HOUR = 360.0
#: Callers already on the line when the demo starts, so the first minute always has calls that
#: end (random arrivals alone sometimes left the wallboard and the totals empty for a minute).
OPENING_CALLS = 4
#: The simulated phone on the supervisor's desk (listen / whisper / barge ring it).
SUPERVISOR_PHONE = "sup01"
#: Wrap-up seconds in the demo's copy of the queue files.
DEMO_WRAP_UP_S = 5
#: The authority whose inbox the demo's authority user sees (one of the shipped authorities).
DEMO_AUTHORITY = "oda-social"
#: Operators left logged out and paused at start, so the wallboard shows every state.
PAUSED = {"op109": "break"}
LOGGED_OUT = {"op110"}


def demo_dir(settings: Settings) -> Path:
    """The demo's folder (credentials, queue copy): ``demo`` next to the embedded database's folder."""
    return settings.database.data_dir.parent / "demo"


def _demo_settings(settings: Settings) -> Settings:
    """Point AMI at the simulated PBX and the ACD at the demo's copy of the queue files."""
    queue_dir = demo_dir(settings) / "queue"
    if queue_dir.exists():
        shutil.rmtree(queue_dir)
    shutil.copytree(settings.paths.queue_dir, queue_dir)
    hours = queue_dir / "hours.yaml"
    text = hours.read_text(encoding="utf-8")
    text = re.sub(r'weekly: \{mon-fri: "08:00-17:00"\}', 'weekly: {mon-sun: "00:00-24:00"}', text)
    hours.write_text(text, encoding="utf-8")
    # Short wrap-ups, so a call finishes (and reaches the reports and the wallboard's totals)
    # within a minute or two of the demo's start rather than after the real two-minute wrap-up.
    queues = queue_dir / "queues.yaml"
    queues.write_text(
        re.sub(r"wrap_up_s: \d+", f"wrap_up_s: {DEMO_WRAP_UP_S}", queues.read_text(encoding="utf-8")),
        encoding="utf-8",
    )
    secret = settings.ami.secret or "demo-" + secrets.token_hex(8)
    return dataclasses.replace(
        settings,
        ami=dataclasses.replace(settings.ami, enabled=True, host="127.0.0.1", secret=secret, auth="md5"),
        supervise=dataclasses.replace(settings.supervise, phones=(f"supervisor=PJSIP/{SUPERVISOR_PHONE}",)),
        paths=dataclasses.replace(settings.paths, queue_dir=queue_dir),
    )


async def _demo_users(runtime: Runtime) -> list[tuple[str, str, str]]:
    """Create the demo users once; return (login, role, password) for each."""
    path = demo_dir(runtime.settings) / "credentials.txt"
    known: dict[str, tuple[str, str]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            login, role, password = line.split("\t")
            known[login] = (role, password)
    wanted = [("admin", Role.ADMIN), ("supervisor", Role.SUPERVISOR), ("authority", Role.AUTHORITY)]
    assert runtime.calls is not None
    wanted += [(agent_id, Role.AGENT) for agent_id in sorted(runtime.calls.acd.state.config.agents)]
    hasher = PasswordHasher()
    pool = runtime.database.pool
    for login, role in wanted:
        if login in known and await get_user_by_login(pool, login) is not None:
            continue
        password = secrets.token_urlsafe(9)
        try:
            await create_user(
                pool,
                login,
                role,
                await hasher.hash(password),
                display_name=f"Demo {login}",
                authority_id=DEMO_AUTHORITY if role is Role.AUTHORITY else None,
            )
        except ValidationError:
            continue  # made by hand meanwhile: leave it alone, its password is not ours to print
        known[login] = (role.value, password)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{lg}\t{r}\t{pw}\n" for lg, (r, pw) in sorted(known.items())), encoding="utf-8")
    path.chmod(0o600)
    return [(login, known[login][0], known[login][1]) for login, _ in wanted if login in known]


def _callers(rng: random.Random) -> Iterator[CallerModel]:
    """Citizens: most choose a topic, some ask for an operator, a few check an appeal's status."""
    while True:
        number = (
            "380"
            + rng.choice(["50", "63", "66", "67", "68", "73", "93", "97"])
            + f"{rng.randrange(10**7):07d}"
        )
        choice = rng.choices(["1", "0", "2"], weights=[6, 3, 1])[0]
        yield CallerModel(
            number=number,
            did="0800507506",
            dtmf={"*": choice},
            reaction=Distribution(1.5, 0.5),
            patience=Distribution(rng.choice([60.0, 120.0, 240.0]), 20.0),
            hangup_probability=0.01,
        )


async def _traffic(pbx: SimulatedPbx, stop: asyncio.Event) -> None:
    rng = random.Random()
    curve = day_curve(PEAK_PER_HOUR)
    day_s = DAY_MINUTES * 60.0

    def rate(seconds: float) -> float:
        # One 12-hour working day (08:00-20:00) replayed every DAY_MINUTES real minutes, starting
        # at 10:00 so that the first minute already has callers.
        position = (seconds - 8 * 3600 + day_s / 6) % day_s
        return curve(8 * 3600 + position * (12 * 3600 / day_s))

    callers = _callers(rng)
    opening = [asyncio.create_task(pbx.call(next(callers))) for _ in range(OPENING_CALLS)]
    try:
        while not stop.is_set():
            # In chunks, so finished calls' outcomes are let go rather than kept for the whole run.
            await run_load(pbx, callers, rate_per_hour=rate, duration=300.0, rng=rng)
    finally:
        for task in opening:
            task.cancel()
        await asyncio.gather(*opening, return_exceptions=True)


async def _demo_services(runtime: Runtime) -> AsyncIterator[None]:
    settings = runtime.settings
    assert runtime.calls is not None
    acd = runtime.calls.acd
    phones = [
        AgentPhone(
            endpoint=agent.device.split("/", 1)[-1],
            answer_delay=Distribution(3.0, 1.0),
            # Short talks so the first calls end (and reach the totals) within the demo's first minute.
            talk_time=Distribution(15.0, 5.0),
            no_answer_probability=0.03,
        )
        for agent in acd.state.config.agents.values()
    ]
    phones.append(AgentPhone(endpoint=SUPERVISOR_PHONE, answer_delay=Distribution(2.0, 0.5)))
    pbx = SimulatedPbx(
        # Epoch = now, as a real Asterisk's uniqueids start from its start time: with a fixed
        # epoch a restarted demo would reuse the linkedids of the calls already recorded.
        SimClock(1.0, epoch=time.time()),
        agi_port=runtime.agi.bound_port,
        phones=phones,
        ami_users={settings.ami.username: AmiUser(settings.ami.secret)},
        ami_port=settings.ami.port,
        recordings_dir=settings.paths.recordings_dir,
    )
    await pbx.start()
    for agent_id in acd.state.config.agents:
        if agent_id in LOGGED_OUT:
            continue
        acd.login(agent_id)
        if agent_id in PAUSED:
            acd.pause(agent_id, PAUSED[agent_id])
    users = await _demo_users(runtime)
    base = f"http://{settings.http.host}:{settings.http.port}"
    lines = [
        f"callcenter demo is running at {base}/  (Ctrl-C stops it; data stays in var/)",
        f"  agent desk {base}/desk   flow editor {base}/admin/flows   health {base}/healthz",
        f"  the 'office' schedule is open around the clock in the demo ({settings.paths.queue_dir / 'hours.yaml'})",
        "  demo users (login / role / password):",
        *(f"    {login:12} {role:11} {password}" for login, role, password in users),
    ]
    print("\n".join(lines), flush=True)
    stop = asyncio.Event()
    traffic = asyncio.create_task(_traffic(pbx, stop), name="demo-traffic")
    try:
        yield
    finally:
        stop.set()
        traffic.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await traffic
        await pbx.stop()


async def run_demo(settings: Settings) -> None:
    """Run the demo until Ctrl-C."""
    await run(_demo_settings(settings), extra=_demo_services)
