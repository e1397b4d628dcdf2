"""The browser tests' app thread: it serves, runs coroutines on its own loop, and always cleans up."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.request

import pytest
from aiohttp import web

from tests.e2e.browser_support import AppThread


class Opened:
    """A resource the factory opens on the server's loop; remembers the loop and whether it was closed."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.closed = False

    async def close(self) -> None:
        self.closed = True


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="привіт")


def test_serves_the_app_and_runs_coroutines_on_the_loop_that_built_it() -> None:
    """The app answers at ``url``; ``run`` uses the factory's loop; ``stop`` closes what it opened."""

    async def build(stack: contextlib.AsyncExitStack) -> tuple[web.Application, Opened]:
        opened = Opened()
        stack.push_async_callback(opened.close)
        app = web.Application()
        app.router.add_get("/hello", hello)
        return app, opened

    async def running_loop() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    with AppThread(build) as server:
        with urllib.request.urlopen(f"{server.url}/hello", timeout=10) as response:
            assert response.read().decode() == "привіт"
        assert server.run(running_loop()) is server.handles.loop
        assert not server.handles.closed
    assert server.handles.closed
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{server.url}/hello", timeout=10)


def test_a_failed_build_is_raised_after_what_it_opened_is_closed() -> None:
    """A factory that fails halfway: start() raises its error, and the part it opened is closed."""
    opened: list[Opened] = []

    async def build(stack: contextlib.AsyncExitStack) -> tuple[web.Application, None]:
        opened.append(Opened())
        stack.push_async_callback(opened[0].close)
        raise LookupError("no such seed")

    with pytest.raises(LookupError, match="no such seed"), AppThread(build):
        pytest.fail("the body must not run when the build failed")
    assert opened and opened[0].closed


def test_a_failing_test_body_still_stops_the_app() -> None:
    """An assertion failing inside the ``with`` still closes the app's resources."""

    async def build(stack: contextlib.AsyncExitStack) -> tuple[web.Application, Opened]:
        opened = Opened()
        stack.push_async_callback(opened.close)
        return web.Application(), opened

    server = AppThread(build)
    with pytest.raises(AssertionError, match="the test's own"), server:
        raise AssertionError("the test's own failure")
    assert server.handles.closed
