"""What the browser tests share: Debian's Chromium through Playwright, and the app on a thread.

Playwright's sync API owns the test thread's event loop, so a test that wants the app in its own
process (to seed it, publish on its bus, read PostgreSQL after a click) serves it from
:class:`AppThread`: a thread with an event loop of its own. The app is built by a coroutine
factory that runs *on that loop*, so the asyncpg pools it opens belong to the loop that serves the
requests, and everything the factory opens is registered on an ``AsyncExitStack`` that is closed
when the thread stops, whether the test passed, failed, or the build itself failed::

    async def build(stack: contextlib.AsyncExitStack) -> tuple[web.Application, Any]:
        pool = await open_pool(test_database, stack)
        await add_user(pool, "sup", Role.SUPERVISOR)
        return make_app(pool), pool

    with AppThread(build) as server:
        page.goto(f"{server.url}/login")
        server.run(server.handles.fetchval("SELECT count(*) FROM users"))
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from aiohttp import web
from playwright.sync_api import Page, expect, sync_playwright

from tests.integration.test_auth_support import PASSWORD

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

T = TypeVar("T")
H = TypeVar("H")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

#: Builds the app on the server's loop: returns it with whatever the test reaches into (pool,
#: bus, repository…), and registers on the stack what must be closed when the server stops.
AppFactory = Callable[[contextlib.AsyncExitStack], Awaitable[tuple[web.Application, H]]]


@contextlib.contextmanager
def chromium_page(*, extra_args: Sequence[str] = (), **context_options: Any) -> Iterator[Page]:
    """A fresh page in Debian's headless Chromium, closed with its browser afterwards.

    ``extra_args`` go to Chromium after the shared ones; ``context_options`` go to ``new_context``
    (viewport, locale…)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args], headless=True
        )
        try:
            context = browser.new_context(**context_options)
            yield context.new_page()
            context.close()
        finally:
            browser.close()


def sign_in(page: Page, url: str, login: str) -> None:
    """Open ``url``, sign in as ``login`` on the login form it sends to, and land back on ``url``."""
    page.goto(url)
    page.locator("#login").fill(login)
    page.locator("#password").fill(PASSWORD)
    page.locator("#submit").click()
    expect(page).to_have_url(url)


def free_port() -> int:
    """A local TCP port nothing listens on now (for a process the test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def open_pool(database: TestDatabase, stack: contextlib.AsyncExitStack, *, max_size: int = 5) -> Any:
    """A pool on the test module's schema, closed when ``stack`` is (after the app that uses it)."""
    pool = await database.pool(min_size=1, max_size=max_size)
    stack.push_async_callback(pool.close)
    return pool


class AppThread(Generic[H]):
    """An aiohttp app served on 127.0.0.1 from a thread with an event loop of its own.

    Use it as a context manager (or :meth:`start` then :meth:`stop`). :attr:`handles` is what the
    factory returned beside the app; :meth:`run` runs a coroutine on the server's loop.
    """

    def __init__(self, build: AppFactory[H], *, start_timeout_s: float = 30.0) -> None:
        self._build = build
        self._start_timeout_s = start_timeout_s
        # Made by start(), so that an AppThread never started leaves no loop unclosed.
        self._runner: asyncio.Runner
        self._loop: asyncio.AbstractEventLoop
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._serving = False
        self._task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._handles: H  # set by the build, before _serving
        self.port = 0

    @property
    def url(self) -> str:
        """The app's base address, ``http://127.0.0.1:<port>``."""
        assert self._serving, "the app is not being served"
        return f"http://127.0.0.1:{self.port}"

    @property
    def handles(self) -> H:
        """What the factory returned beside the app."""
        assert self._serving, "the app is not being served"
        return self._handles

    def start(self) -> None:
        """Build and serve the app; raise what the build raised, after its resources are closed."""
        assert self._thread is None, "an AppThread starts once"
        # A loop factory of its own: asyncio.Runner's default would make the new loop the current
        # one of the test thread, where Playwright's sync API keeps its own.
        self._runner = asyncio.Runner(loop_factory=asyncio.new_event_loop)
        self._loop = self._runner.get_loop()
        self._thread = threading.Thread(target=self._serve, name="e2e-app", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._start_timeout_s):
            self.stop()
            raise AssertionError(f"the app did not start within {self._start_timeout_s} s")
        if not self._serving:
            self._thread.join()
            assert self._failure is not None
            raise self._failure

    def stop(self) -> None:
        """Stop serving and close what the factory opened; raise what the closing raised."""
        if self._thread is not None and self._thread.is_alive():
            # The loop closes as the thread ends; if that was just now, there is nothing to stop.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop_soon)
            self._thread.join(30)
            assert not self._thread.is_alive(), "the app thread did not stop"
        if self._failure is not None:
            raise self._failure

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start ``coroutine`` on the server's loop; its result comes in the returned future."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float = 60.0) -> T:
        """Run ``coroutine`` on the server's loop and return its result (cancelled if it hangs)."""
        future = self.submit(coroutine)
        try:
            return future.result(timeout_s)
        except TimeoutError:
            future.cancel()
            raise

    def call_soon(self, callback: Callable[..., object], *args: object) -> None:
        """Call ``callback(*args)`` on the server's loop (a bus's ``publish``, an ACD command…)."""
        self._loop.call_soon_threadsafe(callback, *args)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _serve(self) -> None:
        with self._runner:
            self._runner.run(self._main())

    def _stop_soon(self) -> None:
        """On the server's loop: end the serving, or cancel a build that never finished."""
        if self._stopping is not None:
            self._stopping.set()
        elif self._task is not None:
            self._task.cancel()

    async def _main(self) -> None:
        self._task = asyncio.current_task()
        try:
            async with contextlib.AsyncExitStack() as stack:
                app, self._handles = await self._build(stack)
                runner = web.AppRunner(app)
                await runner.setup()
                stack.push_async_callback(runner.cleanup)
                # Port 0: the system picks a free one, so no other process can take it meanwhile.
                site = web.TCPSite(runner, "127.0.0.1", 0)
                await site.start()
                self.port = runner.addresses[0][1]
                self._stopping = asyncio.Event()
                self._serving = True
                self._ready.set()
                await self._stopping.wait()
        except asyncio.CancelledError:
            pass  # stop() cancelled a build that hung; start() has already said so
        except BaseException as exc:  # handed to the test thread by start() or stop()
            self._failure = exc
        finally:
            self._ready.set()
