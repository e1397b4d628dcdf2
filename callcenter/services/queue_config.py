"""``queue/*.yaml`` at run time: load, watch for edits, validate, apply without a restart.

``QueueConfigStore(folder, service)`` reads the four files the ACD loader needs
(``callcenter.acd.loader.ACD_FILES``), checks their modification times every ``poll_s`` seconds
and, when one changed, loads the whole set again. A set that loads is applied with
``AcdService.reconfigure`` (waiting callers keep their places, calls in progress finish); a set
that does not is refused with its ``file:line:column`` errors and the running configuration
keeps serving, so an admin's typo saved in an editor never takes the hotline down.

Admins can also change a file through the API (``put``): the new text is validated together
with the other files on disk before anything is written, then written atomically (a temporary
file renamed over the old one) and applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from callcenter.acd.loader import ACD_FILES, LoadedAcd, load_acd_config
from callcenter.errors import ConfigError, ValidationError
from callcenter.logs import get_logger

__all__ = ["QueueConfigStore", "read_acd_folder"]

log = get_logger(__name__)


def read_acd_folder(folder: Path) -> LoadedAcd:
    """Load ``folder``'s four ACD files (``ConfigError`` lists every problem, missing files too)."""
    texts = {
        str(folder / name): (folder / name).read_text("utf-8")
        for name in ACD_FILES
        if (folder / name).is_file()
    }
    return load_acd_config(texts)


class QueueConfigStore:
    """The ACD's configuration files and their application to a running service."""

    def __init__(
        self,
        folder: Path,
        apply: Callable[[LoadedAcd], None],
        *,
        poll_s: float = 2.0,
    ) -> None:
        """``apply`` is usually ``AcdService.reconfigure``."""
        self.folder = folder
        self.apply = apply
        self.poll_s = poll_s
        self.last_errors: list[str] = []
        self._mtimes = self._stat()
        self._task: asyncio.Task[None] | None = None

    # ---- reading ------------------------------------------------------------------------------

    def files(self) -> dict[str, str]:
        """Base name → text of every ACD file present."""
        return {
            name: (self.folder / name).read_text("utf-8")
            for name in ACD_FILES
            if (self.folder / name).is_file()
        }

    def load(self) -> LoadedAcd:
        """The configuration on disk now (``ConfigError`` if it does not validate)."""
        return read_acd_folder(self.folder)

    def _stat(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for name in ACD_FILES:
            with contextlib.suppress(OSError):
                out[name] = (self.folder / name).stat().st_mtime_ns
        return out

    # ---- changing -----------------------------------------------------------------------------

    def validate(self, name: str, text: str) -> LoadedAcd:
        """The configuration with ``name`` replaced by ``text``; ``ConfigError`` if it is invalid."""
        if name not in ACD_FILES:
            raise ValidationError(f"not a queue configuration file: {name!r}", field="file")
        texts = {str(self.folder / n): t for n, t in self.files().items()}
        texts[str(self.folder / name)] = text
        return load_acd_config(texts)

    def put(self, name: str, text: str) -> LoadedAcd:
        """Validate, write atomically and apply; nothing changes when the text is refused."""
        loaded = self.validate(name, text)
        target = self.folder / name
        tmp = target.with_name(f".{name}.tmp")
        tmp.write_text(text, "utf-8")
        os.replace(tmp, target)
        self.apply(loaded)
        self._mtimes = self._stat()
        self.last_errors = []
        log.info("queue_config_applied", file=name, source="api")
        return loaded

    def check(self) -> bool:
        """Reload when a file changed on disk; True if a new configuration was applied."""
        mtimes = self._stat()
        if mtimes == self._mtimes:
            return False
        self._mtimes = mtimes
        try:
            loaded = self.load()
        except ConfigError as exc:
            self.last_errors = list(exc.problems)
            log.error("queue_config_refused", problems=exc.problems)
            return False
        except OSError as exc:  # a file caught mid-rename: the next poll sees it whole
            log.warning("queue_config_unreadable", error=str(exc))
            self._mtimes = {}
            return False
        self.apply(loaded)
        self.last_errors = []
        log.info("queue_config_applied", source="file")
        return True

    # ---- watching -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start polling the folder."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch(), name="queue-config-watch")

    async def stop(self) -> None:
        """Stop polling."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> QueueConfigStore:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                self.check()
            except Exception:  # keep watching whatever one reload did
                log.exception("queue_config_reload_failed")
