"""The README's walk-through of ``callcenter demo`` in a real browser (Debian's Chromium).

The demo is started the way ``make demo`` starts it (``python -m callcenter.cli demo``), on free
ports and with its own data folders under ``var/test-demo-<id>/`` (the demo keeps its credentials
next to the database folder, so a developer's ``var/demo`` is never touched). The test reads the
printed logins, signs in as each role and opens every page that role uses, waiting up to a minute
for live data; each page's screenshot goes to ``docs/img/<role>-<page>.png``, the pictures of the
user guides. Then Ctrl-C must leave nothing running, and a second start must find the first run's
appeal records.

A page that is missing or shows no live data is collected as a problem rather than stopping the
walk, so one run reports every broken page; the test fails if there is any.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from callcenter.demo import PAUSED
from callcenter.storage.users import Role
from tests.e2e.browser_support import CHROMIUM, CHROMIUM_ARGS, free_port
from tests.integration.test_auth_support import REPO_ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

IMG_DIR = REPO_ROOT / "docs" / "img"
VIEWPORT = {"width": 1280, "height": 800}
KYIV = ZoneInfo("Europe/Kyiv")
#: The issue's promise: the pages show a living contact center within a minute of the start.
LIVE_WITHIN_S = 60.0
#: A page that has its data at hand (a snapshot, not a future event) shows it this fast.
SHOWN_WITHIN_S = 10.0
#: Whether any node of the flow diagram lies inside the visible part of its scrolling pane.
DIAGRAM_NODE_VISIBLE = """pane => {
  const box = pane.getBoundingClientRect();
  return [...pane.querySelectorAll("g.node")].some(node => {
    const r = node.getBoundingClientRect();
    return r.right > box.left && r.left < box.right && r.bottom > box.top && r.top < box.bottom;
  });
}"""
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
LOGIN_LINE = re.compile(r"^ {4}(\S+) +(admin|supervisor|agent|authority) +(\S+)$")


@dataclass
class Demo:
    """One ``callcenter demo`` process, its ports and what it printed."""

    root: Path
    proc: subprocess.Popen[str]
    http_port: int
    agi_port: int
    ami_port: int
    lines: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    reader: threading.Thread | None = None

    def reap(self) -> int:
        """Wait for the exited process and close its output pipe; the exit code."""
        code = self.proc.wait()
        if self.reader is not None:
            self.reader.join(timeout=5.0)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def data_dir(self) -> Path:
        return self.root / "pg"

    def logins(self) -> dict[str, tuple[str, str]]:
        """login → (role, password), as printed under "demo users"."""
        found = {}
        for line in self.lines:
            match = LOGIN_LINE.match(line)
            if match:
                found[match[1]] = (match[2], match[3])
        return found

    def password(self, login: str) -> str:
        return self.logins()[login][1]


def start_demo(root: Path) -> Demo:
    """Start the demo on free ports with every folder it writes under ``root``; wait for its banner."""
    http_port, agi_port, ami_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env["CALLCENTER_CONFIG"] = "/dev/null"
    sets = {
        "ami.port": str(ami_port),
        "database.data_dir": str(root / "pg"),
        "paths.recordings_dir": str(root / "recordings"),
        "paths.spool_dir": str(root / "spool"),
        "paths.sounds_dir": str(root / "sounds"),
        "log.format": "json",
    }
    command = [sys.executable, "-m", "callcenter.cli"]
    for item, value in sets.items():
        command += ["--set", f"{item}={value}"]
    command += ["demo", "--http-port", str(http_port), "--agi-port", str(agi_port)]
    log: IO[str] = (root / "demo.log").open("a", encoding="utf-8")
    proc = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1
    )
    log.close()
    demo = Demo(root, proc, http_port, agi_port, ami_port)
    assert proc.stdout is not None
    stdout = proc.stdout

    def read() -> None:
        for line in stdout:
            demo.lines.append(line.rstrip("\n"))

    demo.reader = threading.Thread(target=read, daemon=True)
    demo.reader.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    # The banner ends with the users; the agents' lines come last, so wait for a supervisor and
    # an admin and at least one agent.
    while not {"admin", "supervisor", "agent"} <= {role for role, _ in demo.logins().values()}:
        assert proc.poll() is None, f"the demo exited with {proc.returncode}; see {root / 'demo.log'}"
        assert time.monotonic() < deadline, f"no demo banner in time; printed: {demo.lines}"
        time.sleep(0.2)
    time.sleep(0.5)  # the last agents' lines are printed in the same write
    with urllib.request.urlopen(f"{demo.base}/healthz", timeout=5) as response:
        assert response.status == 200
    return demo


def running_with(path: Path) -> list[str]:
    """Command lines of live processes that name ``path`` (e.g. ``postgres -D <path>``)."""
    needle = str(path.resolve()).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # ended meanwhile
        if needle in cmdline:
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def stop_demo(demo: Demo, problems: list[str]) -> None:
    """Ctrl-C the demo; it must exit cleanly and leave no process or listening port behind."""
    demo.proc.send_signal(signal.SIGINT)
    try:
        demo.proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        problems.append(f"Ctrl-C: the demo did not exit within {STOP_TIMEOUT_S:.0f} s")
        demo.proc.kill()
    code = demo.reap()
    if code != 0:
        problems.append(f"Ctrl-C: the demo exited with {code}")
    if (demo.data_dir / "postmaster.pid").exists():
        problems.append("Ctrl-C: the embedded PostgreSQL's postmaster.pid is still there")
    for line in running_with(demo.data_dir):
        problems.append(f"Ctrl-C: still running: {line}")
    for name, port in (("http", demo.http_port), ("agi", demo.agi_port), ("ami", demo.ami_port)):
        if listening(port):
            problems.append(f"Ctrl-C: port {port} ({name}) still accepts connections")


def kill_leftovers(demo: Demo) -> None:
    """After a failed test: end the demo and the embedded server it started, whatever their state."""
    if demo.proc.poll() is None:
        demo.proc.kill()
    demo.reap()
    pid_file = demo.data_dir / "postmaster.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text().split()[0])
        if running_with(demo.data_dir):
            os.kill(pid, signal.SIGQUIT)  # immediate shutdown of the server our demo started
            time.sleep(1.0)


@pytest.fixture
def demo_root() -> Iterator[Path]:
    """A scratch folder under var/ (the embedded server runs as its own user and must reach it)."""
    root = REPO_ROOT / "var" / f"test-demo-{uuid.uuid4().hex[:8]}"
    root.mkdir(parents=True)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Headless Chromium."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def signed_in(browser: Browser, demo: Demo, login: str) -> tuple[BrowserContext, Page]:
    """A browser context signed in through the login page with the printed password."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(f"{demo.base}/login?next=%2Faccount")
    page.locator("#login").fill(login)
    page.locator("#password").fill(demo.password(login))
    page.locator("#submit").click()
    page.wait_for_url(f"{demo.base}/account")
    return context, page


