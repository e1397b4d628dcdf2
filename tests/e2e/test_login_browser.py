"""The login page in a real browser (Debian's Chromium through Playwright) against `callcenter serve`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser_support import free_port
from tests.integration.test_auth_support import REPO_ROOT, run_cli, scratch_database

__all__ = ["scratch_database"]  # the fixture, imported for pytest to find

pytestmark = pytest.mark.browser

PASSWORD = "Київ-1545-гаряча"


@pytest.fixture
def server(scratch_database: str) -> Iterator[str]:
    """`callcenter serve` on a free port with one supervisor made by `callcenter users add`."""
    added = run_cli(
        "users", "add", "olena", "--role", "supervisor", "--name", "Олена Коваль",
        database_url=scratch_database, stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env.update(
        CALLCENTER_CONFIG="/dev/null",
        CALLCENTER_DATABASE_URL=scratch_database,
        CALLCENTER_AMI_ENABLED="false",
        CALLCENTER_HTTP_PORT=str(port),
        CALLCENTER_AGI_PORT=str(free_port()),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "callcenter.cli", "serve"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else "serve exited"
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    json.load(response)
                break
            except OSError:
                assert time.monotonic() < deadline, "no /healthz answer in time"
                time.sleep(0.1)
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def test_login_wrong_then_right_password_then_logout(server: str, page: Page) -> None:
    """A wrong password shows an error, the right one shows the user and role, logout signs out."""
    page.goto(f"{server}/account")
    expect(page).to_have_url(f"{server}/login?next=%2Faccount")
    expect(page.locator("html")).to_have_attribute("lang", "uk")
    expect(page.get_by_role("heading", name="Вхід до системи")).to_be_visible()

    page.get_by_label("Логін").fill("olena")
    page.get_by_label("Пароль").fill("не той пароль")
    page.get_by_role("button", name="Увійти").click()
    expect(page.get_by_role("alert")).to_have_text("Неправильний логін або пароль.")
    expect(page).to_have_url(f"{server}/login?next=%2Faccount")

    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Увійти").click()
    expect(page).to_have_url(f"{server}/account")
    expect(page.locator("#user-name")).to_have_text("Олена Коваль")
    expect(page.locator("#user-login")).to_have_text("olena")
    expect(page.locator("#user-role")).to_have_text("супервізор")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["cc_session"]["httpOnly"] and cookies["cc_session"]["sameSite"] == "Lax"

    page.get_by_role("button", name="Вийти").click()
    expect(page).to_have_url(f"{server}/login")
    page.goto(f"{server}/account")
    expect(page).to_have_url(f"{server}/login?next=%2Faccount")


def test_login_page_in_english(server: str, page: Page) -> None:
    """The language link switches the page to English, and the account page follows."""
    page.goto(f"{server}/login")
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_label("Login").fill("olena")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{server}/account")
    expect(page.locator("#user-role")).to_have_text("supervisor")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