def open_page(page: Page, url: str, who: str, problems: list[str]) -> bool:
    """Go to ``url``; a missing or failing page is a problem (False)."""
    response = page.goto(url)
    status = response.status if response is not None else 0
    if status != 200 or page.url != url:
        problems.append(f"{url} as {who}: HTTP {status}, landed on {page.url}")
        return False
    return True


def wait_until(condition: Callable[[], bool], deadline: float, step_s: float = 1.0) -> bool:
    """Poll ``condition`` until it holds or the monotonic ``deadline`` passes."""
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step_s)


def shoot(page: Page, name: str) -> None:
    """The guide's picture: the visible 1280×800 viewport."""
    IMG_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMG_DIR / f"{name}.png"))


def summary_value(page: Page, field: str) -> int:
    """A whole number from the analytics summary table (0 when the table is not there).

    The column is found by its ``data-field`` (``answered``, ``calls``…), the same in the page's
    Ukrainian and English."""
    headers = page.locator("table#summary thead th")
    fields = [headers.nth(n).get_attribute("data-field") for n in range(headers.count())]
    if field not in fields:
        return 0
    cells = page.locator("table#summary tbody tr").first.locator("td").all_inner_texts()
    text = cells[fields.index(field)].strip()
    return int(text) if text.isdigit() else 0


def wallboard_counts(page: Page) -> tuple[int, ...]:
    """Offered, answered and waiting summed over the board's queues."""
    totals = []
    for name in ("offered", "answered", "waiting"):
        texts = page.locator(f'tr[data-queue] td[data-field="{name}"]').all_inner_texts()
        totals.append(sum(int(t) for t in texts if t.strip().isdigit()))
    return tuple(totals)


def walk_first_run(browser: Browser, demo: Demo, problems: list[str]) -> tuple[str | None, int]:
    """Every role's pages of a fresh demo; returns an appeal record's id and today's ended calls."""
    deadline = demo.started + LIVE_WITHIN_S + 15.0  # + the start itself
    agent = next(login for login, (role, _) in sorted(demo.logins().items()) if role == "agent")

    # The agent's desk first, so it is open when the demo's first calls ring.
    agent_context, desk = signed_in(browser, demo, agent)
    shoot(desk, "agent-account")
    desk_ok = open_page(desk, f"{demo.base}/desk", agent, problems)

    # The login page, as a new user first sees it.
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    login_page = context.new_page()
    # The banner's first address is the site root: it must lead somewhere (any page), not to a 404.
    root = login_page.goto(f"{demo.base}/")
    if root is None or root.status != 200:
        problems.append(f"{demo.base}/ (printed first by the demo): HTTP {root.status if root else 0}")
    if open_page(login_page, f"{demo.base}/login", "anyone", problems):
        shoot(login_page, "all-login")
    context.close()

    # The citizens' public pages need no login.
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    public = context.new_page()
    if open_page(public, f"{demo.base}/zvernennia", "a citizen (no login)", problems):
        if public.locator("form").count() == 0:
            problems.append(f"{demo.base}/zvernennia: no appeal form on the page")
        shoot(public, "citizen-zvernennia")
    if open_page(public, f"{demo.base}/stats", "a citizen (no login)", problems):
        shoot(public, "citizen-stats")
    context.close()

    # "Demo users for each role printed at start": every role the system knows.
    printed_roles = {role for role, _ in demo.logins().values()}
    for role in Role:
        if role.value not in printed_roles:
            problems.append(f"banner: no demo user with the role {role.value!r} is printed")
    authority = next((lg for lg, (role, _) in sorted(demo.logins().items()) if role == "authority"), None)
    if authority is not None:
        authority_context, inbox = signed_in(browser, demo, authority)
        if open_page(inbox, f"{demo.base}/authority", authority, problems):
            shoot(inbox, "authority-inbox")
        authority_context.close()

    supervisor_context, board = signed_in(browser, demo, "supervisor")
    admin_context, flows = signed_in(browser, demo, "admin")

    board_ok = open_page(board, f"{demo.base}/wallboard", "supervisor", problems)
    board_start = wallboard_counts(board) if board_ok else ()

    if open_page(flows, f"{demo.base}/admin/flows", "admin", problems):
        # The page loads its first flow by itself; choose the hotline once that is done.
        flows.wait_for_selector("body[data-ready]", timeout=10_000)
        flows.locator("#flow-select").select_option("hotline")
        flows.wait_for_selector('body[data-ready="hotline"]', timeout=10_000)
        if flows.locator("#diagram g.node").count() == 0:
            problems.append(f"{demo.base}/admin/flows as admin: the hotline flow has no diagram")
        elif not flows.locator("#diagram").evaluate(DIAGRAM_NODE_VISIBLE):
            problems.append(
                f"{demo.base}/admin/flows as admin: the hotline diagram pane shows none of its nodes "
                "until scrolled (it opens at the drawing's empty top-left corner)"
            )
        if "hotline" not in flows.locator("#source").input_value():
            problems.append(f"{demo.base}/admin/flows as admin: the hotline flow's text is not shown")
        # The page opens the diagram on the flow's start node by itself (checked just above).
        shoot(flows, "admin-flows")

    # An agent the demo put on a break: nothing will change their state, so the desk must show
    # the state it is in, not "невідомо" (unknown) until the next change.
    paused = next(iter(PAUSED))
    paused_context, paused_desk = signed_in(browser, demo, paused)
    if open_page(paused_desk, f"{demo.base}/desk", paused, problems):
        state = paused_desk.locator("#agent-state")
        if not wait_until(lambda: bool(state.get_attribute("data-state")), time.monotonic() + SHOWN_WITHIN_S):
            problems.append(
                f"{demo.base}/desk as {paused}: the state reads {state.inner_text()!r} though the demo "
                f"paused the agent ({PAUSED[paused]}); the desk shows a state only after it next changes"
            )
    paused_context.close()

    if desk_ok:
        # A working agent: within the minute the desk shows their state and, as calls come, a card.
        state = desk.locator("#agent-state")
        if not wait_until(lambda: bool(state.get_attribute("data-state")), deadline):
            problems.append(
                f"{demo.base}/desk as {agent}: the agent's state stays {state.inner_text()!r} "
                f"for {LIVE_WITHIN_S:.0f} s though the demo logged the agent in"
            )
        wait_until(lambda: desk.locator("#call-caller").inner_text().strip() != "", deadline)
        shoot(desk, "agent-desk")

    if board_ok:
        if not wait_until(lambda: wallboard_counts(board) != board_start, deadline):
            problems.append(
                f"{demo.base}/wallboard as supervisor: the counts did not move from {board_start}"
            )
        shoot(board, "supervisor-wallboard")

    # Analytics as opened from the README, and for today (Kyiv), once calls have ended.
    analytics = board
    today = dt.datetime.now(KYIV).date().isoformat()
    today_url = f"{demo.base}/analytics?from={today}&to={today}"

    def answered_today() -> bool:
        analytics.goto(today_url)
        return summary_value(analytics, "answered") > 0

    if open_page(analytics, today_url, "supervisor", problems):
        if not wait_until(answered_today, deadline, step_s=3.0):
            problems.append(
                f"{today_url} as supervisor: no answered call in the summary {LIVE_WITHIN_S:.0f} s after "
                f"the start (calls ended: {summary_value(analytics, 'calls')})"
            )
        elif analytics.locator("svg.chart rect.bar").count() == 0:
            problems.append(f"{today_url} as supervisor: the charts draw no bars")
        shoot(analytics, "supervisor-analytics")
    calls_today = summary_value(analytics, "calls")
    # The supervisor's other pages: topic trends and alerts, and the official report.
    for path, picture in (
        ("/content", "supervisor-content"),
        (f"/reports/official?period={today[:7]}", "supervisor-official-report"),  # this month
    ):
        if open_page(analytics, f"{demo.base}{path}", "supervisor", problems):
            shoot(analytics, picture)
    if open_page(analytics, f"{demo.base}/analytics", "supervisor", problems):
        if summary_value(analytics, "calls") == 0:
            problems.append(
                f"{demo.base}/analytics as supervisor: opened as the README says, it shows no call "
                f"(range {analytics.locator('h1').inner_text()!r}) while today's calls are in the data"
            )

    # An appeal record the demo's calls made, to look for after the restart.
    found = desk.request.get(f"{demo.base}/api/appeals?limit=5")
    items = found.json().get("items", []) if found.ok else []
    if not items:
        problems.append(f"{demo.base}/api/appeals as {agent}: no appeal record after the first run's calls")
    for context in (agent_context, supervisor_context, admin_context):
        context.close()
    return (str(items[0]["id"]) if items else None), calls_today


def calls_on(page: Page, demo: Demo, day: str) -> int:
    """Ended calls of ``day`` in the analytics summary."""
    page.goto(f"{demo.base}/analytics?from={day}&to={day}")
    return summary_value(page, "calls")


@pytest.mark.timeout(300)
def test_demo_walkthrough_every_page_every_role(demo_root: Path, browser: Browser) -> None:
    """A new user's walk through the demo: every role's pages live within a minute, Ctrl-C leaves
    nothing running, and a restart keeps the data and the printed logins."""
    problems: list[str] = []
    demo = start_demo(demo_root)
    try:
        first_logins = demo.logins()
        appeal_id, calls_today = walk_first_run(browser, demo, problems)
        today = dt.datetime.now(KYIV).date().isoformat()
        stop_demo(demo, problems)

        demo = start_demo(demo_root)
        if demo.logins() != first_logins:
            problems.append("restart: the printed logins or passwords changed")
        context, page = signed_in(browser, demo, "supervisor")
        if calls_on(page, demo, today) < calls_today:
            problems.append(f"restart: the analytics lost calls of {today} ({calls_today} before)")
        agent = next(login for login, (role, _) in sorted(demo.logins().items()) if role == "agent")
        agent_context, desk = signed_in(browser, demo, agent)
        if appeal_id is not None:
            again = desk.request.get(f"{demo.base}/api/appeals/{appeal_id}")
            if again.status != 200:
                problems.append(f"restart: appeal {appeal_id} of the first run answers {again.status}")
        context.close()
        agent_context.close()
        stop_demo(demo, problems)
    finally:
        kill_leftovers(demo)
    assert not problems, "\n".join(problems)
